"""A site of hostile pages on the fault server, shared by tests/test_faults_http.py and bench/faults.py.

Every page here is something a real server can send: broken compression, broken framing,
lying lengths, bad bytes, absurd markup, redirects where a crawler must not go, floods of
headers and a body that never ends. The index links them all, so one crawl of the index
meets every one of them; each page's path is also its name in the figures.
"""

from __future__ import annotations

import functools
import gzip
import zlib

from crawler.addresses import is_private_address
from tests.fault_server import FaultServer, Reply

__all__ = [
    "EXPECTED",
    "HOSTILE",
    "HOSTILE_HREFS",
    "LINKS_ON_PAGE",
    "NESTING",
    "PUBLIC",
    "install",
    "public_in_tests",
]

#: The address that plays a public host (every address the tests use is loopback).
PUBLIC = "127.0.0.2"


def public_in_tests(address: object) -> bool:
    """The address classifier of the fault tests: 127.0.0.2 is public, the rest as in production."""
    return str(address) != PUBLIC and is_private_address(address)  # type: ignore[arg-type]


#: The pages of the index, by path, with the sizes the issue names.
NESTING = 100_000
LINKS_ON_PAGE = 200_000
SINGLE_LINE_BYTES = 20_000_000
BOMB_BYTES = 1_000_000_000  # inflated size of the gzip bomb
HEADER_FLOOD = 20_000  # headers in one response

HOSTILE = (
    "/gzip-truncated",
    "/gzip-bomb",
    "/chunked-broken",
    "/chunked-cut",
    "/length-over",
    "/length-under",
    "/invalid-utf8",
    "/nul-bytes",
    "/single-line-20mb",
    "/nested-100k",
    "/links-200k",
    "/redirect-file",
    "/redirect-private",
    "/header-flood",
    "/header-huge",
    "/never-ends",
    # beyond the list
    "/slow-headers",
    "/redirect-garbage",
    "/redirect-endless",
    "/retry-after-odd",
    "/charset-unknown",
    "/html-50mb",
    "/deflate-bomb",
    "/status-garbage",
    "/hostile-hrefs",
)
#: URLs of /hostile-hrefs: NUL, invalid UTF-8, broken hosts and ports, a 100 KB link (all
#: under /l/, which the crawls exclude, or on no host they may reach).
HOSTILE_HREFS = (
    "/l/a\x00b",
    "/l/\udcff\udcfe",
    "http://[::1",
    "http://127.0.0.2:99999/",
    "http://h\x00t/",
    "/l/%zz%C0%AF",
    "/l/" + "x" * 100_000,
    "java\tscript:alert(1)",
)


def _page(title: str, body: str = "") -> bytes:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>".encode()


