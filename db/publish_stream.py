"""Complete CSV downloads of whole tables and views, for `verdicts serve`.

Datasette 0.65 streams `.csv?_stream=on` page by page: 100 rows per query (it drops
its own `_size=max` on the way), each page of a view re-running the view with a
growing OFFSET under the SQL time limit. On an archive of 100,000 pages that stopped a
view's download after 3,000 rows, silently, with status 200. Researchers need every
row, so the plain whole-table request (`/archive/NAME.csv?_stream=on`, no filters)
is answered here instead: one read-only cursor over `SELECT * FROM NAME`, sent in
chunks as it is read, in constant memory and without a time limit (it only reads).
Filtered, sorted or searched downloads still go through Datasette.

A download must not hold the archive hostage. A read transaction open for as long as a slow
client takes would stop every WAL checkpoint while a crawl writes, so the WAL would grow by
everything the crawl writes meanwhile. So rows are spooled: a thread writes the CSV to an
unlinked temporary file as fast as SQLite reads it, then closes its connection (releasing
the snapshot), while the client is sent the file at its own pace. And downloads are bounded
(`Downloads`): at most `max_streams` at once (more get 503 with Retry-After), and a client
that accepts nothing for `stall_seconds` is disconnected.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
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


@dataclass
class Downloads:
    """Limits on streamed downloads, and what is in progress (one per served archive)."""

    max_streams: int = 4
    stall_seconds: float = 60.0
    active: int = 0
    spooled: int = 0  # downloads whose rows are all read (their snapshot released)
    refused: int = 0
    stalled: int = 0


SEND_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = 30


class _Spool:
    """Rows of one download on their way to an unlinked temporary file (written by a thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by send_whole_relation
        self.written = 0
        self.grew = asyncio.Event()
        self.stop = threading.Event()
        self._loop = loop

    def write(self, data: bytes) -> None:  # in the spooling thread
        os.write(self.file.fileno(), data)
        self._loop.call_soon_threadsafe(self._grown, len(data))

    def _grown(self, size: int) -> None:
        self.written += size
        self.grew.set()


def _spool_rows(conn: sqlite3.Connection, cursor: sqlite3.Cursor, spool: _Spool) -> None:
    """Read every row into the spool, then close the connection (ends the read snapshot)."""
    try:
        heading = [column[0] for column in cursor.description]
        spool.write(_csv_chunk([tuple(heading)]))
        while not spool.stop.is_set() and (rows := cursor.fetchmany(CHUNK_ROWS)):
            spool.write(_csv_chunk(rows))
    finally:
        cursor.close()
        conn.close()


async def refuse_busy(send: Send, downloads: Downloads) -> None:
    """503: too many downloads at once (the client is told when to retry)."""
    downloads.refused += 1
    message = f"{downloads.max_streams} downloads are in progress; try again in a minute.\n"
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": message.encode(), "more_body": False})


async def send_whole_relation(
    path: str | Path,
    immutable: bool,
    name: str,
    download: bool,
    send: Send,
    downloads: Downloads | None = None,
) -> bool:
    """Stream `name` as CSV over ASGI `send`; False (nothing sent) if it cannot be streamed."""
    sql = f"select * from [{name}]"
    return await send_query(path, immutable, sql, {}, name, download, send, downloads, only_if=streamable)


async def send_query(
    path: str | Path,
    immutable: bool,
    sql: str,
    params: Mapping[str, Any],
    name: str,
    download: bool,
    send: Send,
    downloads: Downloads | None = None,
    authorizer: Callable[..., int] | None = None,
    *,
    only_if: Callable[[sqlite3.Connection, str], bool] | None = None,
) -> bool:
    """Stream every row of `sql` as CSV (`name`.csv) over ASGI `send`, from a read-only
    connection of its own (closed once the rows are spooled); False (nothing sent) when
    `only_if(conn, name)` says no.

    `authorizer` is the one Datasette's connections read under (db.publish_access)."""
    downloads = downloads or Downloads()
    conn = connect_read_only(path, immutable)
    try:
        if authorizer is not None:
            conn.set_authorizer(authorizer)
        if only_if is not None and not await asyncio.to_thread(only_if, conn, name):
            conn.close()
            return False
        if downloads.active >= downloads.max_streams:
            conn.close()
            await refuse_busy(send, downloads)
            return True
        cursor = await asyncio.to_thread(conn.execute, sql, params)
    except BaseException:
        conn.close()
        raise
    downloads.active += 1
    spool = _Spool(asyncio.get_running_loop())
    producer = asyncio.ensure_future(asyncio.to_thread(_spool_rows, conn, cursor, spool))

    def spooled(_: object) -> None:
        downloads.spooled += 1
        spool.grew.set()

    producer.add_done_callback(spooled)
    try:
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if download:
            headers = [
                (b"content-type", b"text/csv; charset=utf-8"),
                (b"content-disposition", f'attachment; filename="{name}.csv"'.encode()),
            ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if not await _send_spool(spool, producer, send, downloads):
            downloads.stalled += 1
            return True  # the server drops the connection: the client sees an incomplete body
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        spool.stop.set()
        await asyncio.gather(producer, return_exceptions=True)
        spool.file.close()
        downloads.active -= 1
    return True


async def _send_spool(
    spool: _Spool, producer: asyncio.Future[None], send: Send, downloads: Downloads
) -> bool:
    """Send the spool as it grows; False if the client stalled past `stall_seconds`."""
    sent = 0
    while True:
        if sent < spool.written:
            data = os.pread(spool.file.fileno(), min(SEND_BYTES, spool.written - sent), sent)
            message = {"type": "http.response.body", "body": data, "more_body": True}
            try:
                await asyncio.wait_for(send(message), downloads.stall_seconds)
            except TimeoutError:
                return False
            sent += len(data)
        elif producer.done():
            producer.result()  # a read error ends the response early (the body is incomplete)
            return True
        else:
            spool.grew.clear()
            await spool.grew.wait()
