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
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from db.descriptors import OPENING, read_start

if TYPE_CHECKING:
    from sqlite_utils import Database

PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000")
#: `--durability`: SQLite's `synchronous` for the connections that write crawl results.
#: In WAL mode NORMAL never loses consistency, but a power loss (not a crash of the
#: process) may lose the last commits; FULL syncs every commit (docs/reliability.md).
DURABILITY = {"normal": "NORMAL", "full": "FULL"}
_SAVEPOINTS = itertools.count()


class ArchiveError(sqlite3.DatabaseError):
    """The file is not an archive this version can use (not SQLite, truncated, or newer).

    A `sqlite3.DatabaseError`, so every command's existing handling of a broken database
    applies; the message is one sentence that names the file.
    """


_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100


def sqlite_uri(path: str | Path, **params: str) -> str:
    """The `file:` URI of `path` with query `params` (e.g. mode="ro", immutable="1").

    The path is made absolute and percent-encoded, so `#`, `?`, `%` and spaces in a file
    name stay part of the name: `f"file:{path}?mode=ro"` opened `a` for `a#b.db`, without
    `mode=ro`. Every URI the project gives SQLite is built here.
    """
    absolute = os.path.abspath(os.fspath(path))
    query = f"?{urlencode(params)}" if params else ""
    return f"file://{quote(absolute, safe='/')}{query}"


def check_archive(path: str | Path) -> None:
    """Refuse a file that cannot be an intact archive of this version, before opening it.

    Raises `ArchiveError` naming the file when it is not SQLite, shorter than the size its
    header records (truncated), or written by a newer version (schema steps this one does
    not know: opening it would run code that does not know its tables). Reads only: the
    header's 100 bytes (never closing a descriptor that would drop this process's SQLite
    locks: `db.descriptors`), then the migrations table over a `mode=ro` connection. A missing
    or empty file is a new archive. Every `connect*` below calls it, so every command does.
    """
    try:
        # Never a plain open() and close(): that can drop this process's SQLite locks on
        # the file (db.descriptors), and a writer elsewhere then deletes the WAL under them.
        header, size = read_start(path, _HEADER_SIZE)
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise ArchiveError(f"{path} is a directory, not an archive file.") from None
    if not header:
        return
    _check_header(path, header, size)
    unknown = _unknown_steps(path, header)
    if unknown:
        raise ArchiveError(
            f"{path} was written by a newer verdict-archive (schema steps {', '.join(unknown)});"
            " upgrade verdict-archive to open it."
        )


def _unknown_steps(path: str | Path, header: bytes) -> list[str]:
    from db.migrations import unknown_steps

    # A `mode=ro` read of a WAL archive leaves empty -wal and -shm files behind. When no
    # -wal exists nobody has it open in WAL mode, so read it as immutable (creates nothing);
    # should a crawl start meanwhile and change it under that read, read again with mode=ro.
    wal_mode = header[18] == 2 and not os.path.exists(f"{os.fspath(path)}-wal")
    attempts = [{"immutable": "1"}, {"mode": "ro"}] if wal_mode else [{"mode": "ro"}]
    for number, params in enumerate(attempts, 1):
        conn = sqlite3.connect(sqlite_uri(path, **params), uri=True)
        try:
            return unknown_steps(conn)
        except sqlite3.DatabaseError as error:
            if number == len(attempts):
                raise ArchiveError(f"{path} is not a readable archive: {error}.") from None
        finally:
            conn.close()
    raise AssertionError("unreachable")


def _check_header(path: str | Path, header: bytes, size: int) -> None:
    if len(header) < len(_SQLITE_MAGIC) or not header.startswith(_SQLITE_MAGIC):
        raise ArchiveError(f"{path} is not an SQLite archive (its first bytes are not an SQLite header).")
    if len(header) < _HEADER_SIZE:
        raise ArchiveError(f"{path} is truncated: {size} bytes, shorter than an SQLite header.")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise ArchiveError(f"{path} is damaged: its header gives an impossible page size ({page_size}).")
    pages = int.from_bytes(header[28:32], "big")
    # The page count is valid only when its "version valid for" matches the change counter;
    # and in WAL mode a checkpoint cut short (a full disk) leaves page 1 saying more pages than
    # the file holds while the WAL still holds them all: SQLite reads those from the WAL.
    wal = f"{os.fspath(path)}-wal"
    in_wal = header[18] == 2 and os.path.exists(wal) and os.path.getsize(wal) > 0
    if header[24:28] == header[92:96] and size < pages * page_size and not in_wal:
        raise ArchiveError(f"{path} is truncated: {size} bytes where its header records {pages * page_size}.")


def connect_read_only(
    path: str | Path, *, immutable: bool = False, check_same_thread: bool = True
) -> sqlite3.Connection:
    """A read-only sqlite3 connection to the archive at `path` (checked like every open).

    `immutable=True` is for a published copy nobody writes to (no locking at all).
    """
    params = {"immutable": "1"} if immutable else {"mode": "ro"}
    with OPENING:
        check_archive(path)
        return sqlite3.connect(sqlite_uri(path, **params), uri=True, check_same_thread=check_same_thread)


#: Page cache of a crawl's streaming read connections (KiB; SQLite's default is 2,000): they
#: read each range once, in key order (archived URLs, validators, a frontier, stored links),
#: so a page is rarely read twice and a large cache only filled up as the archive grew (five
#: such connections, up to 10 MB of the fetching process at 100,000 pages; issue 14). What
#: they read again is the indexes' interior pages, a few dozen. The OS caches the file anyway.
READ_CACHE_KIB = 256


def reader(path: str | Path) -> sqlite3.Connection:
    """A query-only sqlite3 connection with a small page cache, for reads streamed through
    once while the crawl's writer writes (WAL: it never blocks the writer)."""
    conn = sqlite3.connect(str(path))
    conn.execute("PRAGMA query_only = 1")
    conn.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
    return conn


def connect(path: str | Path) -> Database:
    """A connection with the archive's pragmas, without touching the schema."""
    from sqlite_utils import Database

    with OPENING:
        check_archive(path)
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
    with OPENING:
        check_archive(path)
        conn = sqlite3.connect(str(path), isolation_level=None, factory=ArchiveConnection)
    for pragma in PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    return conn


def set_durability(conn: sqlite3.Connection, durability: str) -> None:
    """Apply `--durability` (normal or full) to a writing connection."""
    if durability not in DURABILITY:
        raise ValueError(f"durability must be one of {', '.join(DURABILITY)}, not {durability!r}")
    conn.execute(f"PRAGMA synchronous={DURABILITY[durability]}")


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


def open_archive(path: str | Path, lock_timeout: float | None = None) -> Database:
    """Open (creating if needed) and upgrade the archive at `path`.

    An upgrade writes, so it runs under the archive lock (`db.lock`; already held by
    this process's crawl or reparse, or waited for up to `lock_timeout` seconds).
    """
    from db.lock import DEFAULT_TIMEOUT, archive_lock
    from db.migrations import apply_migrations, is_current

    db = connect(path)
    try:
        if not is_current(db.conn):
            timeout = DEFAULT_TIMEOUT if lock_timeout is None else lock_timeout
            with archive_lock(path, timeout=timeout, purpose="schema upgrade", reentrant=True):
                apply_migrations(db)
    except BaseException:
        db.close()
        raise
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
