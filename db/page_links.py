"""Each page's outgoing links, kept with the body they were read from (`page_links`).

A page that answers 304 is not parsed again, yet a re-crawl must follow its links as a
first crawl would: a page linked only from it may be new since, or have been gone, or out
of scope, or never reached because the crawl that stored the page stopped early (issue 14).
Re-reading the links from the stored body costs ~0.4 ms a page (inflate and lexbor), 40 %
of an unchanged re-crawl's CPU; the links kept here cost ~0.03 ms to read back. Rows are
keyed by page and body, so a changed body never reuses its old links, and are written in
the writer's transaction with the page they belong to.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable
from typing import Any

__all__ = ["decode", "encode", "keep", "read", "read_body"]

#: After the page's row is written: its current body is the one the links were read from.
_KEEP = """
INSERT OR IGNORE INTO page_links (page_id, body_sha256, links, data)
SELECT id, body_sha256, ?2, ?3 FROM pages WHERE id = ?1 AND body_sha256 IS NOT NULL
"""
_READ = """
SELECT l.data FROM pages AS p
JOIN page_links AS l ON l.page_id = p.id AND l.body_sha256 = p.body_sha256
WHERE p.url = ?
"""
#: The page's current body and how it was read: the URL it came from (links are relative
#: to it) and its encoding, from the latest snapshot of that body.
_BODY = """
SELECT s.url, s.encoding, b.data, b.compression FROM pages AS p
JOIN bodies AS b ON b.sha256 = p.body_sha256
JOIN snapshots AS s ON s.id = (
    SELECT id FROM snapshots WHERE page_id = p.id AND body_sha256 = p.body_sha256
    ORDER BY fetched_at DESC, id DESC LIMIT 1)
WHERE p.url = ? AND p.status = 'ok'
"""


def encode(links: Iterable[str]) -> bytes:
    return zlib.compress("\n".join(links).encode("utf-8", "surrogatepass"), 1)


def decode(data: bytes) -> list[str]:
    text = zlib.decompress(data).decode("utf-8", "surrogatepass")
    return text.split("\n") if text else []


def keep(conn: sqlite3.Connection, results: Iterable[Any]) -> None:
    """Store the links of the results that carry them (`links` not None), under the page's
    current body; call after the pages' rows are written, in the same transaction."""
    from db.identity import page_id

    rows = [
        (page_id(result.url), len(result.links), encode(result.links))
        for result in results
        if getattr(result, "links", None) is not None and result.outcome in ("fetched", "not_modified")
    ]
    if rows:
        conn.executemany(_KEEP, rows)


def read(conn: sqlite3.Connection, url: str) -> list[str] | None:
    """The links kept for the current body of page `url`; None if none are kept."""
    row = conn.execute(_READ, (url,)).fetchone()
    return decode(row[0]) if row is not None else None


def read_body(conn: sqlite3.Connection, url: str) -> tuple[str, str | None, bytes] | None:
    """(URL it was fetched from, encoding, raw bytes) of page `url`'s current body, if any."""
    from db.snapshots import decompress

    row = conn.execute(_BODY, (url,)).fetchone()
    if row is None:
        return None
    source, encoding, data, compression = row
    return source, encoding, decompress(data, compression)
