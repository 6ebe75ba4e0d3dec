"""Hostile HTTP, end to end: a crawl of tests/hostile_site.py records every page with a reason.

Two real servers on loopback: 127.0.0.2 plays a public host (through the crawl's address
classifier) and 127.0.0.3 a private one that a redirect points at and that must never be
asked anything. Units below pin the fixes the crawl needed: nesting capped before lexbor,
a truncated gzip stream refused, the public-to-private redirect refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.addresses import is_private_address
from crawler.config import Settings, Site
from crawler.engine import crawl
from crawler.fetch import Fetcher, FetchSettings
from crawler.transport import BodyDecodingError, Inflater
from crawler.urls import MAX_URL_CHARS
from parsers import parse_page
from parsers.links import extract_links
from parsers.nesting import MAX_DEPTH, SCAN_ABOVE_TAGS, cap_nesting
from parsers.text_blocks import text_blocks
from tests.fault_server import FaultServer, Reply
from tests.hostile_site import EXPECTED, HOSTILE, PUBLIC, install, public_in_tests


@pytest.fixture
def servers() -> Iterator[tuple[FaultServer, FaultServer]]:
    with FaultServer(PUBLIC) as public, FaultServer("127.0.0.3") as private:
        private.route("/secret", Reply(body=b"<html><body>internal</body></html>"))
        yield public, private


def test_a_crawl_of_hostile_pages_records_each_with_a_reason_and_finishes(
    servers: tuple[FaultServer, FaultServer], tmp_path: Path
) -> None:
    public, private = servers
    index = install(public, private.url("/secret"), bomb_bytes=50_000_000, links=20_000)
    site = Site(
        name="hostile",
        start_urls=(index,),
        hosts=("127.0.0.3",),  # in scope: only the address classifier stands in the way
        exclude=("/l/",),  # the links are read, not fetched
    )
    settings = Settings(
        db_path=tmp_path / "archive.db",
        sites=(site,),
        delay=0.0,
        timeout=2.0,
        address_is_private=public_in_tests,
    )
    report = crawl(settings)

    assert report.status == "completed"
    assert (public.url("/links-200k"), "links beyond the first 10000 not followed") in report.failures
    too_long = f"1 links longer than {MAX_URL_CHARS} characters not followed"
    assert (public.url("/hostile-hrefs"), too_long) in report.failures
    assert private.paths() == []  # the private server was never asked anything
    db = sqlite3.connect(settings.db_path)
    rows = {
        url.removeprefix(public.origin): (status, error)
        for url, status, error in db.execute("select url, status, last_error from pages")
    }
    assert set(HOSTILE) <= set(rows)
    for path, (status, reason) in EXPECTED.items():
        got_status, error = rows[path]
        assert got_status in status.split("|"), (path, got_status, error)
        if got_status != "ok":
            assert error and reason in error, (path, error)
            assert "\n" not in error
    parsed = dict(db.execute("select url, parse_status from snapshots"))
    assert parsed[public.url("/nested-100k")] == "not_comparison"
    for table in ("pages", "frontier"):  # no URL a server would refuse, nor one of NUL or bad bytes
        longest, odd = db.execute(
            f"select max(length(url)), sum(instr(url, char(0)) > 0) from {table}"
        ).fetchone()
        assert longest <= MAX_URL_CHARS and not odd, table
    assert db.execute("pragma integrity_check").fetchone() == ("ok",)
    assert db.execute("pragma foreign_key_check").fetchall() == []
    db.close()


# ---- nesting: capped before lexbor builds a tree ------------------------------------------------


def deep(levels: int, inner: str = "deep") -> str:
    return "<html><body>" + "<div>" * levels + inner + "</div>" * levels + "</body></html>"


def test_deep_nesting_is_capped_and_its_text_kept() -> None:
    capped = cap_nesting(deep(100_000))
    assert capped.count("<div>") == MAX_DEPTH
    assert capped.count("</div>") == MAX_DEPTH
    assert "deep" in capped
    assert cap_nesting(deep(100_000).encode()) == capped.encode()


def test_a_hundred_thousand_levels_parse_to_their_text_and_links() -> None:
    html = deep(100_000, '<a href="/bottom">bottom of the well</a>')
    assert "bottom of the well" in text_blocks(html)
    assert extract_links(html, "http://h.test/") == ["http://h.test/bottom"]
    assert parse_page(html).status == "not_comparison"


def test_links_stop_at_the_limit_in_page_order() -> None:
    html = "".join(f"<a href=/p{n}>" for n in range(50)) + "<a href=/p0>"
    assert extract_links(html, "http://h.test/", 20) == [f"http://h.test/p{n}" for n in range(20)]
    assert len(extract_links(html, "http://h.test/")) == 50


def test_pages_that_do_not_nest_deeply_are_returned_as_they_are() -> None:
    small = deep(MAX_DEPTH + 50)  # few tags: never scanned
    assert small.count("<") <= SCAN_ABOVE_TAGS and cap_nesting(small) is small
    # many tags, but the ones a page leaves open close themselves: p, li, a, td...
    unclosed = "<ul>" + "<li><p><a href=/x>x" * 5000 + "</ul>" + "<div>y</div>" * 2000
    assert cap_nesting(unclosed) is unclosed
    exactly = deep(MAX_DEPTH) * 10  # 5,120 divs, never more than MAX_DEPTH open at once
    assert cap_nesting(exactly) is exactly


# ---- a gzip stream cut short is refused, not archived as the page --------------------------------


def test_inflater_refuses_a_stream_without_its_end() -> None:
    import gzip

    packed = gzip.compress(b"<html>" + " ".join(map(str, range(5000))).encode() + b"</html>")
    inflater = Inflater("gzip")
    assert inflater.feed(packed[:-30], 1 << 20)
    with pytest.raises(BodyDecodingError, match="cut short"):
        inflater.finish(1 << 20)
    whole = Inflater("gzip")
    assert whole.feed(packed, 1 << 20) and whole.finish(1 << 20) == b""


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_truncated_gzip_fails_once_with_a_reason(transport: str) -> None:
    import gzip

    with FaultServer() as server:
        body = gzip.compress(b"<html><body>" + b"page " * 2000 + b"</body></html>")[:-40]
        server.route("/page", Reply(body=body, headers={"Content-Encoding": "gzip"}))
        async with Fetcher(FetchSettings(delay=0, transport=transport)) as fetcher:
            result = await fetcher.fetch(server.url("/page"))
    assert result.outcome == "failed"
    assert result.attempts == 1
    assert result.error is not None and "cut short" in result.error


# ---- redirects from a public host to a private address --------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "127.0.0.1", "::ffff:10.0.0.1", "fc00::1"],
)
def test_private_addresses_are_private(address: str) -> None:
    import ipaddress

    assert is_private_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1"])
def test_public_addresses_are_public(address: str) -> None:
    import ipaddress

    assert not is_private_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.3:{port}/secret", "http://10.0.0.7/", "http://[::1]:{port}/", "http://localhost/"],
)
async def test_a_public_host_may_not_redirect_to_a_private_address(
    servers: tuple[FaultServer, FaultServer], location: str
) -> None:
    public, private = servers
    target = location.format(port=private.port)
    public.route("/go", Reply(302, b"", headers={"Location": target}))
    hosts = frozenset({PUBLIC, "127.0.0.3", "10.0.0.7", "::1", "[::1]", "localhost"})
    fetch_settings = FetchSettings(delay=0, allowed_hosts=hosts, address_is_private=public_in_tests)
    async with Fetcher(fetch_settings) as fetcher:
        result = await fetcher.fetch(public.url("/go"))
    assert result.outcome == "failed"
    assert result.error is not None and "to private address" in result.error
    assert private.paths() == []


async def test_a_private_host_may_redirect_within_private_addresses(
    servers: tuple[FaultServer, FaultServer],
) -> None:
    public, private = servers
    private.route("/go", Reply(302, b"", headers={"Location": public.url("/fine")}))
    public.route("/fine", Reply(body=b"<html><body>fine</body></html>"))
    # with the production classifier both loopback hosts are private
    fetch_settings = FetchSettings(delay=0, allowed_hosts=frozenset({PUBLIC, "127.0.0.3"}))
    async with Fetcher(fetch_settings) as fetcher:
        result = await fetcher.fetch(private.url("/go"))
    assert result.outcome == "fetched"
    assert public.paths()[-1] == "/fine"
