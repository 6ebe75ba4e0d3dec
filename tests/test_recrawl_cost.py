"""What an unchanged re-crawl leans on, kept cheap without changing what it asks or stores.

Issue 8 wants a re-crawl of 304s at a quarter of a bare fetch loop's CPU, so the crawl
reads validators a window at a time, seeds archived pages by host, pickles its results
as plain tuples and defers aiohttp's CA loading. These tests pin down that each shortcut
gives exactly what the plain way gives; the CPU itself is measured in bench/crawl.py.
"""

from __future__ import annotations

import json
import pickle
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from crawler import revisits
from crawler.engine import WriterProcess
from crawler.results import FetchResult
from crawler.revisits import Validators, known_pages
from crawler.urls import Scope
from db.archive import open_archive
from db.frontier import Entry

ONE_BY_ONE = (
    "SELECT etag, last_modified FROM pages WHERE url = ? AND status = 'ok' "
    "AND (etag IS NOT NULL OR last_modified IS NOT NULL)"
)


def _page(url: str, status: str, etag: str | None, modified: str | None) -> tuple[object, ...]:
    host = url.split("/")[2].split(":")[0]
    return (f"id-{url}", url, host, "2026-01-01", "2026-01-01", status, etag, modified)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """An archive whose pages mix statuses, validators and hosts (700 pages: several windows)."""
    path = tmp_path / "archive.db"
    open_archive(path).close()
    rng = random.Random(8)
    rows = []
    for n in range(700):
        host = rng.choice(["site.test", "site.test", "www.site.test", "other.test"])
        url = f"http://{host}/compare/{n:04d}-{rng.choice('abc')}/"
        status = rng.choice(["ok", "ok", "ok", "gone", "failed"])
        etag = rng.choice([None, f'"e{n}"'])
        modified = rng.choice([None, f"Mon, 0{n % 9 + 1} Jan 2026 00:00:00 GMT"])
        rows.append(_page(url, status, etag, modified))
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO pages (id, url, host, first_seen, last_seen, status, etag, last_modified) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.close()
    return path


def _expected(path: Path, urls: list[str]) -> dict[str, tuple[str | None, str | None]]:
    conn = sqlite3.connect(path)
    try:
        return {url: (conn.execute(ONE_BY_ONE, (url,)).fetchall() or [(None, None)])[0] for url in urls}
    finally:
        conn.close()


def _asked(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        archived = [url for (url,) in conn.execute("SELECT url FROM pages")]
    finally:
        conn.close()
    absent = ["http://site.test/", "http://site.test/zzz/", "http://aaa.test/", archived[3] + "x"]
    return archived + absent


@pytest.mark.parametrize("order", ["sorted", "shuffled", "descending", "sorted twice"])
def test_validators_match_one_query_per_url(archive: Path, order: str) -> None:
    urls = _asked(archive)
    expected = _expected(archive, urls)
    assert sum(v != (None, None) for v in expected.values()) > 100  # the fixture has both kinds
    if order == "shuffled":
        random.Random(1).shuffle(urls)
    else:
        urls.sort(reverse=order == "descending")
        if order == "sorted twice":  # a second pass starts below the window it left
            urls += urls
    validators = Validators(archive)
    try:
        got = [(url, validators.get(url)) for url in urls]
    finally:
        validators.close()
    assert got == [(url, expected[url]) for url in urls]


def test_validators_of_an_archive_without_pages(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    validators = Validators(tmp_path / "empty.db")
    assert validators.get("http://site.test/") == (None, None)
    validators.close()


def _allowed_one_by_one(path: Path, scope: Scope) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT url FROM pages WHERE status != 'gone' ORDER BY url")
        return [url for (url,) in rows if scope.allows(url)]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("hosts", "include", "exclude"),
    [
        (["site.test"], [], []),
        ([".site.test"], [], []),
        (["site.test", "other.test"], [r"/compare/0[0-3]"], [r"-b/$"]),
        (["nowhere.test"], [], []),
    ],
)
@pytest.mark.parametrize("chunk", [1000, 64])
def test_known_pages_equal_judging_every_url(
    archive: Path,
    hosts: list[str],
    include: list[str],
    exclude: list[str],
    chunk: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(revisits, "KNOWN_CHUNK", chunk)  # 64: read in many keyset chunks
    scope = Scope(hosts, include, exclude)
    db = open_archive(archive)
    try:
        got = list(known_pages(db, scope, patterns=bool(include or exclude)))
    finally:
        db.close()
    assert got == _allowed_one_by_one(archive, scope)
    assert list(known_pages(archive, scope, patterns=bool(include or exclude))) == got  # by path
    if hosts != ["nowhere.test"]:
        assert got


def test_fetch_results_and_entries_survive_the_pipe() -> None:
    result = FetchResult(
        url="http://site.test/a/", final_url="http://site.test/b/", outcome="fetched",
        http_status=200, content_type="text/html", etag='"x"', last_modified=None,
        body=b"<p>hi</p>", text=None, encoding="utf-8", kind="html",
        fetched_at="2026-01-01T00:00:00+00:00", error=None, attempts=3,
    )  # fmt: skip
    entries = [Entry("http://site.test/a/"), Entry("http://site.test/s.xml", 2, "sitemap")]
    items = [("result", result, entries, True), ("add", entries)]
    back = pickle.loads(pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == items
    assert back[0][1].attempts == 3 and back[1][1][1].kind == "sitemap"
    assert type(back[0][1]) is FetchResult and type(back[1][1][0]) is Entry


def test_the_writer_starts_without_site_but_with_this_project_first() -> None:
    class Pipe:
        def fileno(self) -> int:
            return 0

    calls: list[list[str]] = []

    class Popen:
        def __init__(self, args: list[str], pass_fds: tuple[int, ...]) -> None:
            calls.append(args)
            self.pid = 1

    original = subprocess.Popen
    subprocess.Popen = Popen  # type: ignore[misc,assignment]
    try:
        WriterProcess(Pipe(), "archive.db", 7)  # type: ignore[arg-type]
    finally:
        subprocess.Popen = original  # type: ignore[misc]
    args = calls[0]
    assert args[:3] == [sys.executable, "-S", "-c"]
    path = json.loads(args[4])
    assert path[0] == str(Path(__file__).resolve().parent.parent)
    assert args[5:] == ["0", "archive.db", "7", "normal"]
