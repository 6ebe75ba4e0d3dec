"""What a published archive lets visitors read, and the one way around it for our own pages.

The archive holds more than analysts need: raw page bodies (`bodies`, gigabytes, and whatever
the crawled sites served), the crawler's queue (`frontier`) and bookkeeping. Hiding them from
Datasette's lists is not enough, since arbitrary SQL (`/archive?sql=select * from bodies`)
would still read them. So the rule is a default-deny list, enforced in two layers:

- Readable are the tables `db/metadata.yml` describes and does not mark `hidden: true`, every
  view (views are written by the project; a visitor cannot create one), the full-text indexes
  of readable tables, and SQLite's own schema tables. Everything else, including a table a
  future migration adds before metadata describes it, is private.
- Every Datasette connection to the archive gets an SQLite authorizer (`authorizer`) under
  which every column of a private table reads as NULL, whatever the query.
- The `permission_allowed` hook answers 403 for a private table's pages (table, row, CSV).

The project's own routes that legitimately read private tables (a page's history or a diff
of two bodies) run their reads through `read_unrestricted`, on the same read-only connection
with the authorizer lifted for that one call. Never pass a visitor's SQL to it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from datasette import hookimpl

T = TypeVar("T")

_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_sequence"})


def readable_relations(metadata: Mapping[str, Any], views: Iterable[str]) -> frozenset[str]:
    """What a visitor may read: the tables the metadata file describes and does not hide,
    their full-text indexes, and the archive's `views`."""
    (database,) = metadata["databases"].values()
    tables: Mapping[str, Any] = database.get("tables", {})
    public = {name for name, table in tables.items() if not table.get("hidden")} - set(views)
    fts = {table["fts_table"] for name, table in tables.items() if name in public and "fts_table" in table}
    return frozenset(public | fts | set(views))


#: Table-valued functions Datasette and analysts use; they read no table's rows.
_FUNCTIONS = frozenset({"json_each", "json_tree"})
_FTS_SHADOWS = frozenset({"data", "idx", "content", "docsize", "config"})


def is_readable(name: str, readable: frozenset[str]) -> bool:
    """Whether a visitor may read table or view `name`, given the `readable` tables and views
    (FTS shadow tables go with their index; schema tables and pragma functions are public)."""
    if name in readable or name in _SCHEMA_TABLES or name in _FUNCTIONS:
        return True
    if name.startswith(("pragma_", "sqlite_stat")):
        return True
    base, _, suffix = name.rpartition("_")
    return suffix in _FTS_SHADOWS and base in readable


def authorizer(readable: frozenset[str]) -> Callable[..., int]:
    """An SQLite authorizer under which every column of a private table reads as NULL.

    NULL (SQLITE_IGNORE) rather than an error, because Datasette's own pages query private
    tables too: a verdict's row page counts the rows of `verdict_signatures` pointing at it,
    and would fail. A value of a private table can never come out, in a result or through a
    WHERE clause (NULL matches nothing). Inside a view too: SQLite names a CTE as the "view"
    of the reads it makes, so that argument cannot be trusted, and no view of the archive
    reads a private table (tests/test_publish_access.py). Only the number of rows shows.
    """

    def check(action: int, table: str | None, column: str | None, *_: Any) -> int:
        if action != sqlite3.SQLITE_READ or table is None or not column:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_OK if is_readable(table, readable) else sqlite3.SQLITE_IGNORE

    return check


async def read_unrestricted(datasette: Any, fn: Callable[[sqlite3.Connection], T], database: str = "") -> T:
    """Run `fn(conn)` on the archive's read-only connection with the visitor's limits lifted.

    For the project's own routes that must read private tables (bodies for a history or
    diff page). `fn` gets Datasette's pooled read-only connection (nothing can write) and
    runs in its thread; the authorizer is put back afterwards even if `fn` raises. Build
    SQL in the route from fixed text and parameters: never run a visitor's SQL here.
    """
    from db.publish import DATABASE_NAME

    db = datasette.get_database(database or DATABASE_NAME)
    readable = PUBLIC_TABLES_ONLY.readable.get(id(datasette), frozenset())

    def run(conn: sqlite3.Connection) -> T:
        conn.set_authorizer(None)
        try:
            return fn(conn)
        finally:
            conn.set_authorizer(authorizer(readable))

    return await db.execute_fn(run)


class PublicTablesOnly:
    """A Datasette plugin: 403 for the pages of private tables (registered by make_datasette)."""

    __name__ = "verdict_archive_public_tables"

    def __init__(self) -> None:
        #: id(Datasette) -> the tables and views its visitors may read
        self.readable: dict[int, frozenset[str]] = {}

    def allow(self, datasette: Any, readable: frozenset[str]) -> None:
        """Record what `datasette` may show (before it serves)."""
        self.readable[id(datasette)] = readable

    def may_read(self, datasette: Any, name: str) -> bool:
        """Whether visitors of `datasette` may read table or view `name`."""
        readable = self.readable.get(id(datasette))
        return readable is None or is_readable(name, readable)

    @hookimpl
    def permission_allowed(self, datasette: Any, actor: Any, action: str, resource: Any) -> bool | None:
        if action not in ("view-table", "view-row") or not isinstance(resource, tuple):
            return None
        return None if self.may_read(datasette, resource[1]) else False


PUBLIC_TABLES_ONLY = PublicTablesOnly()
