"""The embedded-data rows of a snapshot: the page's own JSON and where it disagrees.

A page's JSON-LD, microdata, `__NEXT_DATA__` or `__NUXT_DATA__` (read by
parsers/embedded.py into `ParseResult.embedded`) is kept per snapshot in
`snapshot_embedded`, one row per kind; the fields it states otherwise than the visible text
(`ParseResult.disagreements`) go to `embedded_disagreements`, which the
`field_disagreements` view shows with the page and crawl. Both the crawl's writer
(db/store.py) and `reparse` (db/reparse.py) write them through here.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parsers.model import ParseResult

_INSERT_EMBEDDED = "INSERT OR REPLACE INTO snapshot_embedded (snapshot_id, kind, data) VALUES (?, ?, ?)"
_INSERT_DISAGREEMENT = """
INSERT INTO embedded_disagreements (snapshot_id, source, field, position, visible, embedded)
VALUES (?, ?, ?, ?, ?, ?)
"""


class EmbeddedRows:
    """Rows of a batch of snapshots, gathered while the batch is stored, written at once."""

    def __init__(self) -> None:
        self.embedded: list[tuple[Any, ...]] = []
        self.disagreements: list[tuple[Any, ...]] = []
        self.snapshot_ids: list[int] = []

    def add(self, snapshot_id: int, parse: ParseResult | None) -> None:
        if parse is None:
            return
        self.snapshot_ids.append(snapshot_id)  # a reparse drops what it had, even if none now
        if not parse.embedded:
            return
        for item in parse.embedded:
            data = json.dumps(item.data, ensure_ascii=False, separators=(",", ":"), default=str)
            self.embedded.append((snapshot_id, item.kind, data))
        self.disagreements.extend(
            (snapshot_id, d.source, d.field, d.position, d.visible, d.embedded) for d in parse.disagreements
        )

    def write(self, conn: sqlite3.Connection, replace: bool = False) -> None:
        """Insert the rows (inside the caller's transaction); `replace` first drops what the
        same snapshots had (a reparse)."""
        if replace and self.snapshot_ids:
            ids = json.dumps(self.snapshot_ids)
            for table in ("snapshot_embedded", "embedded_disagreements"):
                conn.execute(
                    f"DELETE FROM {table} WHERE snapshot_id IN (SELECT value FROM json_each(?))", [ids]
                )
        conn.executemany(_INSERT_EMBEDDED, self.embedded)
        conn.executemany(_INSERT_DISAGREEMENT, self.disagreements)
