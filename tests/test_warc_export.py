"""`verdicts warc export`: real crawls over loopback, a real archive, the WARC checked by
warcio and every payload compared with `verdicts snapshot`."""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from crawler.cli import cli
from crawler.config import Settings, Site
from crawler.engine import crawl
from crawler.static_server import StaticServer
from db.archive import open_archive
from db.fetch_log import FetchLog, rebuild, refs_for
from db.snapshots import read_snapshot
from db.store import ArchiveWriter
from db.warc.export import export_warc, warc_date
from tests.archive_factory import at, comparison, fetched


def crawl_into(origin: str, db_path: Path) -> None:
    site = Site(name="fixture", start_urls=(f"{origin}/",))
    report = crawl(Settings(db_path=db_path, sites=(site,), delay=0.0))
    assert report.status == "completed", report.reasons


def records(path: Path) -> list:
    """(WARC headers, HTTP headers, payload) of every record."""
    out = []
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh):
            out.append((record.rec_headers, record.http_headers, record.content_stream().read()))
    return out


def warcio_check(path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def changed_page(site_dir: Path) -> Path:
    page = sorted((site_dir / "compare").iterdir())[0] / "index.html"
    assert "$12/user/mo" in page.read_text("utf-8")
    return page


def test_export_of_two_crawls_checks_and_matches_the_snapshots(
    server: StaticServer, site_dir: Path, archive_path: Path, tmp_path: Path
) -> None:
    crawl_into(server.origin, archive_path)
    page = changed_page(site_dir)
    page.write_text(page.read_text("utf-8").replace("$12/user/mo", "$19/user/mo"), "utf-8")
    crawl_into(server.origin, archive_path)
    output = tmp_path / "out.warc.gz"
    result = CliRunner().invoke(cli, ["warc", "export", "--db", str(archive_path), "--output", str(output)])
    assert result.exit_code == 0, result.output
    warcio_check(output)
    assert (tmp_path / "out.cdxj").read_text().count("\n") > 0

    conn = sqlite3.connect(archive_path)
    fetches = conn.execute("SELECT count(*) FROM fetch_log").fetchone()[0]
    snapshots = conn.execute("SELECT count(*) FROM snapshots").fetchone()[0]
    conn.close()
    found = records(output)
    assert found[0][0].get_header("WARC-Type") == "warcinfo"
    by_id = {rec.get_header("WARC-Record-ID"): (rec, http, body) for rec, http, body in found}
    kinds = [rec.get_header("WARC-Type") for rec, _, _ in found[1:]]
    assert kinds.count("request") == fetches == kinds.count("response") + kinds.count("revisit")
    assert kinds.count("response") == snapshots  # one per stored body; the rest revisit it
    for rec, http, body in found[1:]:
        for name in ("WARC-Date", "WARC-Target-URI", "WARC-Block-Digest"):
            assert rec.get_header(name), name
        kind = rec.get_header("WARC-Type")
        if kind == "request":
            pair = by_id[rec.get_header("WARC-Concurrent-To")][0]
            assert pair.get_header("WARC-Date") == rec.get_header("WARC-Date")
            assert http.protocol == "GET" and http.get_header("User-Agent")
            continue
        url, date = rec.get_header("WARC-Target-URI"), rec.get_header("WARC-Date")
        assert rec.get_header("WARC-IP-Address") == "127.0.0.1"
        assert rec.get_header("WARC-Payload-Digest").startswith("sha1:")
        if kind == "response":
            assert http.get_statuscode() == "200"
            assert body == read_snapshot(archive_path, url, at=date)  # byte for byte
            assert http.get_header("Content-Length") == str(len(body))
        else:
            assert rec.get_header("WARC-Profile").endswith("/warc/1.1/revisit/identical-payload-digest")
            original = by_id_of(found, rec.get_header("WARC-Refers-To-Target-URI"), rec)
            assert original.get_header("WARC-Payload-Digest") == rec.get_header("WARC-Payload-Digest")
            assert http.get_statuscode() == "200"  # the stored 200 headers, not the 304's
    # the changed page: a second response at the second crawl's time, with the new price
    url = f"{server.origin}/compare/{page.parent.name}/"
    responses = [
        (r, b)
        for r, _, b in found
        if r.get_header("WARC-Type") == "response" and r.get_header("WARC-Target-URI") == url
    ]
    assert [b"$19/user/mo" in b for _, b in responses] == [False, True]
    snapshot = CliRunner().invoke(cli, ["snapshot", url, "--db", str(archive_path)])
    assert snapshot.stdout_bytes == responses[1][1]


def by_id_of(found: list, url: str, revisit: object) -> object:
    """The response a revisit refers to (same URI and date)."""
    date = revisit.get_header("WARC-Refers-To-Date")  # type: ignore[attr-defined]
    matches = [
        rec
        for rec, _, _ in found
        if rec.get_header("WARC-Type") == "response"
        and rec.get_header("WARC-Target-URI") == url
        and rec.get_header("WARC-Date") == date
    ]
    assert len(matches) == 1
    return matches[0]


def test_snapshots_from_before_the_fetch_log_export_with_marked_synthesised_heads(
    archive_path: Path, tmp_path: Path
) -> None:
    url = "https://example.test/compare/alpha-vs-beta"
    db = open_archive(archive_path)
    ArchiveWriter(db, None).store([(fetched(url, "<html>v1</html>", at(1), etag='"v1"'), comparison())])
    db.close()
    output = tmp_path / "old.warc.gz"
    report = export_warc(archive_path, output)
    assert (report.responses, report.synthesised) == (1, 1)
    warcio_check(output)
    (_, _, _), (response, http, body), (request, req_http, _) = records(output)
    assert response.get_header("WARC-Verdicts-Heads") == "synthesised"
    assert response.get_header("WARC-Date") == warc_date(at(1)) == "2026-11-01T12:00:00.000000Z"
    assert body == b"<html>v1</html>"
    assert http.get_header("ETag") == '"v1"' and http.get_header("Content-Length") == str(len(body))
    assert request.get_header("WARC-Concurrent-To") == response.get_header("WARC-Record-ID")
    assert req_http.get_header("Host") == "example.test"


GZIPPED = b"<html><body><h1>Alpha and Beta</h1>" + b"<p>padding</p>" * 200 + b"</body></html>"


@pytest.fixture
def gzip_origin() -> Iterator[str]:
    """An aiohttp server that sends its page gzip-encoded and chunked."""
    import asyncio

    from aiohttp import web

    async def page(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        data = gzip.compress(GZIPPED)
        await response.write(data[:100])
        await response.write(data[100:])
        await response.write_eof()
        return response

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n")

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_gzipped_chunked_response_exports_headers_that_match_the_stored_payload(
    gzip_origin: str, archive_path: Path, tmp_path: Path
) -> None:
    crawl_into(gzip_origin, archive_path)
    conn = sqlite3.connect(archive_path)
    template = conn.execute("SELECT response FROM fetch_heads").fetchone()[0]
    conn.close()
    assert "Content-Encoding: gzip" in template and "Transfer-Encoding: chunked" in template  # as received
    output = tmp_path / "gz.warc.gz"
    export_warc(archive_path, output)
    warcio_check(output)
    responses = [(r, h, b) for r, h, b in records(output) if r.get_header("WARC-Type") == "response"]
    assert responses
    for rec, http, body in responses:
        assert body == GZIPPED
        assert http.get_header("Content-Encoding") is None and http.get_header("Transfer-Encoding") is None
        assert http.get_header("Content-Length") == str(len(GZIPPED))
        assert "Content-Encoding gzip removed" in rec.get_header("WARC-Verdicts-Payload")


def test_fetch_log_rebuilds_heads_byte_for_byte(archive_path: Path) -> None:
    from crawler.exchange import Exchange

    db = open_archive(archive_path)
    ArchiveWriter(db, None).store([(fetched("https://e.test/a", "<p>a</p>", at(1), etag='"x"'), None)])
    request = (
        b'GET /a HTTP/1.1\r\nHost: e.test\r\nIf-None-Match: "x"\r\n'
        b"If-Modified-Since: Sun, 01 Nov 2026 11:00:00 GMT"
    )
    response = (
        b'HTTP/1.1 304 Not Modified\r\nDate: Sun, 01 Nov 2026 12:00:00 GMT\r\nETag:  "x"\r\n'
        b"Server: test\r\nSet-Cookie: a=b\nc\r\nX-Odd: \x01e"
    )
    log = FetchLog(db.conn)
    row = log.row(None, 1, "https://e.test/a", '"x"', None, 8, at(1), 304, Exchange(request, response, "::1"))
    template = db.execute(
        "SELECT request, response, remote_ip FROM fetch_heads WHERE id = ?", [row[4]]
    ).fetchone()
    db.close()
    assert "12:00:00" not in template[1] and "test" in template[1]  # the date went to the values
    refs = refs_for(at(1), "https://e.test/a", '"x"', None, 8)
    assert rebuild(template[0], template[1], template[2], row[5], refs) == (request, response, "::1")
