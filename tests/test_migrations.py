"""Upgrading an archive made by the first schema version: in place, no row lost."""

from __future__ import annotations

import zlib
from pathlib import Path

from sqlite_utils import Database

from db.archive import connect, open_archive
from db.identity import comparison_id, page_id, text_key, tool_id, verdict_id
from db.migrations import migrations
from db.store import ArchiveWriter
from db.views import stale_views, sync_views, view_sql
from tests.archive_factory import at, comparison, fetched

URL = "https://example.test/compare/alpha-vs-beta"
TEXT = "Seat 1 says Alpha is clean: the primitive holds up well under load."
TABLES = (
    "crawls",
    "pages",
    "bodies",
    "snapshots",
    "tools",
    "comparisons",
    "listings",
    "verdicts",
    "verdict_appearances",
)


def first_version_archive(path: Path) -> Database:
    """An archive as the first release wrote it: only migration 0001, with data."""
    db = connect(path)
    names = [m.name for m in migrations.pending(db)]
    assert names[0] == "0001_initial_schema"
    migrations.apply(db, stop_before=names[1])
    alpha, beta = tool_id("Alpha"), tool_id("Beta")
    cid, vid = comparison_id(URL), verdict_id(alpha, TEXT)
    body = b"<html>v1</html>"
    rows = {
        "crawls": {
            "id": 1,
            "site": "example",
            "start_urls": "[]",
            "started_at": at(1, 0),
            "status": "completed",
        },
        "pages": {
            "id": page_id(URL),
            "url": URL,
            "host": "example.test",
            "first_seen": at(1),
            "last_seen": at(1),
            "last_crawl_id": 1,
            "status": "ok",
            "http_status": 200,
            "body_sha256": "a" * 64,
        },
        "bodies": {"sha256": "a" * 64, "size": len(body), "compression": "zlib", "data": zlib.compress(body)},
        "snapshots": {
            "id": 1,
            "page_id": page_id(URL),
            "url": URL,
            "crawl_id": 1,
            "fetched_at": at(1),
            "http_status": 200,
            "body_sha256": "a" * 64,
            "parse_status": "ok",
            "parse_problems": "[]",
        },
    }
    for table, row in rows.items():
        db[table].insert(row)  # type: ignore[union-attr]
    for tid, name in ((alpha, "Alpha"), (beta, "Beta")):
        db["tools"].insert(
            {
                "id": tid,
                "name": name,
                "tagline": f"{name} tagline",  # type: ignore[union-attr]
                "first_seen": at(1),
                "last_seen": at(1),
            }
        )
    db["comparisons"].insert(
        {
            "id": cid,
            "url": URL,
            "title": "Alpha vs Beta",
            "tool1_id": alpha,  # type: ignore[union-attr]
            "tool2_id": beta,
            "complete": 1,
            "first_seen": at(1),
            "last_seen": at(1),
            "snapshot_id": 1,
        }
    )
    db["listings"].insert(
        {
            "id": "l" * 16,
            "comparison_id": cid,
            "tool_id": alpha,
            "position": 1,  # type: ignore[union-attr]
            "entry_price": "$20/mo",
            "complete": 1,
            "first_seen": at(1),
            "last_seen": at(1),
            "snapshot_id": 1,
        }
    )
    db["verdicts"].insert(
        {
            "id": vid,
            "tool_id": alpha,
            "reviewer_seat": 1,
            "text": TEXT,  # type: ignore[union-attr]
            "text_key": text_key(TEXT),
            "first_seen": at(1),
            "last_seen": at(1),
        }
    )
    db["verdict_appearances"].insert(
        {
            "verdict_id": vid,
            "comparison_id": cid,
            "reviewer_seat": 1,  # type: ignore[union-attr]
            "position": 1,
            "first_seen": at(1),
            "last_seen": at(1),
            "snapshot_id": 1,
        }
    )
    return db


def test_upgrade_from_the_first_schema_keeps_every_row(archive_path: Path) -> None:
    old = first_version_archive(archive_path)
    before = {t: old.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    assert "current_comparisons" not in old.view_names()
    old.close()

    db = open_archive(archive_path)
    after = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    assert after == before
    applied = [m.name for m in migrations.applied(db)]
    assert applied == [m.name for m in migrations._migrations]
    assert not migrations.pending(db)
    # New columns are backfilled from the old rows.
    assert db.execute("SELECT last_seen, last_crawl_id FROM snapshots").fetchone() == (at(1), 1)
    assert db.execute("SELECT first_crawl_id, last_crawl_id FROM verdict_appearances").fetchone() == (1, 1)
    # Views and full-text search cover the old rows.
    assert db.execute("SELECT tool1_name, tool1_entry_price FROM current_comparisons").fetchone() == (
        "Alpha",
        "$20/mo",
    )
    assert [r["text"] for r in db["verdicts"].search("primitive")] == [TEXT]  # type: ignore[union-attr]
    assert sorted(r["name"] for r in db["tools"].search("tagline")) == ["Alpha", "Beta"]  # type: ignore[union-attr]


def test_an_upgraded_archive_deduplicates_against_its_old_rows(archive_path: Path) -> None:
    first_version_archive(archive_path).close()
    db = open_archive(archive_path)
    stats = ArchiveWriter(db, None).store([(fetched(URL, "<html>v2</html>", at(2)), comparison())])
    assert stats.comparisons_new == 0
    assert stats.verdicts_new == 7  # seat 1's Alpha quote was already archived
    assert db.execute("SELECT count(*) FROM verdict_appearances").fetchone()[0] == 8
    assert db.execute("SELECT first_seen, last_seen FROM verdicts WHERE text = ?", [TEXT]).fetchone() == (
        at(1),
        at(2),
    )


def test_opening_twice_applies_nothing_new(archive_path: Path) -> None:
    open_archive(archive_path).close()
    db = open_archive(archive_path)
    assert db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == len(migrations._migrations)


def test_an_archive_with_an_outdated_view_gets_the_current_definition(archive_path: Path) -> None:
    """An archive whose view was created by an older release answers with today's view."""
    open_archive(archive_path).close()
    old = connect(archive_path)
    old.execute("DROP VIEW price_changes")
    old.execute("CREATE VIEW price_changes AS SELECT 1 AS only_column")
    old.execute("DROP VIEW parse_health")  # and one a release never created
    old.conn.commit()
    assert stale_views(old) == ["price_changes", "parse_health"]
    old.close()

    db = open_archive(archive_path)
    assert stale_views(db) == []
    stored = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'").fetchall())
    assert stored["price_changes"] == view_sql("price_changes")
    assert "tool_id" in db["price_changes"].columns_dict
    assert "only_column" not in db["price_changes"].columns_dict
    assert "parse_health" in db.view_names()


def test_syncing_current_views_writes_nothing(archive_path: Path) -> None:
    db = open_archive(archive_path)
    before = db.execute("PRAGMA schema_version").fetchone()[0]
    assert sync_views(db) == []
    assert db.execute("PRAGMA schema_version").fetchone()[0] == before
