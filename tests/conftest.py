"""Shared pytest fixtures: real servers on 127.0.0.1 and fresh archives in tmp dirs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.demo import DEMO_SITE
from crawler.static_server import StaticServer

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
