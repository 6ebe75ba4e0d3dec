"""`verdicts warc import`: captures from our own export, from wget and hand-made WARC / ARC
files become snapshots at their capture dates, parsed as the crawler parses."""

from __future__ import annotations

import gzip
import io
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.cli import cli
from crawler.demo import DEMO_SITE
from crawler.static_server import StaticServer
from db.snapshots import read_snapshot
from db.warc.export import export_warc
from tests.chromium import required
from tests.test_warc_export import changed_page, crawl_into
from tests.warc_compare import facts


def run_import(db_path: Path, *files: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["warc", "import", *map(str, files), "--db", str(db_path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def count(db_path: Path, sql: str) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def crawled(tmp_path: Path, site_dir: Path) -> tuple[Path, Path, str]:
    """An archive of two crawls of the bundled site (one page changed between them), and
    its export."""
    db_path = tmp_path / "crawled.db"
    page = changed_page(site_dir)
    with StaticServer(site_dir) as server:
        crawl_into(server.origin, db_path)
        page.write_text(page.read_text("utf-8").replace("$12/user/mo", "$19/user/mo"), "utf-8")
        crawl_into(server.origin, db_path)
        url = f"{server.origin}/compare/{page.parent.name}/"
    output = tmp_path / "crawled.warc.gz"
    export_warc(db_path, output)
    return db_path, output, url


def test_export_round_trips_into_an_empty_archive_and_twice_adds_nothing(
    crawled: tuple[Path, Path, str], tmp_path: Path
) -> None:
    source, warc, url = crawled
    target = tmp_path / "imported.db"
    code, output = run_import(target, warc)
    assert code == 0, output
    assert facts(target) == facts(source)  # comparisons, tools, verdicts, appearances, listings
    assert read_snapshot(target, url) == read_snapshot(source, url)
    assert re.search(r"comparisons new (\d+)", output).group(1) == str(
        count(source, "SELECT count(*) FROM comparisons")
    )
    snapshots = count(target, "SELECT count(*) FROM snapshots")
    code, again = run_import(target, warc)
    assert code == 0
    assert "snapshots new 0" in again and "comparisons new 0" in again and "already in the archive" in again
    assert count(target, "SELECT count(*) FROM snapshots") == snapshots
    assert facts(target) == facts(source)


def test_a_truncated_file_imports_what_was_read_names_the_offset_and_fails(
    crawled: tuple[Path, Path, str], tmp_path: Path
) -> None:
    _, warc, _ = crawled
    data = warc.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: len(data) // 2])
    target = tmp_path / "partial.db"
    code, output = run_import(target, cut)
    assert code != 0
    match = re.search(r"cut\.warc\.gz: unreadable from byte offset (\d+)", output)
    assert match, output
    assert 0 < int(match.group(1)) < len(data) // 2
    assert count(target, "SELECT count(*) FROM snapshots") > 0
    # The offset is where a whole record starts: the records before it are all there.
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(data[: int(match.group(1))])
    check = tmp_path / "check.db"
    assert run_import(check, whole)[0] == 0
    assert facts(check) == facts(target)


def capture(writer: WARCWriter, url: str, when: str, body: bytes) -> None:
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
    record = writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=http,
        warc_headers_dict={"WARC-Date": when},
    )
    writer.write_record(record)


def test_two_captures_months_apart_give_the_price_history_and_backfill_a_newer_archive(
    crawled: tuple[Path, Path, str], tmp_path: Path
) -> None:
    source, _, url = crawled
    path = sorted((DEMO_SITE / "compare").iterdir())[0] / "index.html"
    old = path.read_bytes()
    new = old.replace(b"$12/user/mo", b"$15/user/mo")
    warc = tmp_path / "history.warc.gz"
    with warc.open("wb") as fh:  # written newest first: the import orders them by date
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        capture(writer, url, "2026-05-20T09:00:00Z", new)
        capture(writer, url, "2026-01-15T09:00:00Z", old)
    fresh = tmp_path / "fresh.db"
    assert run_import(fresh, warc)[0] == 0
    conn = sqlite3.connect(fresh)
    rows = conn.execute(
        "SELECT entry_price, previous_entry_price, first_seen FROM price_changes "
        "WHERE entry_price LIKE '$15%'"
    ).fetchall()
    first_seen = conn.execute("SELECT first_seen, last_seen FROM comparisons").fetchone()
    conn.close()
    assert rows == [("$15/user/mo", "$12/user/mo", "2026-05-20T09:00:00.000000+00:00")]
    assert first_seen == ("2026-01-15T09:00:00.000000+00:00", "2026-05-20T09:00:00.000000+00:00")

    # Into the crawled archive (captures older than its first crawl): history back-filled,
    # the current state (the newer crawl's $19) kept.
    before = facts(source)
    code, output = run_import(source, warc)
    assert code == 0 and "back-filled 1" in output, output
    conn = sqlite3.connect(source)
    first, sha = conn.execute(
        "SELECT c.first_seen, s.body_sha256 FROM comparisons AS c "
        "JOIN snapshots AS s ON s.id = c.snapshot_id "
        "WHERE c.url = ?",
        [url],
    ).fetchone()
    changes = conn.execute(
        "SELECT entry_price, previous_entry_price FROM price_changes WHERE url = ? ORDER BY first_seen", [url]
    ).fetchall()
    conn.close()
    assert first == "2026-01-15T09:00:00.000000+00:00"
    assert changes == [("$12/user/mo", None), ("$15/user/mo", "$12/user/mo"), ("$19/user/mo", "$15/user/mo")]
    assert b"$19/user/mo" in read_body_of(source, sha)  # the current state is still the newest crawl's
    assert b"$19/user/mo" in read_snapshot(source, url)
    assert read_snapshot(source, url, at="2026-02-01") == old
    assert read_snapshot(source, url, at="2026-06-01") == new
    assert len(facts(source)["comparisons"]) == len(before["comparisons"])


def read_body_of(db_path: Path, sha: str) -> bytes:
    from db.snapshots import read_body

    conn = sqlite3.connect(db_path)
    try:
        return read_body(conn, sha)
    finally:
        conn.close()


ARC_HEAD = "filedesc://{name} 0.0.0.0 20260115090000 text/plain {length}\n"


def arc_file(url: str, body: bytes, name: str) -> bytes:
    """A version-1 ARC file with one capture (the format of the Internet Archive's early crawls)."""
    desc = b"1 0 verdicts-test\nURL IP-address Archive-date Content-type Archive-length\n"
    http = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    first = ARC_HEAD.format(name=name, length=len(desc)).encode() + desc + b"\n"
    record = f"{url} 127.0.0.1 20260115090000 text/html {len(http)}\n".encode() + http + b"\n"
    return first + record


def test_arc_and_whole_file_gzip_read_like_per_record_warc(tmp_path: Path) -> None:
    path = sorted((DEMO_SITE / "compare").iterdir())[0] / "index.html"
    body = path.read_bytes()
    url = "http://arc.test/compare/" + path.parent.name + "/"
    arc = tmp_path / "old.arc.gz"
    arc.write_bytes(gzip.compress(arc_file(url, body, arc.name)))  # one gzip member for all
    plain = tmp_path / "plain.warc"
    with plain.open("wb") as fh:
        capture(
            WARCWriter(fh, gzip=False, warc_version="1.1"),
            url.replace("arc.test", "warc.test"),
            "2026-01-15T09:00:00Z",
            body,
        )
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(plain.read_bytes()))
    target = tmp_path / "arc.db"
    code, output = run_import(target, arc, whole)
    assert code == 0, output
    assert read_snapshot(target, url) == body
    assert count(target, "SELECT count(*) FROM comparisons") == 2
    assert count(target, "SELECT count(DISTINCT first_seen) FROM comparisons") == 1


def plain_warc(path: Path, captures: list[tuple[str, str]]) -> dict[str, bytes]:
    """An uncompressed WARC at `path` of bundled comparison pages, as (url, time) pairs;
    returns each URL's body."""
    pages = sorted((DEMO_SITE / "compare").iterdir())
    bodies = {}
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=False, warc_version="1.1")
        for (url, when), page in zip(captures, pages, strict=False):
            bodies[url] = (page / "index.html").read_bytes()
            capture(writer, url, when, bodies[url])
    return bodies


