"""Batched writes: a batch stores what its pages would one by one, and writes no more than needed.

The store path reads a batch's current bodies and latest snapshots in one query each and
writes every table with one `executemany`; these tests pin the cases where that could
differ from storing page by page (a page twice in a batch, pages sharing verdicts) and
the writes it skips (unchanged tool details, which would re-index the full-text search).
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from multiprocessing import Pipe
from pathlib import Path

import pytest
from sqlite_utils import Database

from crawler import writer as writer_module
from db import crawl_log
from db.archive import connect_sqlite, open_archive, transaction
from db.store import ArchiveWriter
from tests.archive_factory import at, comparison, fetched, listing, other

URL = "https://example.test/compare/alpha-vs-beta"
URL2 = "https://example.test/compare/alpha-vs-gamma"


@pytest.fixture
def db(archive_path: Path) -> Database:
    return open_archive(archive_path)


def rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    return db.execute(sql).fetchall()


def test_a_page_twice_in_one_batch_is_stored_as_two_visits(db: Database) -> None:
    stats = ArchiveWriter(db, None).store(
        [
            (fetched(URL, "<html>a</html>", at(1)), comparison()),
            (fetched(URL, "<html>a</html>", at(2)), comparison()),
            (other(URL, "not_modified", at(3), status=304), None),
            (fetched(URL, "<html>b</html>", at(4)), comparison("Alpha", "Beta", quotes=[])),
        ]
    )
    assert stats.snapshots_new == 2 and stats.pages_fetched == 3 and stats.pages_not_modified == 1
    assert rows(db, "SELECT id, fetched_at, last_seen FROM snapshots ORDER BY id") == [
        (1, at(1), at(3)),
        (2, at(4), at(4)),
    ]
    assert rows(db, "SELECT first_seen, last_seen FROM pages") == [(at(1), at(4))]
    # The first body's verdicts were seen until the 304; the second body has none.
    assert rows(db, "SELECT DISTINCT first_seen, last_seen FROM verdict_appearances") == [(at(1), at(3))]
    assert rows(db, "SELECT snapshot_id, last_seen FROM comparisons") == [(2, at(4))]


def test_the_same_body_at_two_urls_in_one_batch_is_stored_once(db: Database) -> None:
    ArchiveWriter(db, None).store(
        [(fetched(URL, "<html>x</html>", at(1)), None), (fetched(URL2, "<html>x</html>", at(1)), None)]
    )
    assert rows(db, "SELECT count(*) FROM bodies") == [(1,)]
    assert rows(db, "SELECT count(DISTINCT body_sha256), count(*) FROM snapshots") == [(1, 2)]


def test_pages_seen_again_move_shared_verdicts_and_tools_to_the_latest(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    # Both pages list Alpha with the same four quotes: shared verdicts and tool.
    writer.store(
        [
            (fetched(URL, "<html>1</html>", at(1)), comparison("Alpha", "Beta")),
            (fetched(URL2, "<html>2</html>", at(1)), comparison("Alpha", "Gamma")),
        ]
    )
    writer.store(
        [
            (other(URL2, "not_modified", at(3), status=304), None),
            (other(URL, "not_modified", at(2), status=304), None),
        ]
    )
    seen = dict(rows(db, "SELECT name, last_seen FROM tools"))
    assert seen == {"Alpha": at(3), "Beta": at(2), "Gamma": at(3)}
    alpha = rows(
        db,
        "SELECT DISTINCT v.last_seen FROM verdicts v JOIN tools t ON t.id = v.tool_id WHERE t.name = 'Alpha'",
    )
    assert alpha == [(at(3),)]
    assert rows(db, "SELECT url, last_seen FROM comparisons ORDER BY url") == [(URL, at(2)), (URL2, at(3))]


def test_unchanged_tool_details_are_not_rewritten_changed_ones_are_searchable(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    writer.store([(fetched(URL, "<html>1</html>", at(1)), comparison())])
    db.execute("CREATE TEMP TABLE detail_writes (n INTEGER)")
    db.execute(
        "CREATE TEMP TRIGGER count_detail_writes AFTER UPDATE OF tagline, description ON main.tools "
        "BEGIN INSERT INTO detail_writes VALUES (1); END"
    )
    writer.store([(fetched(URL2, "<html>2</html>", at(2)), comparison("Alpha", "Gamma"))])
    assert rows(db, "SELECT count(*) FROM temp.detail_writes") == [(0,)]
    assert rows(db, "SELECT last_seen FROM tools WHERE name = 'Alpha'") == [(at(2),)]
    renamed = comparison(
        "Alpha", "Beta", listings=[listing(1, "Alpha", tagline="Quantum kettles"), listing(2, "Beta")]
    )
    writer.store([(fetched(URL, "<html>3</html>", at(3)), renamed)])
    assert rows(db, "SELECT count(*) FROM temp.detail_writes") == [(1,)]
    found = rows(db, "SELECT name FROM tools_fts WHERE tools_fts MATCH 'kettles'")
    assert found == [("Alpha",)]


def test_transaction_rolls_back_a_failed_savepoint_and_keeps_the_rest(tmp_path: Path) -> None:
    conn = connect_sqlite(tmp_path / "t.db")
    conn.execute("CREATE TABLE t (x INTEGER)")
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ZeroDivisionError), transaction(conn):
            conn.execute("INSERT INTO t VALUES (2)")
            raise ZeroDivisionError
        assert conn.in_transaction
    with pytest.raises(sqlite3.IntegrityError), transaction(conn):
        conn.execute("INSERT INTO t VALUES (3)")
        raise sqlite3.IntegrityError("boom")
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert not conn.in_transaction


def _run_writer(db_path: Path, crawl_id: int, results: list[object]) -> writer_module.WriterReport:
    """Feed a real `_Writer` through a pipe, as the engine does, and return its report."""
    parent, child = Pipe()
    items = [("result", result, [], True) for result in results] + [("finish",)]

    def send() -> None:
        for start in range(0, len(items), 64):
            parent.send_bytes(pickle.dumps(items[start : start + 64]))

    sender = threading.Thread(target=send)
    sender.start()
    report = writer_module._Writer(str(db_path), crawl_id).run(child)
    sender.join()
    parent.close()
    child.close()
    return report


def test_the_writer_keeps_revisits_in_bigger_batches_than_fetched_pages(archive_path: Path) -> None:
    db = open_archive(archive_path)
    crawl_id = crawl_log.begin(db, "site", ["https://example.test/"]).crawl_id
    db.close()
    pages = writer_module.BATCH_PAGES + 100
    urls = [f"https://example.test/p{n}" for n in range(pages)]
    bodies = [fetched(url, f"<html>{n}</html>", at(1)) for n, url in enumerate(urls)]
    report = _run_writer(archive_path, crawl_id, bodies)
    assert report.batches == 2 and report.counts["pages_fetched"] == pages
    revisits = [other(url, "not_modified", at(2), status=304) for url in urls]
    report = _run_writer(archive_path, crawl_id, revisits)
    assert report.batches == 1 and report.counts["pages_not_modified"] == pages
    check = open_archive(archive_path)
    assert check.execute("SELECT count(*) FROM pages WHERE last_seen = ?", [at(2)]).fetchone() == (pages,)
