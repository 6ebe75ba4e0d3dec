"""The browser fetch: pages of a `render = "browser"` site parsed as headless Chromium builds them.

Some sites send an empty shell and build the page with scripts. For such a site each
fetched HTML page is loaded in headless Chromium (Playwright's async API), a few pages at
a time, and its DOM once the network is idle (bounded by a timeout),
`document.documentElement.outerHTML`, is what gets parsed. A run starts one Chromium for
all its sites that render (`Browser`), each site in its own context (`Renderer`). The raw bytes stay the
snapshot; the rendered HTML is stored beside them (docs/render.md).

The browser reaches no network by itself. Every request it makes is routed here
(`page.route`): the page's own document is answered with the bytes the Fetcher already
fetched (no second fetch), and every other request goes through that same Fetcher, so
robots.txt of its host, the per-host delay and concurrency, the User-Agent and the size
cap hold as for a plain fetch. A request to a host the site does not allow, one that
robots.txt disallows, and any second navigation are aborted and counted
(`RenderStats.blocked`, in the crawl summary). Chromium runs with a proxy that does not
exist (for loopback too) and no name resolution, so anything the routing would miss fails
instead of leaving the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from typing import Any

from crawler.results import FetchResult
from crawler.urls import host_matches, host_of

__all__ = ["Browser", "BrowserMissing", "RenderStats", "Renderer", "check_browser", "chromium_path"]

DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: The environment variable naming the browser's executable (verdicts.toml's `chromium` wins).
CHROMIUM_ENV = "VERDICTS_CHROMIUM"
#: Pages open in the browser at once: each holds a renderer process (~50-100 MB).
PAGES_AT_ONCE = 4
#: Seconds a page may take to load (its document and the scripts it waits for).
LOAD_SECONDS = 30.0
#: Seconds to wait for the network to go idle after the load; the DOM is taken then anyway.
IDLE_SECONDS = 10.0
#: Blocked subrequests named in the summary (the rest are counted).
BLOCKED_KEPT = 10
INSTALL = "pip install 'verdict-archive[browser]'"
#: The flags every headless Chromium of the project starts with: the crawl's (below) and the
#: reference browser the tests read pages in, which reaches loopback freely.
BASE_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Whatever the routing does not see (a WebSocket, a prefetch) goes nowhere, twice over
#: (tests/test_render_network.py): to a proxy that does not exist, loopback included
#: (Chromium sends loopback past any proxy unless told `<-loopback>`), and no host name
#: or address resolves.
NETWORK_BARRIERS = (
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--dns-prefetch-disable",
)
#: The crawl's browser: the base flags, shared memory in /tmp, and the network barriers.
CHROMIUM_ARGS = (*BASE_ARGS, "--disable-dev-shm-usage", *NETWORK_BARRIERS)


class BrowserMissing(Exception):
    """Playwright or Chromium is not installed; the message says how to install it."""


def chromium_path(configured: str | None = None) -> str:
    """The browser's executable: verdicts.toml's `chromium`, $VERDICTS_CHROMIUM, or Debian's."""
    path = configured or os.environ.get(CHROMIUM_ENV)
    if path:
        return path
    if os.path.exists(DEFAULT_CHROMIUM):
        return DEFAULT_CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser") or DEFAULT_CHROMIUM


def check_browser(configured: str | None = None) -> str:
    """The executable to launch; raises BrowserMissing (one sentence with the install
    command) when Playwright cannot be imported or the executable is not there."""
    try:
        import playwright.async_api  # noqa: F401 - only whether it imports
    except ImportError:
        raise BrowserMissing(
            f'render = "browser" needs Playwright, which is not installed: run `{INSTALL}` '
            "(and `apt-get install chromium` for the browser)."
        ) from None
    path = chromium_path(configured)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise BrowserMissing(
            f'render = "browser" needs Chromium, and {path} is not an executable: install it with '
            f"`apt-get install chromium` (or set `chromium` in verdicts.toml or ${CHROMIUM_ENV} to its path)."
        )
    return path


