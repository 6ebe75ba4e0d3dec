"""The links of a page that answered 304, read from the archive instead of the network.

A re-crawl follows an unchanged page's links as a first crawl would (issue 14: pages
reachable only through an unchanged page were never crawled). They come from the links
kept with the page's body (`db.page_links`); a page archived before they were kept has
its stored body read again, once: the links found are then kept by the writer.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from db import page_links
from db.archive import reader

__all__ = ["StoredLinks"]


class StoredLinks:
    """Looks up stored links on a plain read-only connection, opened at the first 304 (a
    fresh crawl never opens it); out of any transaction between reads, like `Validators`."""

    def __init__(self, db_path: str | Path, max_links: int) -> None:
        self._path = db_path
        self._max = max_links
        self._conn: sqlite3.Connection | None = None
        self._usable = True

    def get(self, url: str) -> tuple[list[str], bool] | None:
        """(links of page `url`'s current body, whether they were read from the body) or None."""
        conn = self._connection()
        if conn is None:
            return None
        links = page_links.read(conn, url)
        if links is not None:
            return links, False
        body = page_links.read_body(conn, url)
        if body is None:
            return None
        return self._extract(*body), True

    def _extract(self, source: str, encoding: str | None, body: bytes) -> list[str]:
        from parsers.links import extract_links

        html: str | bytes = body
        if encoding and encoding != "utf-8":
            from crawler.encoding import decode_as

            html = decode_as(body, encoding)
        return list(extract_links(html, source, self._max))

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None and self._usable:
            try:
                self._conn = reader(self._path)
            except sqlite3.Error:
                self._usable = False
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
