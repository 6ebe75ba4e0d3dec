"""Chromium as the crawl starts it reaches no network by itself (crawler/render.py).

Every request of a rendered page is meant to go through the crawl's routing; the browser is
started with a proxy that does not exist and no name resolution, so that a request the
routing misses fails instead of leaving the machine. Here a page with NO route handler, in
a browser launched by crawler.render.Browser (the project's exact arguments), asks
loopback servers for a page, a fetch and a WebSocket: the servers must see nothing. Each
barrier (the proxy, the name resolution) must hold alone too. The same requests from a
browser started without those flags do reach them, so the servers and the requests are
known to work.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from crawler.demo import DEMO_RENDERED
from crawler.render import CHROMIUM_ARGS, Browser
from crawler.static_server import StaticServer
from tests.chromium import CHROMIUM, require_chromium

pytestmark = pytest.mark.browser

require_chromium()

#: The two barriers that keep the browser off the network, by the flags each is made of.
BARRIERS = {
    "proxy": ("--proxy-server=", "--proxy-bypass-list="),
    "name resolution": ("--host-resolver-rules=", "--dns-prefetch-disable"),
}
NO_NETWORK = tuple(prefix for flags in BARRIERS.values() for prefix in flags)


async def try_everything(browser: Any, origins: list[str]) -> list[str]:
    """Navigate, fetch and open a WebSocket to each origin from a page with no routing;
    what each attempt came to."""
    outcomes = []
    context = await browser.new_context()
    try:
        for origin in origins:
            page = await context.new_page()
            try:
                await page.goto(origin + "/robots.txt", timeout=15_000)
                outcomes.append("navigated")
            except Exception as error:
                outcomes.append(str(error).splitlines()[0])
            await page.close()
            page = await context.new_page()  # about:blank
            outcomes.append(
                await page.evaluate(
                    "u => fetch(u, {mode: 'no-cors'}).then(() => 'fetched', e => 'fetch failed: ' + e)",
                    origin + "/index.html",
                )
            )
            outcomes.append(
                await page.evaluate(
                    """u => new Promise(done => {
                        const socket = new WebSocket(u);
                        socket.onopen = () => done('socket open');
                        socket.onerror = () => done('socket failed');
                    })""",
                    origin.replace("http://", "ws://") + "/socket",
                )
            )
            await page.close()
    finally:
        await context.close()
    return outcomes


async def launch_and_try(playwright: Any, args: list[str], origins: list[str]) -> list[str]:
    browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
    try:
        return await try_everything(browser, origins)
    finally:
        await browser.close()


async def test_a_request_the_routing_misses_reaches_no_loopback_server() -> None:
    from playwright.async_api import async_playwright

    with StaticServer(DEMO_RENDERED) as first, StaticServer(DEMO_RENDERED, host="127.0.0.2") as second:

        def seen() -> list[str]:
            return [r.path for r in (*first.requests, *second.requests)]

        origins = [first.origin, second.origin, first.origin.replace("127.0.0.1", "localhost")]
        async with Browser(str(CHROMIUM)) as browser:  # exactly as a crawl starts it
            outcomes = {"as the crawl starts it": await try_everything(await browser.started(), origins)}
        assert seen() == []

        plain = [arg for arg in CHROMIUM_ARGS if not arg.startswith(NO_NETWORK)]
        assert len(plain) == len(CHROMIUM_ARGS) - len(NO_NETWORK)  # every barrier flag is there
        async with async_playwright() as playwright:
            for barrier, prefixes in BARRIERS.items():
                alone = [*plain, *(arg for arg in CHROMIUM_ARGS if arg.startswith(prefixes))]
                outcomes[f"{barrier} alone"] = await launch_and_try(playwright, alone, origins[:2])
                assert seen() == [], barrier
            reached = await launch_and_try(playwright, plain, origins[:2])
        seen_without = seen()

    for how, attempts in outcomes.items():
        assert not any(a in ("navigated", "fetched", "socket open") for a in attempts), (how, attempts)
    # without the barriers the same requests arrive: the server and the requests work
    assert reached[0::3] == ["navigated"] * 2 and reached[1::3] == ["fetched"] * 2, reached
    asked = Counter(seen_without)
    assert [asked[path] for path in ("/robots.txt", "/index.html", "/socket")] == [2, 2, 2], asked
