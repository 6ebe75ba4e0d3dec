"""Complete CSV downloads of whole tables and views, for `verdicts serve`.

Datasette 0.65 streams `.csv?_stream=on` page by page: 100 rows per query (it drops
its own `_size=max` on the way), each page of a view re-running the view with a
growing OFFSET under the SQL time limit. On an archive of 100,000 pages that stopped a
view's download after 3,000 rows, silently, with status 200. Researchers need every
row, so the plain whole-table request (`/archive/NAME.csv?_stream=on`, no filters)
is answered here instead: one read-only cursor over `SELECT * FROM NAME`, sent in
chunks as it is read, in constant memory and without a time limit (it only reads).
Filtered, sorted or searched downloads still go through Datasette.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sqlite3
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from db.archive import connect_read_only as connect_archive

Scope = MutableMapping[str, Any]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: Query-string keys that leave a download "the whole table or view, as is".
PLAIN_KEYS = frozenset({"_stream", "_size", "_dl", "_nofacet", "_nocount"})
CHUNK_ROWS = 2000
_CSV_PATH = re.compile(r"^/(?P<database>[^/]+)/(?P<name>[A-Za-z0-9_]+)\.csv$")


def whole_relation_request(scope: Scope, database: str) -> str | None:
    """The table or view name if `scope` asks for all of it as streamed CSV, else None."""
    match = _CSV_PATH.match(scope.get("path", ""))
    if not match or match["database"] != database:
        return None
    args = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if not args.get("_stream", [""])[0] or set(args) - PLAIN_KEYS:
        return None
    return match["name"]


def connect_read_only(path: str | Path, immutable: bool) -> sqlite3.Connection:
    return connect_archive(path, immutable=immutable, check_same_thread=False)


def streamable(conn: sqlite3.Connection, name: str) -> bool:
    """True for a table or view without BLOB columns (Datasette renders those as links)."""
    kind = conn.execute(
        "select type from sqlite_master where name = ? and type in ('table', 'view')", [name]
    ).fetchone()
    if kind is None:
        return False
    types = [row[2] or "" for row in conn.execute(f"pragma table_info([{name}])")]
    return not any(t.upper() == "BLOB" for t in types)


def _csv_chunk(rows: list[tuple[Any, ...]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


async def send_whole_relation(
    path: str | Path, immutable: bool, name: str, download: bool, send: Send
) -> bool:
    """Stream `name` as CSV over ASGI `send`; False (nothing sent) if it cannot be streamed."""
    conn = connect_read_only(path, immutable)
    try:
        if not await asyncio.to_thread(streamable, conn, name):
            return False
        cursor = await asyncio.to_thread(conn.execute, f"select * from [{name}]")
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if download:
            headers = [
                (b"content-type", b"text/csv; charset=utf-8"),
                (b"content-disposition", f'attachment; filename="{name}.csv"'.encode()),
            ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        heading = [column[0] for column in cursor.description]
        await send({"type": "http.response.body", "body": _csv_chunk([tuple(heading)]), "more_body": True})
        while rows := await asyncio.to_thread(cursor.fetchmany, CHUNK_ROWS):
            await send({"type": "http.response.body", "body": _csv_chunk(rows), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return True
    finally:
        conn.close()
