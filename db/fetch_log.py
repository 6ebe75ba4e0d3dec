"""The fetch log: every fetch of an archived page with its HTTP heads, stored compactly.

A WARC (`verdicts warc export`) has one response or revisit record per fetch, with the
status line and headers as received and the request as sent. Snapshots keep one row
per distinct body, so the heads of each fetch live here: `fetch_log` has a row per fetch
(200 or 304) naming the snapshot whose payload it served or confirmed, and the heads are
split into a template shared by many fetches (`fetch_heads`, one row per distinct
shape: same server, same headers, same remote IP) and the few values that vary from
fetch to fetch (`head_values`). Those values are written as short references when they
equal what the archive knows anyway (the snapshot's ETag, Last-Modified, size and path,
the fetch time as an HTTP date), so a re-crawl of unchanged pages adds ~60 bytes per
fetch instead of ~600 (bench/crawl.py: re-crawl growth stays under 2 %).

`values` (`split` / `join`) round-trips every header block byte for byte: a value that
does not fit the scheme stays literal in its template.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

#: Headers whose values vary between fetches of one page (kept out of the shared template).
VOLATILE = frozenset(
    {
        "date",
        "etag",
        "last-modified",
        "content-length",
        "expires",
        "age",
        "set-cookie",
        "if-none-match",
        "if-modified-since",
        "x-request-id",
    }
)
HOLE = "\x00"  # where a value goes in a template
REF = "\x01"  # a value written as a reference: REF + one letter (see `Refs`)
SEP = "\n"  # between the values of one fetch (never inside a header value)
_CACHE_MAX = 4096


class Refs(NamedTuple):
    """What the archive knows of a fetch anyway, that its header values often repeat."""

    date: str  # the fetch time as an HTTP date (second floored)
    date_before: str  # one second earlier (a server's clock read before ours)
    etag: str | None  # of the snapshot served or confirmed
    last_modified: str | None
    size: str | None  # payload length in bytes
    path: str  # request target of the snapshot's URL

    def table(self) -> dict[str, str | None]:
        return {
            "d": self.date,
            "D": self.date_before,
            "e": self.etag,
            "m": self.last_modified,
            "L": self.size,
            "p": self.path,
        }


def refs_for(
    fetched_at: str, url: str, etag: str | None, last_modified: str | None, size: int | None
) -> Refs:
    moment = datetime.fromisoformat(fetched_at).astimezone(UTC).replace(microsecond=0)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Refs(
        format_datetime(moment, usegmt=True),
        format_datetime(moment - timedelta(seconds=1), usegmt=True),
        etag,
        last_modified,
        None if size is None else str(size),
        path,
    )


def split(block: str, refs: Refs, request: bool) -> tuple[str, list[str]]:
    """(template, values) of a header block (str, latin-1 decoded), values as references
    where they equal `refs`."""
    table = {v: REF + k for k, v in refs.table().items() if v}
    lines = block.split("\r\n")
    out: list[str] = []
    values: list[str] = []
    first = lines[0]
    if request:
        method, _, rest = first.partition(" ")
        target, _, proto = rest.rpartition(" ")
        if target and not _odd(target):
            first = f"{method} {HOLE} {proto}"
            values.append(table.get(target, target))
    out.append(first)
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        stripped = value.lstrip(" \t")
        if colon and name.lower() in VOLATILE and stripped and not _odd(stripped):
            out.append(line[: len(line) - len(stripped)] + HOLE)
            values.append(table.get(stripped, stripped))
        else:
            out.append(line)
    return "\r\n".join(out), values


def join(template: str, values: Iterable[str], refs: Refs) -> str:
    """The header block that `split` took apart."""
    table = refs.table()
    pieces = template.split(HOLE)
    out = [pieces[0]]
    for piece, value in zip(pieces[1:], values, strict=True):
        if value.startswith(REF):
            value = table[value[1:]] or ""
        out.append(value)
        out.append(piece)
    return "".join(out)


def _odd(value: str) -> bool:
    """A value the compact form cannot hold (it would be misread)."""
    return SEP in value or HOLE in value or value.startswith(REF)


class FetchLog:
    """Writes fetch log rows for batches of fetch results (in the caller's transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._heads: dict[tuple[str | None, str, str], int] = {}

    def record(self, crawl_id: int | None, results: Iterable[Any]) -> int:
        """A row for each fetched or revalidated result that carries its exchange, pointing
        at the snapshot now current for its page. Returns the rows written."""
        from db.identity import page_id

        logged = [
            (result, page_id(result.url))
            for result in results
            if result.outcome in ("fetched", "not_modified") and getattr(result, "exchange", None)
        ]
        if not logged:
            return 0
        latest = {
            row[0]: row[1:]
            for row in self.conn.execute(_LATEST, [json.dumps(sorted({pid for _, pid in logged}))])
        }
        rows = []
        for result, pid in logged:
            found = latest.get(pid)
            if found is None:
                continue
            snapshot_id, url, etag, last_modified, size = found
            rows.append(
                self.row(
                    crawl_id,
                    snapshot_id,
                    url,
                    etag,
                    last_modified,
                    size,
                    result.fetched_at,
                    result.http_status,
                    result.exchange,
                )
            )
        self.conn.executemany(_INSERT, rows)
        return len(rows)

    def row(
        self,
        crawl_id: int | None,
        snapshot_id: int,
        url: str,
        etag: str | None,
        last_modified: str | None,
        size: int | None,
        fetched_at: str,
        status: int,
        exchange: Any,
    ) -> tuple[Any, ...]:
        """The fetch_log values of one exchange (its template stored if new)."""
        request, response, ip = exchange
        refs = refs_for(fetched_at, url, etag, last_modified, size)
        req_template, req_values = split(request.decode("latin-1"), refs, request=True)
        resp_template, resp_values = split(response.decode("latin-1"), refs, request=False)
        heads_id = self.heads_id(ip, req_template, resp_template)
        values = SEP.join(req_values + resp_values)
        return (crawl_id, snapshot_id, fetched_at, status, heads_id, values)

    def heads_id(self, ip: str | None, request: str, response: str) -> int:
        key = (ip, request, response)
        found = self._heads.get(key)
        if found is not None:
            return found
        row = self.conn.execute(
            "SELECT id FROM fetch_heads WHERE remote_ip IS ? AND request = ? AND response = ?", key
        ).fetchone()
        if row is None:
            cursor = self.conn.execute(
                "INSERT INTO fetch_heads (remote_ip, request, response) VALUES (?, ?, ?)", key
            )
            found = int(cursor.lastrowid or 0)
        else:
            found = row[0]
        if len(self._heads) >= _CACHE_MAX:
            self._heads.clear()
        self._heads[key] = found
        return found


class Heads(NamedTuple):
    """A fetch's heads rebuilt from the log."""

    request: bytes
    response: bytes
    remote_ip: str | None


def rebuild(
    request_template: str,
    response_template: str,
    remote_ip: str | None,
    values: str,
    refs: Refs,
) -> Heads:
    """The request and response heads of one fetch_log row, byte for byte as captured."""
    items = values.split(SEP) if values else []
    holes = request_template.count(HOLE)
    request = join(request_template, items[:holes], refs)
    response = join(response_template, items[holes:], refs)
    return Heads(request.encode("latin-1"), response.encode("latin-1"), remote_ip)


#: The snapshot now current for each page (latest by fetch time), with what `Refs` needs.
_LATEST = """
SELECT p.value, s.id, s.url, s.etag, s.last_modified, b.size FROM json_each(?) AS p
JOIN snapshots AS s ON s.id = (
    SELECT id FROM snapshots WHERE page_id = p.value ORDER BY fetched_at DESC, id DESC LIMIT 1)
JOIN bodies AS b ON b.sha256 = s.body_sha256
"""
_INSERT = """
INSERT INTO fetch_log (crawl_id, snapshot_id, fetched_at, http_status, heads_id, head_values)
VALUES (?, ?, ?, ?, ?, ?)
"""

SCHEMA = """
CREATE TABLE fetch_heads (
    id INTEGER PRIMARY KEY,
    remote_ip TEXT,                   -- the server's address, when known
    request TEXT NOT NULL,            -- request line and headers sent, NUL where a value goes
    response TEXT NOT NULL,           -- status line and headers received, NUL where a value goes
    UNIQUE (request, response, remote_ip)
);
CREATE TABLE fetch_log (
    id INTEGER PRIMARY KEY,
    crawl_id INTEGER REFERENCES crawls(id),
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),  -- payload served (200) or confirmed (304)
    fetched_at TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    heads_id INTEGER NOT NULL REFERENCES fetch_heads(id),
    head_values TEXT NOT NULL         -- the values of the template's holes (db/fetch_log.py)
);
CREATE INDEX idx_fetch_log_snapshot ON fetch_log(snapshot_id) WHERE http_status != 304;
"""
