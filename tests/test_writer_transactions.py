"""The writer process's transactions: several batches per commit, nothing half-stored.

`crawler.writer` writes a batch every `BATCH_PAGES` fetched pages but commits only every
`COMMIT_PAGES` (or `COMMIT_SECONDS`), so a large archive writes each index page once per
transaction instead of once per batch. These tests pin that every page still reaches the
archive, that a reader sees whole transactions only, and that the engine's death (end of
file on the pipe) still commits what the writer holds.
"""

from __future__ import annotations

import pickle
import sqlite3
from multiprocessing import Pipe
from pathlib import Path

import pytest

from crawler import writer as writer_module
from db import crawl_log, frontier
from db.archive import open_archive
from tests.archive_factory import at, fetched

URLS = [f"https://example.test/p{n}" for n in range(10)]


@pytest.fixture
def crawl(archive_path: Path) -> int:
    db = open_archive(archive_path)
    crawl_id = crawl_log.begin(db, "site", ["https://example.test/"]).crawl_id
    db.close()
    return crawl_id


def _count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def _items(urls: list[str]) -> list[tuple[object, ...]]:
    return [("result", fetched(url, f"<html>{url}</html>", at(1)), [], True) for url in urls]


def test_batches_share_a_transaction_up_to_commit_pages(
    archive_path: Path, crawl: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "BATCH_PAGES", 3)
    monkeypatch.setattr(writer_module, "COMMIT_PAGES", 7)
    parent, child = Pipe()
    for item in [*_items(URLS), ("finish",)]:  # one message per item: a batch check each
        parent.send_bytes(pickle.dumps([item]))
    report = writer_module._Writer(str(archive_path), crawl).run(child)
    # Batches of 3, 3, 3 (9 >= 7: commit) and 1 (finish: commit).
    assert (report.batches, report.commits, report.pages) == (4, 2, 10)
    assert report.counts["pages_fetched"] == 10
    assert _count(archive_path, "SELECT count(*) FROM snapshots") == 10
    assert _count(archive_path, "SELECT pages_fetched FROM crawls") == 10


def test_a_reader_sees_written_batches_only_once_committed(archive_path: Path, crawl: int) -> None:
    writer = writer_module._Writer(str(archive_path), crawl)
    for url in URLS[:4]:
        writer.hold(fetched(url, f"<html>{url}</html>", at(1)))
        writer.states.append((url, "done"))
    writer.flush(commit=False)
    assert writer.report.batches == 1 and writer.db.in_transaction
    assert _count(archive_path, "SELECT count(*) FROM pages") == 0
    writer.flush(commit=True)
    assert not writer.db.in_transaction and writer.report.commits == 1
    assert _count(archive_path, "SELECT count(*) FROM pages") == 4
    writer.db.close()


def test_end_of_file_commits_what_the_writer_holds(
    archive_path: Path, crawl: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "BATCH_PAGES", 3)
    parent, child = Pipe()
    parent.send_bytes(pickle.dumps(_items(URLS[:5])))  # one batch: written, not committed
    parent.close()  # the engine dies without "finish"
    writer = writer_module._Writer(str(archive_path), crawl)
    with pytest.raises(EOFError):
        writer.run(child)
    assert writer.report.commits == 1
    assert _count(archive_path, "SELECT count(*) FROM pages") == 5


def test_frontier_mark_keeps_a_repeated_urls_last_state(archive_path: Path, crawl: int) -> None:
    db = open_archive(archive_path)
    frontier.add(db, crawl, [frontier.Entry(url) for url in URLS[:3]])
    frontier.mark(db, crawl, [(URLS[2], "failed"), (URLS[0], "done"), (URLS[2], "done"), (URLS[1], "failed")])
    states = dict(db.execute("SELECT url, state FROM frontier WHERE crawl_id = ?", [crawl]).fetchall())
    assert states == {URLS[0]: "done", URLS[1]: "failed", URLS[2]: "done"}


