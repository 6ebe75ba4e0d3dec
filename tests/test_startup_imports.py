"""The crawl's main process opens a current archive without sqlite-utils (issue 8: start-up CPU).

`db.archive.open_current` checks with two plain reads that every migration is applied and
every view current; only an archive needing an upgrade goes through sqlite-utils.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from db import crawl_log
from db.archive import ArchiveConnection, connect_sqlite, open_archive, open_current
from db.migrations import STEPS, is_current
from db.views import VIEWS, view_sql

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_crawl_modules_do_not_import_sqlite_utils() -> None:
    code = (
        "import sys; import crawler.cli, crawler.engine, db.quality, db.crawl_log, db.migrations, "
        "db.views, db.archive; print('sqlite_utils' in sys.modules)"
    )
    assert _run(code) == "False"


def test_open_current_on_a_current_archive_skips_sqlite_utils(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    open_archive(path).close()
    code = (
        "import sys; from db.archive import open_current; "
        f"conn = open_current({str(path)!r}); "
        "print('sqlite_utils' in sys.modules, 'pages' in conn.table_names())"
    )
    assert _run(code) == "False True"


def test_open_current_creates_a_new_archive(tmp_path: Path) -> None:
    conn = open_current(tmp_path / "new.db")
    try:
        assert isinstance(conn, ArchiveConnection)
        assert conn.conn is conn
        assert {"crawls", "pages", "verdicts"} <= set(conn.table_names())
        assert is_current(conn)
    finally:
        conn.close()


def test_open_current_restores_a_stale_view(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    open_archive(path).close()
    name = next(iter(VIEWS))
    conn = connect_sqlite(path)
    conn.execute(f"DROP VIEW [{name}]")
    conn.execute(f"CREATE VIEW [{name}] AS SELECT 1 AS x")
    assert not is_current(conn)
    conn.close()
    conn = open_current(path)
    try:
        stored = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name]).fetchone()
        assert stored[0] == view_sql(name)
        assert is_current(conn)
    finally:
        conn.close()


def test_is_current_needs_every_step(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    open_archive(path).close()
    conn = connect_sqlite(path)
    try:
        assert is_current(conn)
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [STEPS[-1][0]])
        assert not is_current(conn)
    finally:
        conn.close()
    empty = connect_sqlite(tmp_path / "empty.db")
    try:
        assert not is_current(empty)
    finally:
        empty.close()


def test_crawl_log_with_a_plain_connection(tmp_path: Path) -> None:
    conn = open_current(tmp_path / "a.db")
    try:
        first = crawl_log.begin(conn, "site", ["https://example.test/"])
        assert crawl_log.last_crawl(conn, "site")["status"] == "running"
        crawl_log.finish(conn, first.crawl_id, "completed")
        row = crawl_log.last_crawl(conn, "site")
        assert (row["id"], row["status"]) == (first.crawl_id, "completed")
        assert not conn.in_transaction
        assert crawl_log.last_crawl(conn, "other") is None
    finally:
        conn.close()