@functools.cache
def _bomb(size: int) -> bytes:
    """`size` bytes of zeros as a gzip stream (1/1000 of that on the wire), made once per process."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts = [squeeze.compress(zeros) for _ in range(max(1, size >> 20))]
    parts.append(squeeze.flush())
    return b"".join(parts)


def _raw(head: str, body: bytes) -> bytes:
    return head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body


def install(
    server: FaultServer,
    private_url: str,
    *,
    trickle: float = 0.2,
    bomb_bytes: int = BOMB_BYTES,
    links: int = LINKS_ON_PAGE,
) -> str:
    """Put every hostile page and an index linking them on `server`; returns the index URL.

    `private_url` is a page on a server the crawl must never reach (a private address);
    `bomb_bytes` the inflated size of the gzip bomb and `links` the links of /links-200k (the
    tests' crawl uses fewer of both; bench/faults.py the sizes of issue 14).
    """
    html = "text/html; charset=utf-8"
    good = _page("fine", "<p>a normal page</p>")
    server.route("/robots.txt", Reply(body=b"User-agent: *\nAllow: /\n", content_type="text/plain"))
    index = "".join(f'<a href="{path}">{path}</a>\n' for path in HOSTILE)
    server.route("/", Reply(body=_page("hostile index", index + '<a href="/fine">fine</a>')))
    server.route("/fine", Reply(body=good))
    server.route(
        "/gzip-truncated",
        Reply(body=gzip.compress(good * 50)[:-40], headers={"Content-Encoding": "gzip"}),
    )
    server.route("/gzip-bomb", Reply(body=_bomb(bomb_bytes), headers={"Content-Encoding": "gzip"}))
    chunked = "HTTP/1.1 200 OK\nContent-Type: text/html\nTransfer-Encoding: chunked\n"
    server.route("/chunked-broken", Reply(raw=_raw(chunked, b"10\r\n<html><body>abc\r\nZZ\r\nnot hex\r\n")))
    server.route("/chunked-cut", Reply(raw=_raw(chunked, b"400\r\n<html><body>only part of the chunk")))
    server.route("/length-over", Reply(body=good, content_length=len(good) * 10))
    server.route("/length-under", Reply(body=good + b"<p>" + b"z" * 4000 + b"</p>", content_length=20))
    server.route("/invalid-utf8", Reply(body=_page("bad \xff bytes").replace(b"\xc3\xbf", b"\xff\xfe\xc0")))
    server.route("/nul-bytes", Reply(body=_page("nul", "a\x00b\x00" * 1000)))
    line = b"<html><body><p>" + b"word " * (SINGLE_LINE_BYTES // 5) + b"</p></body></html>"
    server.route("/single-line-20mb", Reply(body=line))
    server.route("/nested-100k", Reply(body=_page("deep", "<div>" * NESTING + "deep" + "</div>" * NESTING)))
    hrefs = "".join(f"<a href=/l/{n}>" for n in range(links))
    server.route("/links-200k", Reply(body=_page("links", hrefs)))
    server.route("/redirect-file", Reply(302, b"", html, headers={"Location": "file:///etc/passwd"}))
    server.route("/redirect-private", Reply(302, b"", html, headers={"Location": private_url}))
    flood = "".join(f"X-Flood-{n}: {n}\n" for n in range(HEADER_FLOOD))
    server.route("/header-flood", Reply(raw=_raw(f"HTTP/1.1 200 OK\nContent-Type: text/html\n{flood}", good)))
    huge = "X-Huge: " + "h" * 1_000_000 + "\n"
    server.route("/header-huge", Reply(raw=_raw(f"HTTP/1.1 200 OK\nContent-Type: text/html\n{huge}", good)))
    server.route("/never-ends", Reply(body=b"", trickle=trickle, content_length=100_000))
    _install_unseen(server, trickle, bomb_bytes)
    return server.url("/")


def _install_unseen(server: FaultServer, trickle: float, bomb_bytes: int) -> None:
    """The pages beyond the issue's list (tests/test_faults_unseen.py has them one by one)."""
    good = _page("fine", "<p>a normal page</p>")
    slow = _raw("HTTP/1.1 200 OK\nContent-Type: text/html\nX-Slow: " + "s" * 100_000 + "\n", good)
    server.route("/slow-headers", Reply(raw=slow, raw_trickle=trickle))
    server.route("/redirect-garbage", Reply(302, b"", headers={"Location": "http://[bad"}))
    hops = [f"/redirect-endless/{n}" for n in range(1, 30)]
    for here, there in zip(["/redirect-endless", *hops], hops, strict=False):
        server.route(here, Reply(302, b"", headers={"Location": there}))
    busy = _raw("HTTP/1.1 503 Busy\nRetry-After: \xb2\nContent-Length: 0\n", b"")
    server.route("/retry-after-odd", Reply(raw=busy))
    server.route("/charset-unknown", Reply(body=good, content_type="text/html; charset=x-no-such-charset"))
    server.route("/html-50mb", Reply(body=b"", endless=True, endless_cap=50 * 1024 * 1024))
    deflated = zlib.compress(bytes(min(bomb_bytes, 200_000_000)), 9)
    server.route("/deflate-bomb", Reply(body=deflated, headers={"Content-Encoding": "deflate"}))
    server.route("/status-garbage", Reply(raw=_raw("HTTP/1.1 abc\nContent-Type: text/html\n", good)))
    hrefs = "".join(f'<a href="{href}">x</a>' for href in HOSTILE_HREFS)
    page = f"<!doctype html><html><head><title>hrefs</title></head><body>{hrefs}</body></html>"
    server.route("/hostile-hrefs", Reply(body=page.encode("utf-8", "surrogateescape")))  # raw \xff\xfe


#: What the archive must say of each page: its `pages.status` ("|" between the ones allowed)
#: and a piece of its reason ("" when any reason will do: the words depend on the HTTP
#: client's parser). A body longer than its Content-Length is cut at the length, and the
#: client may or may not meet the rest as a broken next response.
EXPECTED: dict[str, tuple[str, str]] = {
    "/length-under": ("failed|ok", ""),
    "/gzip-truncated": ("failed", "cut short"),
    "/gzip-bomb": ("failed", "body larger than"),
    "/chunked-broken": ("failed", ""),
    "/chunked-cut": ("failed", ""),
    "/length-over": ("failed", ""),
    "/invalid-utf8": ("ok", ""),
    "/nul-bytes": ("ok", ""),
    "/single-line-20mb": ("failed", "body larger than"),
    "/nested-100k": ("ok", ""),
    "/links-200k": ("ok", ""),
    "/redirect-file": ("failed", "not valid http(s)"),
    "/redirect-private": ("failed", "private address"),
    "/header-flood": ("failed", ""),
    "/header-huge": ("failed", ""),
    "/never-ends": ("failed", "took longer than"),
    "/slow-headers": ("failed", "took longer than"),
    "/redirect-garbage": ("failed", "not valid http(s)"),
    "/redirect-endless": ("failed", "more than 10 redirects"),
    "/retry-after-odd": ("failed", "HTTP 503"),
    "/charset-unknown": ("ok", ""),
    "/html-50mb": ("failed", "body larger than"),
    "/deflate-bomb": ("failed", "body larger than"),
    "/status-garbage": ("failed", ""),
    "/hostile-hrefs": ("ok", ""),
}
