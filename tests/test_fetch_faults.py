"""The Fetcher against a real loopback server that misbehaves on purpose (no mocks).

Each test proves a behaviour from the server's side too: what it was asked, how often, and
whether the client hung up. Waits are recorded through an injected sleep/clock (FakeTime) where
a test is about a delay, so nothing here depends on timing tolerances.
"""

from __future__ import annotations

import asyncio
import errno
import gzip
import io
import tracemalloc
import zlib
from collections.abc import Iterator
from email.utils import formatdate

import pytest

from crawler.fetch import DEFAULT_USER_AGENT, Fetcher, FetchSettings
from crawler.politeness import Politeness
from crawler.retry import RetryPolicy, parse_retry_after
from crawler.transport import BodyDecodingError, Inflater
from parsers.sitemaps import MAX_BYTES as SITEMAP_MAX_BYTES
from parsers.sitemaps import parse_sitemap
from tests.fault_server import FakeTime, FaultServer, Reply

FAST = {"delay": 0.0, "backoff_base": 0.01, "backoff_max": 0.05}
HTML = b"<!doctype html><html><head><title>ok</title></head><body>ok</body></html>"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@pytest.fixture(params=["aiohttp", "httpx"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


def settings(transport: str = "aiohttp", **overrides: object) -> FetchSettings:
    return FetchSettings(**(FAST | {"transport": transport} | overrides))  # type: ignore[arg-type]


async def fetch_one(server: FaultServer, path: str, fetch_settings: FetchSettings, **kwargs: object):
    async with Fetcher(fetch_settings) as fetcher:
        return await fetcher.fetch(server.url(path), **kwargs)  # type: ignore[arg-type]


# ---- retries ---------------------------------------------------------------------------------


async def test_503_then_success_is_retried(server: FaultServer, transport: str) -> None:
    server.route("/page", Reply(503, b"busy"), Reply(body=HTML))
    result = await fetch_one(server, "/page", settings(transport))
    assert result.outcome == "fetched"
    assert result.attempts == 2
    assert result.text is not None and "ok" in result.text
    assert server.paths() == ["/robots.txt", "/page", "/page"]


async def test_persistent_503_fails_after_bounded_attempts(server: FaultServer) -> None:
    server.route("/page", Reply(503, b"busy"))
    result = await fetch_one(server, "/page", settings(max_attempts=3))
    assert result.outcome == "failed"
    assert result.http_status == 503
    assert result.error == "HTTP 503 after 3 attempts"
    assert server.paths().count("/page") == 3


async def test_429_retry_after_seconds_is_waited(server: FaultServer) -> None:
    server.route("/page", Reply(429, b"slow down", headers={"Retry-After": "1"}), Reply(body=HTML))
    fake = FakeTime()
    async with Fetcher(settings(), sleep=fake.sleep, clock=fake.clock) as fetcher:
        result = await fetcher.fetch(server.url("/page"))
    assert result.outcome == "fetched"
    assert result.attempts == 2
    assert max(fake.waits) >= 1.0  # the server's Retry-After is a floor on the backoff
    assert fake.now - 1000.0 < 1.5  # ...and the host penalty did not double the wait


async def test_retry_after_longer_than_cap_gives_up_without_waiting(server: FaultServer) -> None:
    server.route("/page", Reply(503, b"down", headers={"Retry-After": "3600"}), Reply(body=HTML))
    fake = FakeTime()
    async with Fetcher(settings(), sleep=fake.sleep, clock=fake.clock) as fetcher:
        result = await fetcher.fetch(server.url("/page"))
    assert result.outcome == "failed"
    assert "Retry-After 3600 s" in (result.error or "")
    assert fake.waits == []
    assert server.paths().count("/page") == 1


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_900_000_000.0
    from datetime import UTC, datetime

    later = formatdate(now + 30, usegmt=True)
    assert parse_retry_after(later, datetime.fromtimestamp(now, UTC)) == pytest.approx(30.0)
    earlier = formatdate(now - 30, usegmt=True)
    assert parse_retry_after(earlier, datetime.fromtimestamp(now, UTC)) == 0.0


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(max_attempts=6, backoff_base=0.5, backoff_max=3.0)
    assert [policy.backoff(n, rand=1.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.backoff(3, rand=0.0) == 0.0
    assert policy.wait(1, retry_after=2.5, rand=1.0) == 2.5
    assert policy.retryable_status(429) and policy.retryable_status(502)
    assert not policy.retryable_status(501) and not policy.retryable_status(404)


async def test_dropped_connection_then_success(server: FaultServer, transport: str) -> None:
    big = b"<html><body>" + b"x" * 50_000 + b"</body></html>"
    server.route("/page", Reply(body=big, drop_after=1_000), Reply(body=HTML))
    result = await fetch_one(server, "/page", settings(transport))
    assert result.outcome == "fetched"
    assert result.attempts == 2
    assert result.body == HTML


async def test_dropped_connection_every_time_fails_with_reason(server: FaultServer, transport: str) -> None:
    server.route("/page", Reply(body=HTML * 100, drop_after=100))
    result = await fetch_one(server, "/page", settings(transport, max_attempts=2))
    assert result.outcome == "failed"
    assert result.attempts == 2
    assert result.error is not None and result.error.startswith("connection dropped")
    assert "after 2 attempts" in result.error


async def test_response_slower_than_read_timeout_fails(server: FaultServer, transport: str) -> None:
    # The timeout leaves room for robots.txt to answer on a loaded machine; the page waits 4x longer.
    server.route("/page", Reply(body=HTML, delay=4.0))
    result = await fetch_one(server, "/page", settings(transport, read_timeout=1.0, max_attempts=2))
    assert result.outcome == "failed"
    assert result.error == "read timeout: no data from the server for 1 s (after 2 attempts)"
    assert server.paths().count("/page") == 2


async def test_body_that_stalls_midway_times_out(server: FaultServer, transport: str) -> None:
    server.route("/page", Reply(body=HTML * 100, drop_after=500, stall=4.0))
    result = await fetch_one(server, "/page", settings(transport, read_timeout=1.0, max_attempts=1))
    assert result.outcome == "failed"
    assert result.error is not None and result.error.startswith("read timeout")


async def test_whole_response_time_is_bounded(server: FaultServer, transport: str) -> None:
    server.route("/page", Reply(body=HTML, delay=1.0))
    result = await fetch_one(
        server, "/page", settings(transport, read_timeout=5.0, total_timeout=0.2, max_attempts=1)
    )
    assert result.outcome == "failed"
    assert result.error == "timeout: the response took longer than 0.2 s in all"


async def test_connection_refused_makes_the_host_skipped() -> None:
    with FaultServer() as closed:
        url = closed.url("/page")
    async with Fetcher(settings(max_attempts=2)) as fetcher:
        result = await fetcher.fetch(url)
    assert result.outcome == "skipped"
    assert result.error is not None and "cannot connect" in result.error


# ---- redirects -------------------------------------------------------------------------------


async def test_redirect_is_followed_and_final_url_canonical(server: FaultServer) -> None:
    server.route("/old", Reply(301, b"", headers={"Location": "/new?utm_source=x&b=2&a=1#top"}))
    server.route("/new?utm_source=x&b=2&a=1", Reply(body=HTML))
    result = await fetch_one(server, "/old", settings())
    assert result.outcome == "fetched"
    assert result.url == server.url("/old")
    assert result.final_url == server.url("/new?a=1&b=2")
    assert result.attempts == 2


async def test_redirect_loop_fails(server: FaultServer, transport: str) -> None:
    server.route("/a", Reply(302, b"", headers={"Location": "/b"}))
    server.route("/b", Reply(302, b"", headers={"Location": "/a"}))
    result = await fetch_one(server, "/a", settings(transport))
    assert result.outcome == "failed"
    assert result.error == f"redirect loop: {server.url('/a')} again"
    assert server.paths() == ["/robots.txt", "/a", "/b"]


async def test_redirect_off_host_is_not_followed(server: FaultServer) -> None:
    # localhost reaches this same server, so a followed redirect would show up in its log.
    server.route("/go", Reply(302, b"", headers={"Location": f"http://localhost:{server.port}/x"}))
    result = await fetch_one(server, "/go", settings(allowed_hosts=frozenset({"127.0.0.1"})))
    assert result.outcome == "failed"
    assert result.error is not None and "leaves the allowed hosts" in result.error
    assert server.paths() == ["/robots.txt", "/go"]


async def test_at_most_ten_redirects(server: FaultServer) -> None:
    for hop in range(12):
        server.route(f"/r{hop}", Reply(302, b"", headers={"Location": f"/r{hop + 1}"}))
    server.route("/r12", Reply(body=HTML))
    too_many = await fetch_one(server, "/r0", settings())
    assert too_many.outcome == "failed"
    assert too_many.error == "more than 10 redirects"
    assert server.paths()[1:] == [f"/r{hop}" for hop in range(11)]  # /r11 never requested

    just_enough = await fetch_one(server, "/r2", settings())
    assert just_enough.outcome == "fetched"  # /r2 -> ... -> /r12 is exactly 10 redirects
    assert just_enough.final_url == server.url("/r12")


async def test_redirect_to_robots_disallowed_path_is_never_requested(server: FaultServer) -> None:
    server.route("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /secret\n", content_type="text/plain"))
    server.route("/go", Reply(302, b"", headers={"Location": "/secret/page"}))
    result = await fetch_one(server, "/go", settings())
    assert result.outcome == "disallowed"
    assert "/secret/page" not in server.paths()


# ---- size cap --------------------------------------------------------------------------------


async def test_endless_body_is_cut_off_while_streaming(server: FaultServer, transport: str) -> None:
    server.route("/huge", Reply(endless=True))
    result = await fetch_one(server, "/huge", settings(transport, max_bytes=300_000))
    assert result.outcome == "failed"
    assert result.error == "body larger than 300000 bytes"
    assert result.body == b""
    assert server.wait_for_disconnect("/huge")  # the client hung up mid-body...
    assert server.bytes_sent["/huge"] < 64 * 1024 * 1024  # ...long before the server finished


async def test_content_length_over_cap_is_rejected_before_reading(server: FaultServer) -> None:
    server.route("/huge", Reply(endless=True, content_length=50_000_000))
    result = await fetch_one(server, "/huge", settings(max_bytes=1_000_000))
    assert result.outcome == "failed"
    assert result.error == "body larger than 1000000 bytes (Content-Length 50000000)"
    assert server.wait_for_disconnect("/huge")


async def test_a_full_size_sitemap_is_not_held_to_the_page_cap(server: FaultServer) -> None:
    # sitemaps.org allows 50,000 URLs and 50 MB: here ~7 MB, over the 5 MB page cap.
    urls = [server.url(f"/comparisons/{i:05d}/" + "a-long-descriptive-slug-" * 3) for i in range(50_000)]
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><urlset>'
        + "".join(f"<url><loc>{u}</loc></url>" for u in urls)
        + "</urlset>"
    ).encode()
    assert len(xml) > FetchSettings().max_bytes
    server.route("/sitemap.xml", Reply(body=xml, content_type="application/xml"))
    server.route("/page", Reply(body=b"<html>" + b" " * len(xml)))
    async with Fetcher(settings()) as fetcher:
        sitemap = await fetcher.fetch(server.url("/sitemap.xml"), kind_hint="sitemap")
        page = await fetcher.fetch(server.url("/page"))
        page_as_sitemap = await fetcher.fetch(server.url("/page"), kind_hint="sitemap")
    assert (sitemap.outcome, sitemap.kind, sitemap.body) == ("fetched", "sitemap", b"")
    assert sitemap.body_file is not None  # spooled to disk, not held in memory
    with sitemap.body_file:
        assert parse_sitemap(sitemap.body_file) == (urls, [])
    assert (page.outcome, page.error) == (
        "failed",
        f"body larger than 5000000 bytes (Content-Length {len(xml) + 6})",
    )
    # a "sitemap" URL that serves a page is held to the page cap
    assert (page_as_sitemap.outcome, page_as_sitemap.error) == ("failed", "body larger than 5000000 bytes")


async def test_a_sitemap_over_its_own_cap_fails(server: FaultServer) -> None:
    server.route("/sitemap.xml", Reply(endless=True, content_type="application/xml"))
    result = await fetch_one(
        server, "/sitemap.xml", settings(max_bytes=100_000, max_sitemap_bytes=400_000), kind_hint="sitemap"
    )
    assert (result.outcome, result.error) == ("failed", "body larger than 400000 bytes")


async def test_a_sitemap_that_cannot_be_spooled_fails_with_the_reason(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a full disk where temporary files go: the sitemap is recorded as failed, with the reason
    class FullDisk(io.BytesIO):
        def write(self, data: object) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    xml = b'<?xml version="1.0"?><urlset><url><loc>http://x/</loc></url></urlset>'
    server.route("/sitemap.xml", Reply(body=xml, content_type="application/xml"))
    monkeypatch.setattr("crawler.fetch.tempfile.TemporaryFile", FullDisk)
    result = await fetch_one(server, "/sitemap.xml", settings(), kind_hint="sitemap")
    assert (result.outcome, result.body_file) == ("failed", None)
    assert result.error == "sitemap not stored: [Errno 28] No space left on device"


async def test_a_sitemap_dropped_midway_is_retried_as_a_network_fault(
    server: FaultServer, transport: str
) -> None:
    # the spool's disk errors are its own; a connection lost while it fills is the network's
    xml = b'<?xml version="1.0"?><urlset>' + b"<url><loc>http://x/</loc></url>" * 2_000 + b"</urlset>"
    server.route("/sitemap.xml", Reply(body=xml, content_type="application/xml", drop_after=1_000))
    server.route(
        "/again.xml", Reply(body=xml, content_type="application/xml", drop_after=1_000), Reply(body=xml)
    )
    failed = await fetch_one(server, "/sitemap.xml", settings(transport, max_attempts=2), kind_hint="sitemap")
    assert (failed.outcome, failed.attempts) == ("failed", 2)
    assert failed.error is not None and failed.error.startswith("connection dropped"), failed.error
    retried = await fetch_one(server, "/again.xml", settings(transport), kind_hint="sitemap")
    assert (retried.outcome, retried.kind, retried.attempts) == ("fetched", "sitemap", 2)
    assert retried.body_file is not None
    with retried.body_file:
        assert retried.body_file.read() == xml


async def test_a_page_asked_for_as_a_sitemap_is_read_back_as_a_page(server: FaultServer) -> None:
    server.route("/page", Reply(body=HTML, content_type="text/html"))
    server.route("/bare", Reply(body=HTML, content_type=None))
    async with Fetcher(settings()) as fetcher:
        page = await fetcher.fetch(server.url("/page"), kind_hint="sitemap")
        bare = await fetcher.fetch(server.url("/bare"), kind_hint="sitemap")
    for result in (page, bare):
        assert (result.outcome, result.kind, result.body, result.body_file) == ("fetched", "html", HTML, None)


def test_the_sitemap_cap_is_the_protocol_limit() -> None:
    assert FetchSettings().max_sitemap_bytes == SITEMAP_MAX_BYTES == 50 * 1024 * 1024


def test_default_cap_is_five_megabytes() -> None:
    assert FetchSettings().max_bytes == 5_000_000
    assert FetchSettings().max_redirects == 10


# ---- kinds, conditional requests, encodings ------------------------------------------------


async def test_non_html_is_skipped_without_keeping_the_body(server: FaultServer) -> None:
    server.route("/doc.pdf", Reply(body=b"%PDF-1.7 ...", content_type="application/pdf"))
    server.route("/data", Reply(body=b'{"a": 1}', content_type="application/json"))
    async with Fetcher(settings()) as fetcher:
        pdf = await fetcher.fetch(server.url("/doc.pdf"))
        data = await fetcher.fetch(server.url("/data"))
    assert (pdf.outcome, pdf.kind, pdf.body) == ("skipped", "other", b"")
    assert pdf.error == "not HTML: application/pdf"
    assert data.outcome == "skipped"


async def test_small_skipped_body_keeps_the_connection(server: FaultServer, transport: str) -> None:
    server.route("/data", Reply(body=b'{"a": 1}', content_type="application/json"))
    server.route("/page", Reply(body=HTML))
    async with Fetcher(settings(transport, concurrency=1, per_host=1)) as fetcher:
        for path in ("/data", "/page", "/data", "/page"):
            await fetcher.fetch(server.url(path))
    assert server.connections == 1  # robots.txt and all four requests on one keep-alive connection


async def test_html_without_content_type_is_sniffed(server: FaultServer) -> None:
    server.route("/page", Reply(body=HTML, content_type=None))
    server.route("/blob", Reply(body=b"\x00\x01binary", content_type="application/octet-stream"))
    async with Fetcher(settings()) as fetcher:
        page = await fetcher.fetch(server.url("/page"))
        blob = await fetcher.fetch(server.url("/blob"))
    assert (page.outcome, page.kind) == ("fetched", "html")
    assert (blob.outcome, blob.body) == ("skipped", b"")


async def test_sitemaps_are_kept_only_when_asked_for(server: FaultServer) -> None:
    xml = b'<?xml version="1.0"?><urlset><url><loc>http://x/</loc></url></urlset>'
    server.route("/sitemap.xml", Reply(body=xml, content_type="application/xml"))
    server.route("/sitemap.xml.gz", Reply(body=gzip.compress(xml), content_type="application/octet-stream"))
    async with Fetcher(settings()) as fetcher:
        plain = await fetcher.fetch(server.url("/sitemap.xml"), kind_hint="sitemap")
        zipped = await fetcher.fetch(server.url("/sitemap.xml.gz"), kind_hint="sitemap")
        as_page = await fetcher.fetch(server.url("/sitemap.xml"))
    assert (plain.outcome, plain.kind, plain.body, plain.text) == ("fetched", "sitemap", b"", None)
    assert (zipped.outcome, zipped.kind) == ("fetched", "sitemap")
    assert plain.body_file is not None and zipped.body_file is not None
    with plain.body_file, zipped.body_file:
        assert plain.body_file.read() == xml
        assert gzip.decompress(zipped.body_file.read()) == xml
    assert as_page.body_file is None
    assert as_page.outcome == "skipped"


async def test_conditional_request_and_304(server: FaultServer, transport: str) -> None:
    def page(headers: dict[str, str]) -> Reply:
        if headers.get("if-none-match") == '"v1"':
            return Reply(304, b"", content_type=None, headers={"ETag": '"v1"'})
        return Reply(body=HTML, headers={"ETag": '"v1"', "Last-Modified": "Mon, 02 Jan 2026 10:00:00 GMT"})

    server.route("/page", page)
    async with Fetcher(settings(transport)) as fetcher:
        first = await fetcher.fetch(server.url("/page"))
        again = await fetcher.fetch(server.url("/page"), etag=first.etag, last_modified=first.last_modified)
    assert (first.outcome, first.etag) == ("fetched", '"v1"')
    assert again.outcome == "not_modified"
    assert again.body == b"" and again.text is None
    assert (again.etag, again.last_modified) == ('"v1"', "Mon, 02 Jan 2026 10:00:00 GMT")
    sent = server.log[-1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 02 Jan 2026 10:00:00 GMT"
    assert "if-none-match" not in server.log[1].headers


async def test_404_and_410_are_gone(server: FaultServer) -> None:
    server.route("/removed", Reply(410, b"gone", content_type="text/plain"))
    async with Fetcher(settings()) as fetcher:
        missing = await fetcher.fetch(server.url("/missing"))
        removed = await fetcher.fetch(server.url("/removed"))
    assert (missing.outcome, missing.http_status) == ("gone", 404)
    assert (removed.outcome, removed.http_status) == ("gone", 410)


async def test_other_4xx_fails_without_retry(server: FaultServer) -> None:
    server.route("/private", Reply(403, b"no", content_type="text/plain"))
    result = await fetch_one(server, "/private", settings())
    assert (result.outcome, result.error, result.attempts) == ("failed", "HTTP 403", 1)


async def test_invalid_urls_are_skipped_without_a_request(server: FaultServer) -> None:
    async with Fetcher(settings()) as fetcher:
        bad_port = await fetcher.fetch("http://127.0.0.1:99999/x")
        not_http = await fetcher.fetch("mailto:someone@example.org")
    assert (bad_port.outcome, bad_port.error) == ("skipped", "not a valid http(s) URL")
    assert not_http.outcome == "skipped"
    assert server.paths() == []


async def test_broken_gzip_fails_without_retry(server: FaultServer) -> None:
    server.route("/page", Reply(body=HTML, headers={"Content-Encoding": "gzip"}))
    result = await fetch_one(server, "/page", settings())
    assert result.outcome == "failed"
    assert result.attempts == 1
    assert result.error is not None and result.error.startswith("body does not match its Content-Encoding")


async def test_gzip_bomb_stops_at_the_cap_while_inflating(server: FaultServer, transport: str) -> None:
    bomb = gzip.compress(b"<html><body>" + b"\0" * 40_000_000, compresslevel=9)  # 39 KB on the wire
    server.route("/page", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    tracemalloc.start()
    try:
        result = await fetch_one(server, "/page", settings(transport, max_bytes=1_000_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome == "failed"
    assert result.error == "body larger than 1000000 bytes"
    assert result.attempts == 1  # as large next time: not retried
    assert peak < 8_000_000  # never inflated far past the cap (the body is 40 MB inflated)


def test_inflater_never_returns_more_than_the_room_asked_for() -> None:
    data = b"abc" * 100_000
    packed = zlib.compress(data)
    inflater = Inflater("deflate")
    out = [inflater.feed(packed[:1000], 10_000)]
    while True:
        piece = inflater.finish(10_000)
        if not piece:
            break
        out.append(piece)
    assert all(len(piece) <= 10_000 for piece in out)
    whole = Inflater("gzip")
    assert whole.feed(gzip.compress(data), len(data) + 1) == data
    with pytest.raises(BodyDecodingError):
        Inflater("br")


async def test_gzip_content_encoding_is_decoded(server: FaultServer, transport: str) -> None:
    server.route("/page", Reply(body=HTML, gzip=True))
    result = await fetch_one(server, "/page", settings(transport))
    assert result.outcome == "fetched"
    assert result.body == HTML
    assert server.log[-1].headers.get("accept-encoding", "").find("gzip") >= 0


PRICE_1252 = "<html><head><title>Café – “Pro” plan</title></head><body>€12 · naïve</body></html>"
PRICE_SJIS = "<html><head><title>価格比較</title></head><body>月額 1,200円 「ツール」比較</body></html>"


@pytest.mark.parametrize(
    ("text", "codec", "label"),
    [(PRICE_1252, "cp1252", "windows-1252"), (PRICE_SJIS, "cp932", "Shift_JIS")],
    ids=["windows-1252", "shift_jis"],
)
@pytest.mark.parametrize("where", ["http", "meta", "none"])
async def test_legacy_encodings_decode_right(
    server: FaultServer, text: str, codec: str, label: str, where: str
) -> None:
    html = text
    if where == "meta":
        html = text.replace("<head>", f'<head><meta charset="{label}">')
    body = (html * 3).encode(codec)
    content_type = f"text/html; charset={label}" if where == "http" else "text/html"
    server.route("/page", Reply(body=body, content_type=content_type))
    result = await fetch_one(server, "/page", settings())
    assert result.outcome == "fetched"
    assert result.body == body  # raw bytes kept
    assert result.text == html * 3
    if where != "none":
        assert result.encoding == codec


async def test_user_agent_is_descriptive_and_configurable(server: FaultServer) -> None:
    await fetch_one(server, "/a", settings())
    await fetch_one(server, "/b", settings(user_agent="custom-bot/1 (+mailto:ops@example.org)"))
    agents = [request.headers["user-agent"] for request in server.log]
    assert agents[0] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith("verdict-archive/")
    assert "(+https://github.com/verdict-archive/verdict-archive)" in DEFAULT_USER_AGENT
    assert agents[-1] == "custom-bot/1 (+mailto:ops@example.org)"


async def test_cookies_are_never_sent_back(server: FaultServer, transport: str) -> None:
    server.route("/a", Reply(body=HTML, headers={"Set-Cookie": "session=abc; Path=/"}))
    server.route("/b", Reply(body=HTML))
    async with Fetcher(settings(transport)) as fetcher:
        await fetcher.fetch(server.url("/a"))
        await fetcher.fetch(server.url("/b"))
    assert [request.path for request in server.log] == ["/robots.txt", "/a", "/b"]
    assert "cookie" not in server.log[-1].headers


# ---- politeness ------------------------------------------------------------------------------


async def test_per_host_delay_spaces_request_starts(server: FaultServer) -> None:
    fake = FakeTime()
    async with Fetcher(settings(delay=1.5), sleep=fake.sleep, clock=fake.clock) as fetcher:
        for page in ("/a", "/b", "/c"):
            await fetcher.fetch(server.url(page))
    # robots.txt, then three pages: each start waits the delay after the previous one.
    assert fake.waits == [pytest.approx(1.5)] * 3


async def test_per_host_concurrency_is_bounded(server: FaultServer) -> None:
    server.route("/slow", Reply(body=HTML, delay=0.15))
    in_flight = peak = 0
    fetcher = Fetcher(settings(per_host=2, concurrency=8))
    original = fetcher._wire.get

    async def counting_send(*args: object, **kwargs: object):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await original(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            in_flight -= 1

    fetcher._wire.get = counting_send  # type: ignore[method-assign]
    async with fetcher:
        results = await asyncio.gather(*(fetcher.fetch(server.url("/slow")) for _ in range(6)))
    assert all(result.outcome == "fetched" for result in results)
    assert peak == 2


async def test_a_penalty_holds_back_every_url_of_that_host_only() -> None:
    fake = FakeTime()
    politeness = Politeness(0.0, per_host=4, concurrency=8, clock=fake.clock, sleep=fake.sleep)
    politeness.penalize("slow.example", 5.0)  # what a 429 / Retry-After does
    await politeness.acquire("other.example")
    politeness.release("other.example")
    assert fake.waits == []
    await politeness.acquire("slow.example")
    politeness.release("slow.example")
    assert fake.waits == [pytest.approx(5.0)]
