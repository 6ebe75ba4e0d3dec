"""The crawl frontier, kept in the archive so a killed crawl can pick up where it stopped.

Each discovered URL is a `frontier` row of its crawl: `queued` when found, `done` once
its fetch result is stored (in the same transaction as the store), `failed` when the
fetch failed. The engine holds the same set in memory while it runs; these rows are
what survives a SIGKILL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from db.archive import reader

if TYPE_CHECKING:  # the writer process passes a plain connection and never imports sqlite-utils
    from sqlite_utils import Database


@dataclass(frozen=True, slots=True)
class Entry:
    url: str
    depth: int = 0
    kind: str = "html"  # "html" or "sitemap": how to fetch it

    def __reduce__(self) -> tuple[type[Entry], tuple[str, int, str]]:
        # class + values: the slots dataclass default calls dataclasses.fields on both
        # sides of the engine -> writer pipe (a re-crawl sends every archived URL)
        return Entry, (self.url, self.depth, self.kind)


def _conn(db: Database | sqlite3.Connection) -> sqlite3.Connection:
    return db if isinstance(db, sqlite3.Connection) else db.conn


def add(db: Database | sqlite3.Connection, crawl_id: int, entries: Iterable[Entry]) -> None:
    """Queue newly discovered URLs (already-known ones are left as they are)."""
    _conn(db).executemany(
        "INSERT OR IGNORE INTO frontier (crawl_id, url, state, depth, kind) VALUES (?, ?, 'queued', ?, ?)",
        [(crawl_id, e.url, e.depth, e.kind) for e in entries],
    )


def mark(db: Database | sqlite3.Connection, crawl_id: int, states: Iterable[tuple[str, str]]) -> None:
    """Set the state of (url, state) pairs: 'done' or 'failed'."""
    _conn(db).executemany(
        "UPDATE frontier SET state = ? WHERE crawl_id = ? AND url = ?",
        [(state, crawl_id, url) for url, state in states],
    )


def load(db: Database, crawl_id: int) -> tuple[list[Entry], set[str]]:
    """(entries still to fetch, every URL already known), in memory: for tests and small
    frontiers; a resumed crawl streams them (`queued`, `urls`)."""
    pending = list(queued(db.conn, crawl_id))
    return pending, set(urls(db.conn, crawl_id))


def holds(db: Database | sqlite3.Connection, crawl_id: int, wanted: Iterable[str]) -> bool:
    """Whether every URL of `wanted` is in the crawl's frontier."""
    distinct = sorted(set(wanted))
    (found,) = (
        _conn(db)
        .execute(
            "SELECT count(*) FROM frontier WHERE crawl_id = ? AND url IN (SELECT value FROM json_each(?))",
            [crawl_id, json.dumps(distinct)],
        )
        .fetchone()
    )
    return found == len(distinct)


def queued(source: str | Path | sqlite3.Connection, crawl_id: int) -> Iterator[Entry]:
    """The crawl's URLs still to fetch, in the order they were found, read as they are used.

    A resumed crawl's frontier may hold every URL of a large site: it goes from the archive
    to the crawl's disk-backed queue without ever being held whole in memory (issue 14).
    Given a path, the rows are read on a read-only connection of their own.
    """
    sql = "SELECT url, depth, kind FROM frontier WHERE crawl_id = ? AND state = 'queued' ORDER BY rowid"
    for url, depth, kind in _rows(source, sql, crawl_id):
        yield Entry(url, depth, kind)


def urls(source: str | Path | sqlite3.Connection, crawl_id: int) -> Iterator[str]:
    """Every URL of the crawl's frontier, whatever its state, read as they are used."""
    for (url,) in _rows(source, "SELECT url FROM frontier WHERE crawl_id = ?", crawl_id):
        yield url


def _rows(source: str | Path | sqlite3.Connection, sql: str, crawl_id: int) -> Iterator[tuple]:
    if isinstance(source, sqlite3.Connection):
        yield from source.execute(sql, [crawl_id])
        return
    conn = reader(source)
    try:
        yield from conn.execute(sql, [crawl_id])
    finally:
        conn.close()


def has_queued(db: Database | sqlite3.Connection, crawl_id: int) -> bool:
    """Whether the crawl left URLs it never fetched (then the next run resumes it)."""
    row = (
        _conn(db)
        .execute("SELECT 1 FROM frontier WHERE crawl_id = ? AND state = 'queued' LIMIT 1", [crawl_id])
        .fetchone()
    )
    return row is not None


def copy(db: Database, from_crawl: int, to_crawl: int) -> None:
    """Give a resuming crawl the frontier of the one it resumes; failed URLs get another try."""
    db.execute(
        "INSERT OR IGNORE INTO frontier (crawl_id, url, state, depth, kind) "
        "SELECT ?, url, CASE state WHEN 'failed' THEN 'queued' ELSE state END, depth, kind "
        "FROM frontier WHERE crawl_id = ?",
        [to_crawl, from_crawl],
    )


def prune(db: Database, site: str, keep: int) -> None:
    """Drop the frontiers of a site's earlier crawls: only the newest run's is ever needed."""
    db.execute(
        "DELETE FROM frontier WHERE crawl_id IN (SELECT id FROM crawls WHERE site = ? AND id != ?)",
        [site, keep],
    )


def counts(db: Database, crawl_id: int) -> dict[str, int]:
    return {
        state: n
        for state, n in db.conn.execute(
            "SELECT state, count(*) FROM frontier WHERE crawl_id = ? GROUP BY state", [crawl_id]
        )
    }
