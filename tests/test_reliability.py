"""Crawls that stop early resume: --max-pages, a dead writer, a failed sender (issue 14 §1).

Each crawl here runs over real loopback HTTP into a real SQLite file; the next run
must reach the whole bundled site and fetch again (unconditionally) only what the
stopped run did not commit.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
from pathlib import Path

import pytest

from crawler import engine
from crawler.config import Settings, Site, load_settings
from crawler.engine import crawl
from crawler.static_server import StaticServer
from crawler.writer import _Writer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
COMPARISONS = json.loads((FIXTURES / "expected" / "site.json").read_text(encoding="utf-8"))["counts"][
    "comparisons"
]


def settings_for(origin: str, db_path: Path, **overrides: object) -> Settings:
    site = Site(name="fixture", start_urls=(f"{origin}/",))
    values: dict = {"delay": 0.0, "lock_timeout": 0.0, **overrides}
    return Settings(db_path=db_path, sites=(site,), **values)


def query(db_path: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def done_pages(db_path: Path, crawl_id: int) -> set[str]:
    rows = query(db_path, "SELECT url FROM frontier WHERE crawl_id = ? AND state = 'done'", crawl_id)
    return {url for (url,) in rows}


def unconditional(server: StaticServer, since: int) -> set[str]:
    return {
        server.origin + r.path for r in server.requests[since:] if r.method == "GET" and not r.conditional
    }


def test_a_max_pages_stop_is_resumed_and_the_next_crawl_reaches_the_whole_site(
    server: StaticServer, archive_path: Path
) -> None:
    capped = crawl(settings_for(server.origin, archive_path, max_pages=3))
    assert (capped.status, capped.requests) == ("completed", 3)
    assert any("the next crawl resumes" in reason for reason in capped.reasons)
    committed = done_pages(archive_path, capped.crawl_id)
    asked = len(server.requests)

    full = crawl(settings_for(server.origin, archive_path))
    assert full.status == "completed", full.reasons
    assert full.resumed_from == capped.crawl_id
    assert query(archive_path, "SELECT count(*) FROM comparisons") == [(COMPARISONS,)]
    assert committed and not committed & unconditional(server, asked)


def test_a_dead_writer_fails_the_crawl_and_the_next_run_fetches_only_what_was_not_committed(
    server: StaticServer, archive_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writers: list[engine.WriterProcess] = []
    original = engine.WriterProcess.__init__

    def record(self: engine.WriterProcess, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        writers.append(self)

    monkeypatch.setattr(engine.WriterProcess, "__init__", record)
    killed = threading.Event()

    def kill_the_writer_mid_crawl() -> None:
        for _ in range(600):
            if writers and (archive_path.exists() and len(done_pages(archive_path, 1)) >= 6):
                os.kill(writers[0].pid, signal.SIGKILL)
                killed.set()
                return
            threading.Event().wait(0.05)

    killer = threading.Thread(target=kill_the_writer_mid_crawl)
    killer.start()
    first = crawl(settings_for(server.origin, archive_path, delay=0.3, per_host=1))
    killer.join()
    assert killed.is_set()
    assert first.status == "failed"
    assert "the writer process stopped" in first.reasons[0]
    assert "writer" in query(archive_path, "SELECT error FROM crawls WHERE id = 1")[0][0]
    committed = done_pages(archive_path, 1)
    assert committed and query(archive_path, "SELECT count(*) FROM frontier WHERE state = 'queued'")[0][0]
    asked = len(server.requests)

    second = crawl(settings_for(server.origin, archive_path))
    assert second.status == "completed", second.reasons
    assert second.resumed_from == first.crawl_id
    assert not committed & unconditional(server, asked)
    assert query(archive_path, "SELECT count(*) FROM comparisons") == [(COMPARISONS,)]
    assert query(archive_path, "PRAGMA integrity_check") == [("ok",)]


def test_a_sender_failure_stops_the_crawl_at_once_with_its_cause(
    server: StaticServer, archive_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    weight = engine._weight

    def failing_weight(item: tuple) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom")
        return weight(item)

    monkeypatch.setattr(engine, "_weight", failing_weight)
    monkeypatch.setattr(engine, "WRITER_FINISH_SECONDS", 5.0)  # before: a silent wait for the writer
    report = crawl(settings_for(server.origin, archive_path))
    assert report.status == "failed"
    assert "results could not be sent to the writer: RuntimeError: boom" in report.reasons[0]
    error = query(archive_path, "SELECT error FROM crawls WHERE id = ?", report.crawl_id)[0][0]
    assert "RuntimeError: boom" in error

    monkeypatch.setattr(engine, "_weight", weight)
    again = crawl(settings_for(server.origin, archive_path))
    assert again.status == "completed"
    assert again.resumed_from == report.crawl_id
    assert query(archive_path, "SELECT count(*) FROM comparisons") == [(COMPARISONS,)]


def test_durability_sets_how_commits_are_synced(archive_path: Path, tmp_path: Path) -> None:
    from db.archive import open_archive

    open_archive(archive_path).close()
    for durability, level in (("normal", 1), ("full", 2)):
        writer = _Writer(str(archive_path), 1, durability)
        assert writer.db.execute("PRAGMA synchronous").fetchone() == (level,)
        writer.db.close()
    config = tmp_path / "verdicts.toml"
    config.write_text('durability = "full"\n[[sites]]\nstart_urls = ["http://127.0.0.1:9/"]\n')
    assert load_settings(config).durability == "full"
    assert load_settings(config, durability="normal").durability == "normal"
    assert load_settings(None, urls=["http://127.0.0.1:9/"]).durability == "normal"
