"""Opening an archive: one SQLite file, migrated, in WAL mode with foreign keys on.

Every entry point (crawl, reparse, export, serve) opens the archive through
`open_archive`, so the connection settings and schema upgrades live in one place.
The crawl's writer process opens a plain `sqlite3` connection (`connect_sqlite`, same
pragmas) with `transaction` for its batches: it never needs sqlite-utils, whose import
alone cost a tenth of a second of the writer's start-up on every crawl. The crawl's
main process does the same with `open_current` when the archive needs no upgrade.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlite_utils import Database

PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000")
_SAVEPOINTS = itertools.count()


def connect(path: str | Path) -> Database:
    """A connection with the archive's pragmas, without touching the schema."""
    from sqlite_utils import Database

    db = Database(str(path))
    for pragma in PRAGMAS:
        db.execute(f"PRAGMA {pragma}")
    return db


class ArchiveConnection(sqlite3.Connection):
    """A plain sqlite3 connection that also answers the two sqlite-utils calls the crawl's
    shared helpers make (`.conn`, `.table_names()`), so they take either kind."""

    @property
    def conn(self) -> ArchiveConnection:
        return self

    def table_names(self) -> list[str]:
        return [n for (n,) in self.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


def connect_sqlite(path: str | Path) -> ArchiveConnection:
    """A plain sqlite3 connection with the archive's pragmas (explicit transactions only),
    without touching the schema."""
    conn = sqlite3.connect(str(path), isolation_level=None, factory=ArchiveConnection)
    for pragma in PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction (a savepoint inside an open one), rolled back on any error.

    The same contract as sqlite-utils' `Database.atomic`, for a plain connection.
    """
    if conn.in_transaction:
        name = f"archive_{next(_SAVEPOINTS)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # an error may have ended the whole transaction
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    conn.execute("BEGIN")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def open_archive(path: str | Path) -> Database:
    """Open (creating if needed) and upgrade the archive at `path`."""
    from db.migrations import apply_migrations

    db = connect(path)
    apply_migrations(db)
    return db


def open_current(path: str | Path) -> ArchiveConnection:
    """`open_archive` as a plain sqlite3 connection (pragmas as `connect_sqlite`).

    An archive that is already current (every migration applied, every view current:
    `db.migrations.is_current`, two small reads) is not upgraded, and sqlite-utils is not
    even imported: its import was ~0.13 s of CPU, a tenth of an unchanged re-crawl's main
    process. Otherwise the archive is upgraded with `open_archive` first.
    """
    from db.migrations import is_current

    conn = connect_sqlite(path)
    try:
        current = is_current(conn)
    except BaseException:
        conn.close()
        raise
    if current:
        return conn
    conn.close()
    open_archive(path).close()
    return connect_sqlite(path)
