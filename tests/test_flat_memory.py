"""What a crawl reads from a large archive is streamed, not listed (issue 14: flat memory).

A resumed crawl's frontier and a re-crawl's archived pages are read as the crawl queues
them. Memory itself is measured by bench/memory.py (tests/test_bench_memory.py runs it);
here the reads are checked to be lazy and to give the same rows as reading everything.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crawler import engine, revisits
from crawler.config import Settings
from crawler.revisits import known_pages
from crawler.stored_links import StoredLinks
from crawler.urls import Scope
from db import change_log, crawl_log, frontier
from db.archive import READ_CACHE_KIB, open_archive
from db.changes import PageState, ToolState
from db.frontier import Entry


@pytest.fixture
def archive(archive_path: Path) -> Path:
    db = open_archive(archive_path)
    begun = crawl_log.begin(db, "site", ["http://site.test/"])
    entries = [Entry(f"http://site.test/p/{n:05d}/", n % 3, "html") for n in range(2500)]
    entries.append(Entry("http://site.test/sitemap.xml", 0, "sitemap"))
    frontier.add(db, begun.crawl_id, entries)
    frontier.mark(db, begun.crawl_id, [(e.url, "done") for e in entries[:-1:2]])
    db.conn.executemany(
        "INSERT INTO pages (id, url, host, first_seen, last_seen, status) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (f"id{n}", e.url, "site.test", "2026-01-01", "2026-01-01", "gone" if n % 7 == 0 else "ok")
            for n, e in enumerate(entries[:-1])
        ],
    )
    db.conn.commit()
    db.close()
    return archive_path


def test_a_resumed_frontier_streams_the_rows_a_full_load_gives(archive: Path) -> None:
    db = open_archive(archive)
    try:
        pending, known = frontier.load(db, 1)
        assert frontier.holds(db, 1, ["http://site.test/p/00000/", "http://site.test/sitemap.xml"])
        assert not frontier.holds(db, 1, ["http://site.test/p/00000/", "http://site.test/nowhere/"])
    finally:
        db.close()
    assert list(frontier.queued(archive, 1)) == pending
    assert len(pending) == 1251 and pending[-1].kind == "sitemap"
    assert set(frontier.urls(archive, 1)) == known and len(known) == 2501


def test_archived_pages_are_read_a_chunk_at_a_time(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(revisits, "KNOWN_CHUNK", 100)
    conn = sqlite3.connect(archive)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        pages = known_pages(conn, Scope(["site.test"]), patterns=False)
        first = [next(pages) for _ in range(150)]
        reads = [s for s in statements if "ORDER BY url LIMIT" in s]
        assert len(reads) == 2  # 150 URLs used: two chunks of 100 read, not the archive
        rest = list(pages)
    finally:
        conn.close()
    check = sqlite3.connect(archive)
    expected = check.execute("SELECT url FROM pages WHERE status != 'gone' ORDER BY url").fetchall()
    check.close()
    assert first + rest == [url for (url,) in expected]
    assert len([s for s in statements if "ORDER BY url LIMIT" in s]) == -(-len(expected) // 100) + 1


def _cache_kib(conn: sqlite3.Connection) -> int:
    (size,) = conn.execute("PRAGMA cache_size").fetchone()
    return -int(size)  # negative: KiB


def test_the_crawls_streaming_reads_keep_a_small_page_cache(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's default 2 MB page cache per connection filled up only as the archive grew (five
    such connections in the fetching process): each read the crawl streams keeps a small one."""
    opened: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def recording(*args: object, **kwargs: object) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(conn)
        return conn

    monkeypatch.setattr(sqlite3, "connect", recording)
    streams = [
        known_pages(archive, Scope(["site.test"]), patterns=False),
        frontier.queued(archive, 1),
        frontier.urls(archive, 1),
    ]
    for stream in streams:
        next(stream)  # opened and reading
    validators = revisits.Validators(archive)
    links = StoredLinks(archive, 100)
    links.get("http://site.test/p/00000/")
    try:
        assert len(opened) == 5
        for conn in opened:
            assert _cache_kib(conn) == READ_CACHE_KIB
            assert conn.execute("PRAGMA query_only").fetchone() == (1,)
    finally:
        for stream in streams:
            stream.close()  # type: ignore[attr-defined]
        validators.close()
        links.close()


def test_the_end_of_crawl_steps_keep_a_small_page_cache(archive: Path) -> None:
    """The end of a crawl scans whole tables (summaries, quality gate); SQLite sizes a sort's
    memory by the connection's cache, so the default let it grow with the archive."""
    with engine._closing_transaction(Settings(db_path=archive)) as db:
        assert _cache_kib(db) == engine.CLOSING_CACHE_KIB < 2000


def test_the_writers_memory_of_stored_texts_is_bounded(
    archive_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It held every tagline and description the crawl stored (growing with the site's tools);
    past its bound it starts afresh, and every text is still stored once."""
    monkeypatch.setattr(change_log, "SAVED_TEXTS_MAX", 10)
    db = open_archive(archive_path)
    recorder = change_log.ChangeRecorder(None)
    try:
        for page in range(8):
            tools = tuple(
                ToolState(f"tool{page}-{n}", n, tagline=f"line {page}-{n}", description=f"about {page}-{n}")
                for n in (1, 2)
            )
            recorder._save_texts(db.conn, [PageState(f"page {page}", tools, ())])
            recorder._save_texts(db.conn, [PageState(f"page {page}", tools, ())])  # repeats: skipped
            assert len(recorder._saved) <= 10
        stored = {text for (text,) in db.conn.execute("SELECT text FROM change_texts")}
    finally:
        db.close()
    assert stored == {f"{kind} {p}-{n}" for kind in ("line", "about") for p in range(8) for n in (1, 2)}
