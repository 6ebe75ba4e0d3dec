"""What a re-crawl knows of a site already: its archived pages and their validators.

An unchanged re-crawl revisits every archived page with a conditional request (issue 4),
and issue 8 asks it to cost a quarter of a bare fetch loop: so the archived URLs are read
once, in URL order, judged host by host, and their ETag / Last-Modified are looked up a
window at a time rather than held in memory for the whole crawl.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crawler.urls import Scope, host_matches
from db.archive import reader

__all__ = ["Validators", "known_pages"]


#: Archived URLs read per query by `known_pages`.
KNOWN_CHUNK = 1000


def known_pages(db: Any, scope: Scope, patterns: bool = True) -> Iterator[str]:
    """Pages of this site already archived and not gone: revisited (conditionally) every run.

    Hosts are judged once each, from the `host` the archive stores with every page (the
    same host as the URL's); the URLs of allowed hosts are then read in URL order. Only
    with include / exclude `patterns` (`patterns=False`: the scope has none) is every URL
    judged by `scope.allows` (issue 8: a re-crawl seeds every archived page).

    Read as they are used, `KNOWN_CHUNK` URLs per query from the last one read (a keyset on
    the URL index): a re-crawl never holds the archive's URL list (issue 14: flat memory),
    and no read transaction stays open while the crawl's writer writes. `db` is a
    sqlite-utils Database, a sqlite3 connection, or a path (then the URLs are read on a
    read-only connection of their own).
    """
    if isinstance(db, (str, Path)):
        conn = reader(db)
        try:
            yield from known_pages(conn, scope, patterns)
        finally:
            conn.close()
        return
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pages'").fetchall():
        return
    hosts = [host for (host,) in conn.execute("SELECT DISTINCT host FROM pages")]
    allowed = json.dumps([host for host in hosts if host_matches(host, scope.hosts)])
    last = ""
    while True:
        rows = conn.execute(
            "SELECT url FROM pages WHERE url > ? AND status != 'gone' "
            "AND host IN (SELECT value FROM json_each(?)) ORDER BY url LIMIT ?",
            [last, allowed, KNOWN_CHUNK],
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        if patterns:
            yield from (url for (url,) in rows if scope.allows(url))
        else:
            yield from (url for (url,) in rows)


class Validators:
    """ETag / Last-Modified of archived pages, looked up when a page is fetched.

    Holding every page's validators in a dict cost ~300 bytes per archived page for the
    whole crawl (issue 8: flat memory), and one SELECT per page was a tenth of an
    unchanged re-crawl's fetching CPU. A re-crawl asks in URL order (the archive's pages
    are seeded sorted), so once `STREAK` URLs in a row came in ascending order it reads a
    window, the next `WINDOW` archived URLs from the one asked for: one range scan then
    serves `WINDOW` fetches (~3 us each instead of ~13). URLs in any other order (links
    as pages are parsed) get one indexed SELECT each, as a window per URL would cost
    twenty times that. A URL inside the window but not in it has no archived page: the
    window was read in this crawl, and a page's row only changes when it is fetched,
    once per crawl. A plain read-only sqlite3 connection, out of any transaction between
    reads (WAL: the writer process is never blocked).
    """

    WINDOW = 256
    STREAK = 4
    _ONE = (
        "SELECT etag, last_modified FROM pages WHERE url = ? AND status = 'ok' "
        "AND (etag IS NOT NULL OR last_modified IS NOT NULL)"
    )
    _RANGE = "SELECT url, etag, last_modified, status FROM pages WHERE url >= ? ORDER BY url LIMIT ?"

    def __init__(self, db_path: str | Path) -> None:
        self._conn: sqlite3.Connection | None = reader(db_path)
        self._has_pages = bool(
            self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'pages'").fetchall()
        )
        self._window: dict[str, tuple[str | None, str | None]] = {}
        self._low = self._high = ""  # the window covers low <= url <= high ("" high: nothing)
        self._to_end = False  # the window reaches the last archived URL
        self._last = ""  # the URL asked for last, and how many in a row came in ascending order
        self._streak = 0

    def get(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) stored for `url` if its page is 'ok'; (None, None) if none."""
        if not self._has_pages or self._conn is None:
            return None, None
        self._streak = self._streak + 1 if url > self._last else 0
        self._last = url
        if self._low <= url and (url <= self._high or self._to_end):
            return self._window.get(url, (None, None))
        if self._streak < self.STREAK:
            rows = self._conn.execute(self._ONE, (url,)).fetchall()
            return rows[0] if rows else (None, None)
        self._read(url)
        return self._window.get(url, (None, None))

    def _read(self, url: str) -> None:
        assert self._conn is not None
        rows = self._conn.execute(self._RANGE, (url, self.WINDOW)).fetchall()
        self._window = {
            found: (etag, modified)
            for found, etag, modified, status in rows
            if status == "ok" and (etag is not None or modified is not None)
        }
        self._low = url
        self._high = rows[-1][0] if rows else url
        self._to_end = len(rows) < self.WINDOW

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
