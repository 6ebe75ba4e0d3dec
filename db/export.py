"""`verdicts export`: stream a table, view or read-only query out as CSV, JSON or JSON lines.

Researchers take whole tables (hundreds of thousands of appearances) into their own
tools, so rows are streamed from the cursor in chunks and written as they come:
memory stays constant whatever the size. Names are checked against the archive's
schema, and `--sql` runs on a `mode=ro` connection with an authorizer that allows
reading only, so an export can never change the archive.
"""

from __future__ import annotations

import base64
import csv
import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from db.archive import connect_read_only as connect_archive

FORMATS = ("csv", "json", "jsonl")
CHUNK = 1000

_READ_ONLY_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)


def _authorizer(action: int, *_: Any) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ONLY_ACTIONS else sqlite3.SQLITE_DENY


def connect_read_only(db_path: str | Path) -> sqlite3.Connection:
    """A connection that can only read: `mode=ro` and a read-only authorizer."""
    path = Path(db_path)
    if not path.exists():
        raise click.ClickException(f"No archive at {path}.")
    conn = connect_archive(path)
    conn.set_authorizer(_authorizer)
    return conn


def export_names(conn: sqlite3.Connection) -> list[str]:
    """Tables and views an export may name (FTS shadow tables and internals excluded)."""
    conn.set_authorizer(None)
    try:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_fts%' ORDER BY type, name"
        ).fetchall()
    finally:
        conn.set_authorizer(_authorizer)
    return [row[0] for row in rows]


def export_rows(
    db_path: str | Path,
    name: str | None = None,
    sql: str | None = None,
    fmt: str = "csv",
    output: Path | None = None,
) -> int:
    """Write the rows of table/view `name` (or of query `sql`); returns how many."""
    if fmt not in FORMATS:
        raise click.ClickException(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    conn = connect_read_only(db_path)
    try:
        if sql is None:
            if name is None:
                raise click.ClickException("Give a table or view name, or --sql QUERY.")
            names = export_names(conn)
            if name not in names:
                raise click.ClickException(
                    f"No table or view named {name!r} in the archive; choose from: {', '.join(names)}."
                )
            sql = 'SELECT * FROM "{}"'.format(name.replace('"', '""'))
        try:
            cursor = conn.execute(sql)
        except sqlite3.DatabaseError as error:
            if _damaged(error):
                raise click.ClickException(f"Could not read {db_path}: {error}.") from error
            raise click.ClickException(f"The query cannot run read-only: {error}.") from error
        columns = [d[0] for d in cursor.description or []]
        try:
            with _open(output, fmt) as stream:
                return _WRITERS[fmt](stream, columns, _rows(cursor))
        except sqlite3.DatabaseError as error:  # a damaged page met while streaming
            raise click.ClickException(f"Could not read {db_path} to the end: {error}.") from error
    finally:
        conn.close()


def _damaged(error: sqlite3.DatabaseError) -> bool:
    """The file, not the query, is at fault (SQLITE_CORRUPT, SQLITE_NOTADB, an I/O error)."""
    return getattr(error, "sqlite_errorcode", 0) & 0xFF in (
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_IOERR,
    )


def _rows(cursor: sqlite3.Cursor) -> Iterator[tuple[Any, ...]]:
    while chunk := cursor.fetchmany(CHUNK):
        yield from chunk


@contextmanager
def _open(output: Path | None, fmt: str) -> Iterator[IO[str]]:
    if output is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(output, "w", encoding="utf-8", newline="" if fmt == "csv" else None) as stream:
        yield stream


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$base64": True, "encoded": base64.b64encode(value).decode("ascii")}
    return value


def _write_csv(stream: IO[str], columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
    writer = csv.writer(stream)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v for v in row)
        count += 1
    return count


def _write_jsonl(stream: IO[str], columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    for row in rows:
        record = dict(zip(columns, map(_json_value, row), strict=True))
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def _write_json(stream: IO[str], columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    stream.write("[")
    for row in rows:
        record = dict(zip(columns, map(_json_value, row), strict=True))
        stream.write(("\n" if count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
        count += 1
    stream.write("\n]\n" if count else "]\n")
    return count


_WRITERS = {"csv": _write_csv, "json": _write_json, "jsonl": _write_jsonl}
