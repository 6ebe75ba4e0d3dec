"""robots.txt: RFC 9309 outcomes, read once per origin, before anything else, over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from crawler.fetch import Fetcher, FetchSettings
from crawler.robots import RobotsCache, RobotsRules
from tests.fault_server import FakeTime, FaultServer, Reply

UA = "verdict-archive/1.0 (+https://github.com/verdict-archive/verdict-archive)"
ROBOTS = b"""User-agent: *
Disallow: /private
Crawl-delay: 2
Sitemap: https://example.com/sitemap-index.xml

User-agent: verdict-archive
Disallow: /no-verdicts
Allow: /no-verdicts/open
Crawl-delay: 3
Sitemap: https://example.com/extra.xml.gz
"""


def fast(**overrides: object) -> FetchSettings:
    return FetchSettings(**({"delay": 0.0, "backoff_base": 0.01, "backoff_max": 0.02} | overrides))  # type: ignore[arg-type]


def robots_reply(body: bytes) -> Reply:
    return Reply(body=body, content_type="text/plain")


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


# ---- the rules themselves -------------------------------------------------------------------


def test_2xx_is_parsed_with_the_group_for_our_agent() -> None:
    rules = RobotsRules.from_response(200, ROBOTS)
    assert rules.status == "parsed" and rules.reachable
    assert not rules.allows("https://example.com/no-verdicts/x", UA)
    assert rules.allows("https://example.com/no-verdicts/open/x", UA)
    assert rules.allows("https://example.com/private", UA)  # that group is for other agents
    assert not rules.allows("https://example.com/private", "SomeOtherBot/2.0")
    assert rules.crawl_delay(UA) == 3.0
    assert rules.sitemaps == ("https://example.com/sitemap-index.xml", "https://example.com/extra.xml.gz")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_4xx_allows_everything(status: int) -> None:
    rules = RobotsRules.from_response(status, b"User-agent: *\nDisallow: /")
    assert rules.status == "allow_all"
    assert rules.allows("https://example.com/anything", UA)
    assert rules.crawl_delay(UA) is None and rules.sitemaps == ()


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_makes_the_origin_unreachable(status: int) -> None:
    rules = RobotsRules.from_response(status, b"")
    assert not rules.reachable
    assert not rules.allows("https://example.com/", UA)
    assert rules.error == f"robots.txt answered HTTP {status}"


def test_only_the_first_500_kib_are_read() -> None:
    padding = b"# " + b"x" * (600 * 1024) + b"\n"
    rules = RobotsRules.from_response(200, b"User-agent: *\n" + padding + b"Disallow: /\n")
    assert rules.allows("https://example.com/page", UA)  # the Disallow was past the limit


async def test_cache_loads_once_for_concurrent_callers() -> None:
    calls: list[str] = []

    async def load(origin: str) -> RobotsRules:
        calls.append(origin)
        await asyncio.sleep(0.01)
        return RobotsRules("allow_all")

    cache = RobotsCache(load)
    results = await asyncio.gather(*(cache.get("http://a.example") for _ in range(20)))
    assert calls == ["http://a.example"]
    assert all(result.status == "allow_all" for result in results)
    assert cache.cached("http://a.example") is results[0]


# ---- over real HTTP ---------------------------------------------------------------------------


async def test_robots_is_fetched_first_and_disallowed_url_never_requested(server: FaultServer) -> None:
    server.route("/robots.txt", robots_reply(b"User-agent: *\nDisallow: /private\n"))
    async with Fetcher(fast()) as fetcher:
        allowed = await fetcher.fetch(server.url("/public"))
        blocked = await fetcher.fetch(server.url("/private/page"))
    assert allowed.outcome == "gone"  # /public is not routed: the server answered 404
    assert (blocked.outcome, blocked.error, blocked.attempts) == ("disallowed", "disallowed by robots.txt", 0)
    assert server.paths() == ["/robots.txt", "/public"]


async def test_concurrent_first_requests_share_one_robots_fetch(server: FaultServer) -> None:
    server.route(
        "/robots.txt", Reply(body=b"User-agent: *\nAllow: /\n", content_type="text/plain", delay=0.1)
    )
    async with Fetcher(fast(per_host=4)) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(server.url(f"/p{n}")) for n in range(8)))
    assert all(result.outcome == "gone" for result in results)
    paths = server.paths()
    assert paths.count("/robots.txt") == 1
    assert paths[0] == "/robots.txt"


async def test_robots_503_skips_the_host_and_requests_nothing_else(server: FaultServer) -> None:
    server.route("/robots.txt", Reply(503, b"down", content_type="text/plain"))
    async with Fetcher(fast(max_attempts=2)) as fetcher:
        first = await fetcher.fetch(server.url("/a"))
        second = await fetcher.fetch(server.url("/b"))
        sitemaps = await fetcher.sitemaps_for(server.origin)
    for result in (first, second):
        assert result.outcome == "skipped"
        assert result.error == "host skipped: robots.txt: HTTP 503 after 2 attempts"
    assert sitemaps == []
    assert server.paths() == ["/robots.txt", "/robots.txt"]  # retried once, then nothing else


async def test_robots_404_allows_everything(server: FaultServer) -> None:
    server.route("/a", Reply())
    async with Fetcher(fast()) as fetcher:
        result = await fetcher.fetch(server.url("/a"))
    assert result.outcome == "fetched"
    assert server.paths() == ["/robots.txt", "/a"]


async def test_robots_redirect_on_same_host_is_followed(server: FaultServer) -> None:
    server.route("/robots.txt", Reply(301, b"", headers={"Location": "/real-robots.txt"}))
    server.route("/real-robots.txt", robots_reply(b"User-agent: *\nDisallow: /\n"))
    async with Fetcher(fast()) as fetcher:
        result = await fetcher.fetch(server.url("/a"))
    assert result.outcome == "disallowed"
    assert server.paths() == ["/robots.txt", "/real-robots.txt"]


async def test_crawl_delay_is_honoured_when_larger(server: FaultServer) -> None:
    server.route("/robots.txt", robots_reply(b"User-agent: *\nCrawl-delay: 3\n"))
    fake = FakeTime()
    async with Fetcher(fast(delay=1.0), sleep=fake.sleep, clock=fake.clock) as fetcher:
        for page in ("/a", "/b", "/c"):
            await fetcher.fetch(server.url(page))
        assert fetcher.politeness.host_delay("127.0.0.1") == 3.0
    # Every page starts 3 s after the previous request (robots.txt included).
    assert fake.waits == [pytest.approx(3.0)] * 3


async def test_configured_delay_wins_over_smaller_crawl_delay(server: FaultServer) -> None:
    server.route("/robots.txt", robots_reply(b"User-agent: *\nCrawl-delay: 0.5\n"))
    fake = FakeTime()
    async with Fetcher(fast(delay=2.0), sleep=fake.sleep, clock=fake.clock) as fetcher:
        await fetcher.fetch(server.url("/a"))
        await fetcher.fetch(server.url("/b"))
    assert fake.waits == [pytest.approx(2.0)] * 2


async def test_huge_crawl_delay_is_capped_and_logged(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/robots.txt", robots_reply(b"User-agent: *\nCrawl-delay: 86400\n"))
    fake = FakeTime()
    async with Fetcher(fast(delay=1.0), sleep=fake.sleep, clock=fake.clock) as fetcher:
        with caplog.at_level("WARNING", logger="crawler.robots"):
            await fetcher.fetch(server.url("/a"))
        await fetcher.fetch(server.url("/b"))
        assert fetcher.politeness.host_delay("127.0.0.1") == 60.0
    assert fake.waits == [pytest.approx(60.0)] * 2  # not a day between requests
    assert "Crawl-delay 86400 s" in caplog.text and server.url("") in caplog.text


async def test_crawl_delay_cap_is_configurable(server: FaultServer) -> None:
    server.route("/robots.txt", robots_reply(b"User-agent: *\nCrawl-delay: 90\n"))
    fake = FakeTime()
    settings = fast(delay=1.0, max_crawl_delay=5.0)
    async with Fetcher(settings, sleep=fake.sleep, clock=fake.clock) as fetcher:
        await fetcher.fetch(server.url("/a"))
        assert fetcher.politeness.host_delay("127.0.0.1") == 5.0
    rules = RobotsRules.from_response(200, b"User-agent: *\nCrawl-delay: 90\n")
    assert rules.crawl_delay(UA) == 90.0  # the file's own value stays readable
    assert rules.bounded_crawl_delay(UA, cap=120.0) == 90.0


async def test_sitemaps_for_lists_robots_sitemap_lines(server: FaultServer) -> None:
    server.route("/robots.txt", robots_reply(ROBOTS))
    async with Fetcher(fast()) as fetcher:
        sitemaps = await fetcher.sitemaps_for(server.url("/any/page"))
    assert sitemaps == ["https://example.com/sitemap-index.xml", "https://example.com/extra.xml.gz"]
    assert server.paths() == ["/robots.txt"]
