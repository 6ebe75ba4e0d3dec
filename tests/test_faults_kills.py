"""Kill storms, CI-sized: a few crawls and a reparse of the bundled site SIGKILLed at a
random (seeded) moment, each followed by the checks of bench/fault_storms.py: integrity and
foreign keys, the next run completes, rows equal one clean crawl's table by table, and only
pages not committed are fetched again. `python bench/faults.py --kills 50` is the full storm.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.fault_storms import crawl_storm, reparse_storm, run
from crawler.config import Settings, Site
from crawler.demo import DEMO_SITE
from crawler.engine import crawl
from crawler.static_server import StaticServer
from db import crawl_log
from db.archive import open_archive
from tests.archive_compare import archive_content, differences, integrity_problems


@pytest.fixture(scope="module")
def server() -> Iterator[StaticServer]:
    with StaticServer(DEMO_SITE) as running:
        yield running


@pytest.fixture(scope="module")
def clean(server: StaticServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, set]:
    path = tmp_path_factory.mktemp("clean") / "archive.db"
    assert run("crawl", f"{server.origin}/", "--db", str(path), "--delay", "0").returncode == 0
    return archive_content(path)


def test_a_crawl_killed_before_its_first_commit_is_started_over(
    server: StaticServer, tmp_path: Path, clean: dict[str, set]
) -> None:
    """Killed between its crawls row and the writer's first commit: a `running` row with no
    frontier. The next crawl took it over and found nothing to do ("completed", 0 pages)."""
    path = tmp_path / "archive.db"
    starts = [f"{server.origin}/"]
    db = open_archive(path)
    dead = crawl_log.begin(db, crawl_log.site_key(starts), starts)  # ... and SIGKILL here
    db.close()
    settings = Settings(db_path=path, sites=(Site(name="fixture", start_urls=tuple(starts)),), delay=0.0)
    report = crawl(settings)
    assert report.resumed_from == dead.crawl_id
    assert report.status == "completed"
    assert differences(archive_content(path), clean) == {}
    assert integrity_problems(path) == []


def test_crawls_killed_at_random_moments(server: StaticServer, tmp_path: Path, clean: dict[str, set]) -> None:
    # the whole process group on a fresh archive, the writer alone in a re-crawl, then the
    # crawl process alone (its orphaned writer still storing as the next run starts)
    storm = crawl_storm(tmp_path, server.origin, 3, server.requests, random.Random(14), clean)
    assert storm.failures() == [], storm.notes


def test_reparses_killed_at_random_moments(
    server: StaticServer, tmp_path: Path, clean: dict[str, set]
) -> None:
    storm = reparse_storm(tmp_path, server.origin, 2, random.Random(14), clean)
    assert storm.failures() == [], storm.notes
