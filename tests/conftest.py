"""Shared pytest fixtures: real servers on 127.0.0.1 and fresh archives in tmp dirs."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.demo import DEMO_SITE
from crawler.static_server import StaticServer
from tests.chromium import required

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@pytest.fixture
def archive_path(tmp_path: Path) -> Path:
    """Where a test's archive lives (created on first open)."""
    return tmp_path / "archive.db"


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """A private copy of the bundled site, so a test may change it."""
    return Path(shutil.copytree(DEMO_SITE, tmp_path / "site"))


@pytest.fixture
def server(site_dir: Path) -> Iterator[StaticServer]:
    """`site_dir` served on 127.0.0.1 (a test module may define its own `server` instead)."""
    with StaticServer(site_dir) as running:
        yield running


def restore_datasette_plugins(before: list[tuple[str, object]]) -> list[str]:
    """Register again the Datasette plugins of `before` that are no longer registered."""
    from datasette.plugins import pm

    restored = []
    for name, plugin in before:
        if plugin is not None and not pm.is_registered(plugin):
            pm.register(plugin, name=name)
            restored.append(name)
    return restored


@pytest.fixture(autouse=True)
def keep_datasette_plugins() -> Iterator[None]:
    """`make_datasette` unregisters unlisted Datasette plugins for the whole process (right for
    `verdicts serve`); in the test session each test gets them back afterwards."""
    from datasette.plugins import pm

    before = list(pm.list_name_plugin())
    yield
    restore_datasette_plugins(before)


@pytest.fixture(autouse=True)
def keep_signal_handlers() -> Iterator[None]:
    """`verdicts crawl` keeps its stop handlers until its process exits, then ignores stop
    signals (crawler/stopping.py); a test that runs it in this process gets the session's
    handlers back afterwards."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in before.items():
        if handler is not None:
            signal.signal(sig, handler)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a skipped test is a failed one: whatever it needed is missing, so it proved nothing.
    (An expected failure, xfail, is not a skip.)"""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and required():
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {skip_reason(report.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """The same for a whole module skipped while it is collected."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and required():
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {skip_reason(report.longrepr)}"


def skip_reason(longrepr: object) -> str:
    """The message of a skip report (pytest keeps it as (file, line, message))."""
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
