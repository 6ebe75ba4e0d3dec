"""Opening an archive: one SQLite file, migrated, in WAL mode with foreign keys on.

Every entry point (crawl, reparse, export, serve) opens the archive through
`open_archive`, so the connection settings and schema upgrades live in one place.
"""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from db.migrations import apply_migrations


def connect(path: str | Path) -> Database:
    """A connection with the archive's pragmas, without touching the schema."""
    db = Database(str(path))
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=10000")
    return db


def open_archive(path: str | Path) -> Database:
    """Open (creating if needed) and upgrade the archive at `path`."""
    db = connect(path)
    apply_migrations(db)
    return db
