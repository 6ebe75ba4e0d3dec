"""A crawl stopped while a page renders closes that page at once and leaves it for the next crawl.

A rendered page may keep the network busy for long (here: a script waiting on a request the
server does not finish until told to), and the browser fetch waits up to its load and idle bounds
(crawler/render.py). A crawl stopped meanwhile, by SIGINT or by --max-pages, must not wait
for it nor store the half-built DOM: the page is closed unfinished, is not stored, and
the next crawl (which resumes the stopped one) fetches and renders it whole. The real
command runs in a child process against a real loopback server, with real Chromium.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.snapshots import read_body
from tests.chromium import require_chromium
from tests.fault_server import FaultServer, Reply
from tests.loopback import stop

pytestmark = pytest.mark.browser

require_chromium()

#: Asks /wait, which the server answers only once told to (until then the request hangs and
#: the network never idles), and writes what it got: the render cannot finish before that.
WAIT = """<script>
fetch("/wait").then(function (r) { return r.text(); }).then(function (text) {
  var marker = document.createElement("p");
  marker.id = "finished";
  marker.textContent = text;
  document.body.appendChild(marker);
});
</script>"""
#: Keeps its page loading about a second (five requests 200 ms apart), then is done.
A_WHILE = """<script>
(function step(n) {
  if (n > 0) fetch("/robots.txt").then(function () { setTimeout(function () { step(n - 1); }, 200); });
})(5);
</script>"""
#: Seconds the child may take at most: a hang guard, never a speed assert.
HANG_GUARD = 180


def page(body: str) -> Reply:
    head = '<meta charset="utf-8"><title>a page</title>'
    html = f'<!DOCTYPE html>\n<html lang="en"><head>{head}</head>\n<body>{body}</body></html>\n'
    return Reply(body=html.encode())


class Site:
    """/ links to /slow/ (not done before `answer` is set) and /next/, which links on."""

    def __init__(self, server: FaultServer) -> None:
        self.server = server
        self.origin = server.origin
        self.answer = threading.Event()
        server.route("/robots.txt", Reply(body=b"User-agent: *\nAllow: /\n", content_type="text/plain"))
        server.route("/", page('<a href="/slow/">slow</a> <a href="/next/">next</a>'))
        server.route("/slow/", page("<p>waiting</p>" + WAIT))
        server.route("/wait", self._wait)
        server.route("/next/", page('<a href="/a/">a</a> <a href="/b/">b</a>' + A_WHILE))
        server.route("/a/", page("<p>a</p>"))
        server.route("/b/", page("<p>b</p>"))

    def _wait(self, headers: dict[str, str]) -> Reply:
        if self.answer.is_set():
            return Reply(body=b"rendered to the end", content_type="text/plain")
        return Reply(trickle=0.2, content_length=1000, content_type="text/plain")  # never done

    def paths(self, since: int = 0) -> list[str]:
        return self.server.paths()[since:]


@pytest.fixture
def site() -> Iterator[Site]:
    with FaultServer() as server:
        yield Site(server)


def crawl(db_path: Path, origin: str, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "crawler.cli", "crawl", origin + "/", "--db", str(db_path)]
    command += ["--delay", "0", "--render", "browser", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        output, _ = proc.communicate(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise AssertionError(f"the crawl did not end within {HANG_GUARD} s") from None
    return proc.returncode, output


def wait_for(site: Site, path: str, proc: subprocess.Popen[str]) -> None:
    """Until the server has been asked for `path` (the render is under way)."""
    deadline = time.monotonic() + HANG_GUARD
    while path not in site.paths():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, f"{path} was never asked for"
        time.sleep(0.05)


def rendered_of(db_path: Path, url: str) -> list[str]:
    """The rendered HTML of each snapshot of `url`."""
    db = sqlite3.connect(db_path)
    try:
        rows = db.execute("SELECT rendered_sha256 FROM snapshots WHERE url = ?", [url]).fetchall()
        return [read_body(db, sha).decode("utf-8") for (sha,) in rows]
    finally:
        db.close()


def statuses(db_path: Path) -> list[str]:
    db = sqlite3.connect(db_path)
    try:
        return [row[0] for row in db.execute("SELECT status FROM crawls ORDER BY id")]
    finally:
        db.close()


def resume_renders_the_page(db_path: Path, site: Site) -> None:
    """/wait now answers: the next crawl resumes and renders /slow/ to the end."""
    site.answer.set()
    before = len(site.paths())
    code, output = finish(crawl(db_path, site.origin))
    assert code == 0, output
    assert site.paths(before).count("/slow/") == 1
    (html,) = rendered_of(db_path, site.origin + "/slow/")
    assert '<p id="finished">rendered to the end</p>' in html, html


def test_sigint_during_a_render_closes_the_page_and_resume_renders_it(tmp_path: Path, site: Site) -> None:
    db_path = tmp_path / "archive.db"
    proc = crawl(db_path, site.origin)
    wait_for(site, "/wait", proc)  # /slow/ is rendering, and cannot finish
    proc.send_signal(signal.SIGINT)
    code, output = finish(proc)
    assert code == 130, output  # the documented exit code of a stopped crawl
    assert "left for the next crawl by the stop" in output, output
    assert rendered_of(db_path, site.origin + "/slow/") == []  # nothing half-rendered stored
    assert statuses(db_path) == ["interrupted"]
    resume_renders_the_page(db_path, site)
    assert statuses(db_path) == ["interrupted", "completed"]


def test_max_pages_reached_during_a_render_closes_the_page_and_resume_renders_it(
    tmp_path: Path, site: Site
) -> None:
    db_path = tmp_path / "archive.db"
    # /, /sitemap.xml, /slow/ and /next/; taking /a/ (found once /next/ is rendered) stops it
    code, output = finish(crawl(db_path, site.origin, "--max-pages", "4"))
    assert code == 0, output
    asked = site.paths()
    assert "/wait" in asked and "/a/" not in asked, asked  # stopped while /slow/ rendered
    assert "left for the next crawl by the stop" in output, output
    assert rendered_of(db_path, site.origin + "/slow/") == []
    resume_renders_the_page(db_path, site)