@dataclass(slots=True)
class RenderStats:
    """What the browser did over a crawl (for the summary)."""

    pages: int = 0  # pages rendered
    failed: int = 0  # pages whose render failed (parsed as served instead)
    timed_out: int = 0  # pages whose network never went idle (the DOM was taken at the bound)
    stopped: int = 0  # renders cut short by the crawl stopping (not stored: the next crawl fetches them)
    subrequests: int = 0  # requests answered through the Fetcher
    blocked: Counter[str] = field(default_factory=Counter)  # reason -> aborted requests
    examples: list[tuple[str, str]] = field(default_factory=list)  # (url, reason), the first few
    errors: list[tuple[str, str]] = field(default_factory=list)  # (page url, why its render failed)
    browser_pid: int | None = None  # the run's Chromium (one for every site of the run)

    def block(self, url: str, reason: str) -> None:
        self.blocked[reason] += 1
        if len(self.examples) < BLOCKED_KEPT:
            self.examples.append((url, reason))


async def _quietly(closing: Awaitable[object]) -> None:
    """Await a close: an error while closing the browser's parts is not the crawl's."""
    with contextlib.suppress(Exception):
        await closing


class Browser:
    """The run's one headless Chromium, shared by every `render = "browser"` site of it.

    Launched when the first site asks for it (a run with no such site starts none) and
    closed at the end of the run; each site gets its own context (`Renderer`). A launch
    that failed is not tried again: every site asking after it gets the same error.
    """

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.launches = 0  # how many times a browser process was started (one at most)
        self._lock = asyncio.Lock()
        self._playwright: Any = None
        self._browser: Any = None
        self._failed: BaseException | None = None
        self._pid: int | None = None

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def started(self) -> Any:
        """Playwright's Browser, launched on the first call."""
        async with self._lock:
            if self._failed is not None:
                raise self._failed
            if self._browser is None:
                try:
                    await self._launch()
                except BaseException as error:
                    if isinstance(error, Exception):  # (a cancelled launch is not the browser's failure)
                        self._failed = error
                    await self.aclose()
                    raise
        return self._browser

    async def _launch(self) -> None:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        self.launches += 1
        self._browser = await self._playwright.chromium.launch(
            executable_path=self.executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        with contextlib.suppress(Exception):  # Playwright does not say; Chromium itself does
            session = await self._browser.new_browser_cdp_session()
            processes = (await session.send("SystemInfo.getProcessInfo"))["processInfo"]
            self._pid = next(p["id"] for p in processes if p["type"] == "browser")
            await session.detach()

    async def aclose(self) -> None:
        """Close the browser and Playwright's driver (errors while closing are not the crawl's)."""
        if self._browser is not None:
            await _quietly(self._browser.close())
            self._browser = None
        if self._playwright is not None:
            await _quietly(self._playwright.stop())
            self._playwright = None

    def pid(self) -> int | None:
        """The browser's process id (for tests and benchmarks that watch its processes)."""
        return self._pid


class Renderer:
    """One site's context in the run's Chromium; `render(result)` adds the DOM it builds.

    `fetcher` is the crawl's `crawler.fetch.Fetcher`: every subrequest goes through it.
    `allowed_hosts` are the site's hosts (a request elsewhere is aborted before the Fetcher).
    """

    def __init__(
        self,
        fetcher: Any,
        browser: Browser,
        allowed_hosts: frozenset[str],
        *,
        user_agent: str,
        pages: int = PAGES_AT_ONCE,
        load_seconds: float = LOAD_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.fetcher = fetcher
        self.browser = browser
        self.allowed = allowed_hosts
        self.user_agent = user_agent
        self.load_seconds = load_seconds
        self.idle_seconds = idle_seconds
        self.stats = RenderStats()
        self._slots = asyncio.Semaphore(max(1, pages))
        self._context: Any = None
        self._stopping = False
        self._loading: set[asyncio.Future[str]] = set()

    async def __aenter__(self) -> Renderer:
        browser = await self.browser.started()
        self._context = await browser.new_context(
            user_agent=self.user_agent, service_workers="block", accept_downloads=False
        )
        self.stats.browser_pid = self.browser.pid()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close this site's context (the browser stays for the run's other sites)."""
        if self._context is not None:
            await _quietly(self._context.close())
            self._context = None

    def stop(self) -> None:
        """The crawl is stopping: close the pages loading now, unfinished, and start no more
        (their `render` returns None), rather than wait up to LOAD_SECONDS + IDLE_SECONDS."""
        self._stopping = True
        for loading in self._loading:
            loading.cancel()

    async def render(self, result: FetchResult) -> FetchResult | None:
        """`result` with `rendered` set to the DOM Chromium built from its body; unchanged
        (the page is parsed as served) when the browser failed on it; None when the crawl
        stopped first (the page is not stored, so the next crawl fetches it again)."""
        url = result.final_url or result.url
        async with self._slots:
            if self._stopping:
                self.stats.stopped += 1
                return None
            page = await self._context.new_page()
            if self._stopping:  # stop() came while the page opened: it would not cancel this load
                await _quietly(page.close())
                self.stats.stopped += 1
                return None
            loading = asyncio.ensure_future(self._load(page, url, result))
            self._loading.add(loading)
            try:
                html = await loading
            except asyncio.CancelledError:
                me = asyncio.current_task()
                if not self._stopping or (me is not None and me.cancelling()):
                    raise  # cancelled from outside, not by stop()
                self.stats.stopped += 1
                return None
            except Exception as error:  # a browser problem on one page must not stop the crawl
                self.stats.failed += 1
                if len(self.stats.errors) < BLOCKED_KEPT:
                    self.stats.errors.append((url, f"{type(error).__name__}: {str(error).splitlines()[0]}"))
                return result
            finally:
                self._loading.discard(loading)
                await _quietly(page.close())
        self.stats.pages += 1
        return replace(result, rendered=html)

    async def _load(self, page: Any, url: str, result: FetchResult) -> str:
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        served = asyncio.Event()

        async def route(route: Any, request: Any) -> None:
            await self._route(route, request, page, url, result, served)

        await page.route("**/*", route)
        await page.goto(url, wait_until="load", timeout=self.load_seconds * 1000)
        try:
            await page.wait_for_load_state("networkidle", timeout=self.idle_seconds * 1000)
        except PlaywrightTimeout:
            self.stats.timed_out += 1
        html: str = await page.evaluate("document.documentElement.outerHTML")
        return html

    async def _route(
        self, route: Any, request: Any, page: Any, url: str, result: FetchResult, served: asyncio.Event
    ) -> None:
        """Answer one request of the page: its document from the fetched bytes, the rest
        through the Fetcher, or abort it (and count why)."""
        target = request.url.partition("#")[0]
        if request.is_navigation_request() and request.frame == page.main_frame:
            if served.is_set():
                self.stats.block(target, "navigation away from the page")
                await route.abort("blockedbyclient")
                return
            served.set()
            headers = {"content-type": result.content_type or "text/html"}
            await route.fulfill(status=result.http_status or 200, headers=headers, body=result.body)
            return
        if not target.startswith(("http://", "https://")):
            self.stats.block(target[:200], "not http(s)")
            await route.abort("blockedbyclient")
            return
        if not host_matches(host_of(target), self.allowed):
            self.stats.block(target, "host not allowed")
            await route.abort("blockedbyclient")
            return
        fetched = await self.fetcher.fetch(target, kind_hint="resource", decode=False)
        outcome = fetched.outcome
        if outcome == "fetched" or (outcome in ("gone", "failed") and fetched.http_status):
            self.stats.subrequests += 1
            headers = {"content-type": fetched.content_type} if fetched.content_type else {}
            await route.fulfill(status=fetched.http_status or 200, headers=headers, body=fetched.body)
            return
        if outcome == "disallowed":
            self.stats.block(target, "disallowed by robots.txt")
        elif outcome == "skipped":
            self.stats.block(target, fetched.error or "skipped")
        else:
            self.stats.block(target, f"failed: {fetched.error}")
        await route.abort("blockedbyclient" if outcome in ("disallowed", "skipped") else "failed")
