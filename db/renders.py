"""Rendered pages in the archive: the HTML a browser built, kept beside the bytes as served.

A page of a `render = "browser"` site (crawler/render.py) has two texts: the response
bytes, which stay the snapshot's body (`snapshots.body_sha256`, what `verdicts snapshot`
prints and a WARC export writes), and the DOM Chromium built from them, which is what was
parsed. The rendered HTML is stored as UTF-8 in `bodies` like any body (content-addressed,
compressed, once per distinct text) and named by `snapshots.rendered_sha256` (NULL for a
page read as served). `verdicts reparse` parses the rendered HTML when there is one.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from db.snapshots import sha256_hex

#: The latest snapshot's rendering of each page (by fetch time, then id): one probe per page.
_LATEST_RENDERS = """
SELECT s.page_id, s.rendered_sha256 FROM json_each(?) AS p
JOIN snapshots AS s ON s.id = (
    SELECT id FROM snapshots WHERE page_id = p.value ORDER BY fetched_at DESC, id DESC LIMIT 1)
"""
#: Pages of a crawl whose current snapshot is an unreadable app shell (parsers/candidates.py).
_CLIENT_RENDERED = """
SELECT count(*) FROM pages p
JOIN snapshots s ON s.id = (
    SELECT id FROM snapshots WHERE page_id = p.id ORDER BY fetched_at DESC, id DESC LIMIT 1)
WHERE p.last_crawl_id = ? AND s.parse_status = 'unreadable'
  AND s.parse_problems LIKE '%looks client-rendered%'
"""


def parsed_sha(table: str = "s") -> str:
    """SQL for the text a snapshot was parsed from: its rendering when it has one, else its
    body (`table`: the snapshots table's alias in the query, "" for none)."""
    t = f"{table}." if table else ""
    return f"coalesce({t}rendered_sha256, {t}body_sha256)"


def parsed_encoding(table: str = "s") -> str:
    """SQL for that text's character set (a rendering is stored as UTF-8)."""
    t = f"{table}." if table else ""
    return f"CASE WHEN {t}rendered_sha256 IS NULL THEN {t}encoding ELSE 'utf-8' END"


PARSED_SHA, PARSED_ENCODING = parsed_sha(), parsed_encoding()


def rendered_body(result: Any) -> tuple[str, bytes] | None:
    """(sha256, UTF-8 bytes) of a fetch result's rendered HTML; None when it was not rendered."""
    rendered = getattr(result, "rendered", None)
    if rendered is None:
        return None
    data = rendered.encode("utf-8", "surrogatepass")
    return sha256_hex(data), data


def latest_renders(conn: sqlite3.Connection, page_ids: list[str]) -> dict[str, str | None]:
    """page id -> `rendered_sha256` of its latest snapshot (None: read as served)."""
    if not page_ids:
        return {}
    return dict(conn.execute(_LATEST_RENDERS, [json.dumps(page_ids)]))


def count_client_rendered(conn: Any, crawl_id: int | None) -> int:
    """How many pages of the crawl are unreadable because they look client-rendered."""
    return int(conn.execute(_CLIENT_RENDERED, [crawl_id]).fetchone()[0])