def test_a_failing_batch_keeps_the_batches_before_it(archive_path: Path, crawl: int) -> None:
    writer = writer_module._Writer(str(archive_path), crawl)

    def hold(urls: list[str]) -> None:
        for url in urls:
            writer.adds.append(frontier.Entry(url))
            writer.hold(fetched(url, f"<html>{url}</html>", at(1)))
            writer.states.append((url, "done"))

    hold(URLS[:2])
    writer.flush(commit=False)

    def broken(batch: object) -> object:
        raise sqlite3.IntegrityError("a bug in the store")

    writer.store.store = broken  # type: ignore[method-assign]
    hold(URLS[2:4])
    with pytest.raises(sqlite3.IntegrityError):
        writer.flush(commit=False)
    assert not writer.db.in_transaction
    assert _count(archive_path, "SELECT count(*) FROM pages") == 2
    # The failed batch's frontier rows went with it: those URLs are fetched again on resume.
    assert _count(archive_path, "SELECT count(*) FROM frontier") == 2
    assert _count(archive_path, "SELECT count(*) FROM frontier WHERE state = 'done'") == 2
    writer.db.close()


def test_the_first_frontier_is_committed_before_any_page(archive_path: Path, crawl: int) -> None:
    """When the first transaction of pages fails (a full disk), the start URLs queued before
    it are in the archive: the crawl can be resumed."""
    parent, child = Pipe()
    parent.send_bytes(pickle.dumps([("add", [frontier.Entry(url) for url in URLS[:3]])]))
    parent.send_bytes(pickle.dumps([*_items(URLS[:3]), ("finish",)]))
    writer = writer_module._Writer(str(archive_path), crawl)

    def full(batch: object) -> object:
        raise sqlite3.OperationalError("database or disk is full")

    writer.store.store = full  # type: ignore[method-assign]
    with pytest.raises(sqlite3.OperationalError):
        writer.run(child)
    assert writer.report.commits == 1
    assert _count(archive_path, "SELECT count(*) FROM pages") == 0
    assert _count(archive_path, "SELECT count(*) FROM frontier WHERE state = 'queued'") == 3


def test_crawls_that_finish_together_are_committed_and_answered_together(archive_path: Path) -> None:
    """Several sites of a run ending at once: one commit, then every reply (each only once
    its crawl's pages are committed), while another crawl goes on."""
    import threading

    db = open_archive(archive_path)
    ids = [crawl_log.begin(db, f"site {n}", [f"https://s{n}.test/"]).crawl_id for n in range(3)]
    db.close()
    commits: list[str] = []
    parent, child = Pipe()
    reports: list[object] = []

    def run() -> None:  # in the thread: its sqlite connection belongs to it
        writer = writer_module._Writer(str(archive_path), ids)
        writer.db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        reports.append(writer.run(child))

    thread = threading.Thread(target=run)
    thread.start()
    try:
        both = [("to", ids[0]), *_items(URLS[:2]), ("finish",), ("to", ids[1]), *_items(URLS[2:4])]
        parent.send_bytes(pickle.dumps([*both, ("finish",)]))
        assert parent.poll(30)
        first = parent.recv()
        assert parent.poll(30)
        replies = [first, parent.recv()]
        assert [(kind, r.crawl_id) for kind, r in replies] == [("finished", ids[0]), ("finished", ids[1])]
        assert len(commits) == 1  # one transaction for both ends
        assert _count(archive_path, "SELECT count(*) FROM snapshots") == 4  # committed before the replies
        assert not parent.poll(0.2)  # the third crawl still runs: no reply for it
        parent.send_bytes(pickle.dumps([("to", ids[2]), *_items(URLS[4:6]), ("finish",)]))
        thread.join(30)
    finally:
        parent.close()
        thread.join(30)
    assert [r.crawl_id for r in reports] == [ids[2]]  # type: ignore[attr-defined]
    assert _count(archive_path, "SELECT count(*) FROM snapshots") == 6
