"""The published archive in a real browser: headless Chromium against `verdicts serve`.

Starts the real command (`python -m crawler.cli serve`) on a free 127.0.0.1 port over a
small archive, then drives Debian's Chromium with Playwright through what an analyst
does first: the home page, a search, a canned query, the chart pages. Any console
error, failed request, HTTP error or request to another host fails the test, and each
step leaves a screenshot (in the test's tmp dir, or in $VERDICTS_SCREENSHOT_DIR).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.loopback import free_port
from tests.test_publish import SCRIPT_QUOTE, build_sample_archive

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent

require_chromium()

from playwright.sync_api import (  # noqa: E402 - only once Chromium is known to exist
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    sync_playwright,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`verdicts serve` on a sample archive, on a free port; yields its base URL."""
    db_path = tmp_path_factory.mktemp("browser") / "nightly-2026.db"
    build_sample_archive(db_path)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "serve", "--db", str(db_path), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a loaded CI machine starts Datasette slowly
        while True:
            try:
                if httpx.get(base + "/-/versions.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()  # reading a live process's output would wait for ever
                output = process.stdout.read().decode() if process.stdout else ""
                raise RuntimeError(f"verdicts serve did not start:\n{output}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


@dataclass
class Problems:
    """Everything that went wrong in the browser, reported together at the end."""

    items: list[str] = field(default_factory=list)

    def watch(self, page: Page, base: str) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.items.append(f"console error on {page.url}: {message.text}")

        def on_response(response: Response) -> None:
            if response.status >= 400:
                self.items.append(f"HTTP {response.status} for {response.url}")

        def on_failed(request: Request) -> None:
            self.items.append(f"request failed: {request.url} ({request.failure})")

        def on_route(route: Route) -> None:
            url = route.request.url
            if url.startswith((base + "/", "data:", "blob:")):
                route.continue_()
            else:
                self.items.append(f"request to another host: {url}")
                route.abort()

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.items.append(f"page error: {error}"))
        page.on("response", on_response)
        page.on("requestfailed", on_failed)
        page.on("dialog", lambda dialog: self.items.append(f"dialog: {dialog.message}"))
        page.route("**/*", on_route)


def screenshot_dir(tmp_path: Path) -> Path:
    chosen = os.environ.get("VERDICTS_SCREENSHOT_DIR")
    directory = Path(chosen) if chosen else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def test_analyst_walkthrough(server: str, tmp_path: Path) -> None:
    shots = screenshot_dir(tmp_path)
    problems = Problems()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            problems.watch(page, server)

            page.goto(server + "/")
            assert "Verdict archive" in page.title()
            assert page.get_by_role("link", name="most repeated verdicts").count() == 1
            page.screenshot(path=shots / "home.png", full_page=True)

            page.goto(server + "/archive")
            assert page.locator("h2", has_text="Queries").count() == 1
            page.screenshot(path=shots / "database.png", full_page=True)

            page.goto(server + "/archive/verdicts")
            page.fill("input[name=_search]", "rewritten")
            page.press("input[name=_search]", "Enter")
            page.wait_for_url("**_search=rewritten**")
            rows = page.locator("table.rows-and-columns tbody tr")
            assert rows.count() == 1
            assert "rewritten after the price rise" in rows.first.inner_text()
            page.screenshot(path=shots / "search.png", full_page=True)

            page.goto(server + "/archive/verdicts?_search=script")
            assert SCRIPT_QUOTE in page.locator("table.rows-and-columns").inner_text()

            page.goto(server + "/archive/comparisons_of_a_tool")
            page.fill("input[name=tool]", "windsurf")
            page.click("form.sql input[type=submit]")
            page.wait_for_url("**tool=windsurf**")
            table = page.locator("table.rows-and-columns")
            assert table.locator("tbody tr").count() == 2
            assert "Cursor" in table.inner_text()
            page.screenshot(path=shots / "canned-query.png", full_page=True)

            for dashboard, charts in (("prices", 3), ("verdicts", 4)):
                page.goto(f"{server}/-/dashboards/{dashboard}")
                drawn = page.locator(".dashboard-card-chart canvas, .dashboard-card-chart svg")
                drawn.nth(charts - 1).wait_for(state="attached")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=shots / f"dashboard-{dashboard}.png", full_page=True)

            page.goto(f"{server}/-/dashboards/prices/price-history?tool=Cursor")
            page.locator(".chart-container canvas, .chart-container svg").first.wait_for(state="attached")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=shots / "chart-price-history.png", full_page=True)
        finally:
            browser.close()
    assert not problems.items, "\n".join(problems.items)