def test_an_uncompressed_warc_imports_to_its_end(tmp_path: Path) -> None:
    captures = [(f"http://warc.test/compare/{n}/", f"2026-01-1{n}T09:00:00Z") for n in (1, 2)]
    bodies = plain_warc(tmp_path / "plain.warc", captures)
    target = tmp_path / "plain.db"
    code, output = run_import(target, tmp_path / "plain.warc")
    assert code == 0, output
    assert {url: read_snapshot(target, url) for url in bodies} == bodies


def test_a_parser_crash_is_recorded_on_the_snapshot_and_the_import_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import parsers

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr(parsers, "parse_page", crash)
    url = "http://warc.test/compare/one/"
    bodies = plain_warc(tmp_path / "one.warc", [(url, "2026-01-15T09:00:00Z")])
    target = tmp_path / "crashed.db"
    code, output = run_import(target, tmp_path / "one.warc")
    assert code == 0, output
    assert read_snapshot(target, url) == bodies[url]
    conn = sqlite3.connect(target)
    try:
        status, problems = conn.execute("SELECT parse_status, parse_problems FROM snapshots").fetchone()
    finally:
        conn.close()
    assert status == "error"
    assert "RuntimeError: kaput" in problems


def test_a_wget_warc_of_the_bundled_site_imports_as_crawling_it(tmp_path: Path, site_dir: Path) -> None:
    wget = shutil.which("wget")
    if wget is None:
        if required():
            pytest.fail("wget is required in CI (.ci/run installs Debian's wget)")
        pytest.skip("wget is not installed")
    crawled = tmp_path / "crawled.db"
    with StaticServer(site_dir) as server:
        crawl_into(server.origin, crawled)
        # wget follows links, not sitemaps: give it the sitemap's URLs too, as the crawler reads them
        sitemap = httpx.get(f"{server.origin}/sitemap.xml", trust_env=False).text
        urls = [server.origin + "/", *re.findall(r"<loc>([^<]+)</loc>", sitemap)]
        work = tmp_path / "wget"
        work.mkdir()
        done = subprocess.run(
            [
                wget,
                "--recursive",
                "--level=inf",
                "--no-verbose",
                "--warc-file=site",
                "--no-warc-keep-log",
                "--delete-after",
                "--no-host-directories",
                "--tries=1",
                *urls,
            ],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode in (0, 8), done.stderr  # 8: the site's deliberate 404 links
    imported = tmp_path / "imported.db"
    code, output = run_import(imported, work / "site.warc.gz")
    assert code == 0, output
    assert facts(imported, times=False) == facts(crawled, times=False)
    assert count(imported, "SELECT count(*) FROM comparisons") > 30


def test_bad_input_gets_one_clear_sentence(tmp_path: Path) -> None:
    from db.lock import ArchiveLock

    text = tmp_path / "notes.warc.gz"
    text.write_text("not a web archive\n")
    db_path = tmp_path / "a.db"
    code, output = run_import(db_path, text)
    assert code == 1 and "notes.warc.gz: unreadable from byte offset 0" in output
    assert "Traceback" not in output
    with ArchiveLock(db_path):
        result = CliRunner().invoke(
            cli, ["warc", "import", str(text), "--db", str(db_path), "--lock-timeout", "0"]
        )
    assert result.exit_code == 1 and "another crawl is running" in result.output
    result = CliRunner().invoke(
        cli, ["warc", "export", "--db", str(db_path), "--output", str(tmp_path / "no" / "x.warc.gz")]
    )
    assert result.exit_code == 1 and "does not exist" in result.output
    output = str(tmp_path / "x.warc.gz")
    result = CliRunner().invoke(
        cli, ["warc", "export", "--db", str(db_path), "-o", output, "--since", "soon"]
    )
    assert result.exit_code == 1 and "--since 'soon' is not an ISO 8601 time" in result.output
