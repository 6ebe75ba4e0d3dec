"""ArchiveWriter.store: bodies once per sha256, snapshots, outcomes, one transaction per batch."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from sqlite_utils import Database

from db.archive import open_archive
from db.store import ArchiveWriter, StoreStats
from tests.archive_factory import at, comparison, fetched, listing, other

URL = "https://example.test/compare/alpha-vs-beta"
URL2 = "https://example.test/compare/beta-vs-alpha"


@pytest.fixture
def db(archive_path: Path) -> Database:
    return open_archive(archive_path)


def count(db: Database, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]


def test_fetched_page_stores_body_snapshot_and_rows(db: Database) -> None:
    stats = ArchiveWriter(db, None).store([(fetched(URL, "<html>a</html>", at(1)), comparison())])
    assert stats == StoreStats(pages_fetched=1, snapshots_new=1, comparisons_new=1, verdicts_new=8)
    body = db.execute("SELECT size, compression, data FROM bodies").fetchone()
    assert body[0] == len(b"<html>a</html>") and body[1] == "zlib"
    assert zlib.decompress(body[2]) == b"<html>a</html>"
    snapshot = db.execute("SELECT url, parse_status, parser, parse_missing FROM snapshots")
    assert snapshot.fetchall() == [(URL, "ok", "test", "[]")]
    assert (count(db, "tools"), count(db, "listings"), count(db, "verdict_appearances")) == (2, 2, 8)


def test_same_body_is_stored_once_and_refetch_only_moves_last_seen(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    body = "<html>same</html>"
    writer.store([(fetched(URL, body, at(1)), comparison()), (fetched(URL2, body, at(1)), None)])
    stats = writer.store([(fetched(URL, body, at(2)), comparison())])
    assert stats == StoreStats(pages_fetched=1)
    assert count(db, "bodies") == 1
    assert count(db, "snapshots") == 2
    page = db.execute("SELECT first_seen, last_seen FROM pages WHERE url = ?", [URL]).fetchone()
    assert page == (at(1), at(2))
    seen = db.execute("SELECT DISTINCT last_seen FROM verdict_appearances").fetchall()
    assert seen == [(at(2),)]
    assert db.execute("SELECT last_seen FROM snapshots WHERE url = ?", [URL]).fetchone()[0] == at(2)
    assert db.execute("SELECT last_seen FROM comparisons").fetchone()[0] == at(2)


def test_not_modified_moves_last_seen_of_the_current_rows(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    writer.store([(fetched(URL, "<html>a</html>", at(1), etag='"v1"'), comparison())])
    result = other(URL, "not_modified", at(3), status=304)
    stats = writer.store([(result, None)])
    assert stats == StoreStats(pages_not_modified=1)
    assert count(db, "snapshots") == 1
    for table in ("listings", "verdict_appearances", "verdicts", "tools", "comparisons"):
        assert db.execute(f"SELECT min(last_seen), max(first_seen) FROM {table}").fetchone() == (
            at(3),
            at(1),
        ), table
    assert db.execute("SELECT etag, http_status FROM pages").fetchone() == ('"v1"', 200)


def test_failures_record_status_and_error_on_the_page(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    writer.store([(fetched(URL, "<html>a</html>", at(1)), comparison())])
    stats = writer.store(
        [
            (other(URL, "failed", at(2), status=503, error="HTTP 503 after 4 attempts"), None),
            (other(URL2, "disallowed", at(2), error="robots.txt"), None),
        ]
    )
    assert stats.pages_failed == 1
    rows = db.execute("SELECT url, status, http_status, last_error, body_sha256 FROM pages ORDER BY url")
    (failed, disallowed) = rows.fetchall()
    assert disallowed[:4] == (URL2, "disallowed", None, "robots.txt")
    assert failed[1:4] == ("failed", 503, "HTTP 503 after 4 attempts")
    assert failed[4] is not None  # the last good body is still the page's


def test_gone_page_is_marked_never_deleted_and_can_come_back(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    writer.store([(fetched(URL, "<html>a</html>", at(1)), comparison())])
    writer.store([(other(URL, "gone", at(2), status=404), None)])
    assert db.execute("SELECT status, http_status FROM pages").fetchone() == ("gone", 404)
    assert db.execute("SELECT gone_at FROM comparisons").fetchone()[0] == at(2)
    assert (count(db, "listings"), count(db, "verdict_appearances"), count(db, "snapshots")) == (2, 8, 1)
    writer.store([(fetched(URL, "<html>b</html>", at(3)), comparison())])
    assert db.execute("SELECT gone_at FROM comparisons").fetchone()[0] is None


def test_a_batch_is_one_transaction(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    broken = other(URL2, "fetched", at(1))
    broken = type(broken)(**{**{f: getattr(broken, f) for f in broken.__dataclass_fields__}, "body": None})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        writer.store([(fetched(URL, "<html>a</html>", at(1)), comparison()), (broken, None)])
    assert count(db, "pages") == 0 and count(db, "bodies") == 0 and count(db, "verdicts") == 0


def test_validators_and_stats_addition(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    writer.store(
        [
            (fetched(URL, "<html>a</html>", at(1), etag='"abc"'), comparison()),
            (fetched(URL2, "<html>b</html>", at(1)), None),
        ]
    )
    assert writer.validators() == {URL: ('"abc"', None)}
    total = StoreStats(pages_fetched=1, verdicts_new=2) + StoreStats(pages_fetched=2, snapshots_new=1)
    assert total == StoreStats(pages_fetched=3, snapshots_new=1, verdicts_new=2)


def test_full_text_search_follows_every_write(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    first = comparison(listings=[listing(1, "Alpha", tagline="Vector search"), listing(2, "Beta")])
    writer.store([(fetched(URL, "<p>1</p>", at(1)), first)])
    hits = [r["name"] for r in db["tools"].search("vector")]  # type: ignore[union-attr]
    assert hits == ["Alpha"]
    assert len(list(db["verdicts"].search("primitive"))) == 8  # type: ignore[union-attr]
    renamed = comparison(listings=[listing(1, "Alpha", tagline="Graph queries"), listing(2, "Beta")])
    writer.store([(fetched(URL, "<p>2</p>", at(2)), renamed)])
    assert list(db["tools"].search("vector")) == []  # type: ignore[union-attr]
    assert [r["name"] for r in db["tools"].search("graph")] == ["Alpha"]  # type: ignore[union-attr]
    # last_seen moves on every re-crawl without re-indexing: the update trigger is narrowed.
    trigger = db.execute("SELECT sql FROM sqlite_master WHERE name = 'verdicts_au'").fetchone()[0]
    assert "AFTER UPDATE OF [text] ON [verdicts]" in trigger
    assert len(list(db["verdicts"].search("primitive"))) == 8  # type: ignore[union-attr]
