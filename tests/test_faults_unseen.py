"""Hostile HTTP beyond the issue's list, one fetch at a time, through both transports.

Each reply below is something a broken or hostile server can send that tests/hostile_site.py
did not: a Location urljoin cannot read, a Retry-After in non-ASCII digits, garbage status
lines and lengths, an HTTP/0.9 answer, stacked or unknown encodings, a deflate bomb, 50 MB
without a length, bytes no header may hold, headers that arrive a byte at a time. None may
raise out of the fetcher (a crawl would record "internal error" or stall): each ends as a
failed or fetched result with a one-line reason.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pytest

from crawler.fetch import Fetcher, FetchSettings
from crawler.retry import parse_retry_after
from tests.fault_server import FaultServer, Reply

PAGE = b"<html><head><title>t</title></head><body><p>fine</p></body></html>"


def raw(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body


#: path -> (reply, outcome, a piece of the reason)
CASES: dict[str, tuple[Reply, str, str]] = {
    "/location-bad-ipv6": (
        Reply(302, b"", headers={"Location": "http://[bad"}),
        "failed",
        "not valid http(s)",
    ),
    "/location-nul": (
        Reply(raw=raw("HTTP/1.1 302 Found\nLocation: /a\x00b\nContent-Length: 0\n")),
        "failed",
        "",
    ),
    "/location-8kb": (Reply(302, b"", headers={"Location": "/" + "a" * 9000}), "failed", ""),
    "/retry-after-superscript": (
        Reply(raw=raw("HTTP/1.1 503 Busy\nRetry-After: \xb2\nContent-Length: 0\n")),
        "failed",
        "HTTP 503",
    ),
    "/status-999": (
        Reply(raw=raw(f"HTTP/1.1 999 What\nContent-Length: {len(PAGE)}\n", PAGE)),
        "failed",
        "999",
    ),
    "/status-garbage": (Reply(raw=raw("HTTP/1.1 abc\nContent-Type: text/html\n", PAGE)), "failed", ""),
    "/http-0.9": (Reply(raw=PAGE), "failed", ""),
    "/length-garbage": (Reply(raw=raw("HTTP/1.1 200 OK\nContent-Length: abc\n", PAGE)), "failed", ""),
    "/length-negative": (Reply(raw=raw("HTTP/1.1 200 OK\nContent-Length: -5\n", PAGE)), "failed", ""),
    "/length-twice": (
        Reply(raw=raw(f"HTTP/1.1 200 OK\nContent-Length: 10\nContent-Length: {len(PAGE)}\n", PAGE)),
        "failed",
        "",
    ),
    "/encoding-unknown": (
        Reply(body=PAGE, headers={"Content-Encoding": "x-compress"}),
        "failed",
        "unsupported",
    ),
    "/encoding-twice": (
        Reply(body=PAGE, headers={"Content-Encoding": "gzip, gzip"}),
        "failed",
        "unsupported",
    ),
    "/deflate-bomb": (
        Reply(body=zlib.compress(bytes(100_000_000), 9), headers={"Content-Encoding": "deflate"}),
        "failed",
        "body larger than",
    ),
    "/html-50mb-no-length": (
        Reply(body=b"", endless=True, endless_cap=50 * 1024 * 1024),
        "failed",
        "larger than",
    ),
    "/header-bytes": (
        Reply(raw=raw(f"HTTP/1.1 200 OK\nX-Y: \xff\xfe\x00\nContent-Length: {len(PAGE)}\n", PAGE)),
        "failed",
        "",
    ),
    "/header-without-colon": (
        Reply(raw=raw(f"HTTP/1.1 200 OK\nnot a header\nContent-Length: {len(PAGE)}\n", PAGE)),
        "failed",
        "",
    ),
    "/headers-a-byte-at-a-time": (
        Reply(
            raw=raw("HTTP/1.1 200 OK\nContent-Type: text/html\nX-Slow: " + "s" * 1000 + "\n"),
            raw_trickle=0.05,
        ),
        "failed",
        "took longer than",
    ),
    "/charset-unknown": (
        Reply(body=PAGE, content_type="text/html; charset=x-no-such-charset"),
        "fetched",
        "",
    ),
    "/charset-bytes": (
        Reply(
            raw=raw(
                f"HTTP/1.1 200 OK\nContent-Type: text/html; charset=\xe9\xff\nContent-Length: {len(PAGE)}\n",
                PAGE,
            )
        ),
        "fetched",
        "",
    ),
    "/meta-charset-garbage": (
        Reply(
            body=b'<html><head><meta charset="utf-\xff\x00-8"></head><body>caf\xc3\xa9</body></html>',
            content_type="text/html",
        ),
        "fetched",
        "",
    ),
}


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        for path, (reply, _, _) in CASES.items():
            running.route(path, reply)
        yield running


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
@pytest.mark.parametrize("path", CASES)
async def test_a_hostile_reply_ends_as_a_result_with_a_reason(
    server: FaultServer, transport: str, path: str
) -> None:
    _, outcome, reason = CASES[path]
    settings = FetchSettings(delay=0, transport=transport, total_timeout=2.0, backoff_base=0.01)
    async with Fetcher(settings) as fetcher:
        result = await fetcher.fetch(server.url(path))
    assert result.outcome == outcome, (result.outcome, result.error)
    if outcome == "failed":
        assert result.error and reason in result.error, result.error
        assert "\n" not in result.error and len(result.error) <= 500
    else:
        assert (result.text is not None and "fine" in result.text) or "caf" in (result.text or "")


@pytest.mark.parametrize("value", ["\xb2", "\xb9\xb2\xb3", "\u0663", "1e5", "-5", "\x00", "5 s"])
def test_retry_after_in_anything_but_ascii_digits_or_a_date_is_unreadable(value: str) -> None:
    assert parse_retry_after(value) is None


def test_retry_after_in_ascii_digits_is_seconds() -> None:
    assert parse_retry_after(" 17 ") == 17.0
