"""Full-text search over verdict texts and tool names, taglines and descriptions.

The indexes are SQLite FTS5 tables made by sqlite-utils' `enable_fts` (so Datasette
shows its search box on `verdicts` and `tools`) and kept in sync by triggers on every
write. sqlite-utils' update trigger fires on *any* column change; the ingest path bumps
`last_seen` on every re-crawl, which would delete and re-index the same text each
time. `enable_search` therefore narrows the update triggers to the indexed columns
(`AFTER UPDATE OF text ...`), which makes a re-crawl cost no FTS work at all
(measured in bench/archive.py).
"""

from __future__ import annotations

from sqlite_utils import Database

#: table -> the columns its full-text index covers.
FTS_COLUMNS: dict[str, tuple[str, ...]] = {
    "verdicts": ("text",),
    "tools": ("name", "tagline", "description"),
}


def enable_search(db: Database) -> None:
    """Create the FTS5 indexes with sync triggers (runs inside a migration's transaction)."""
    for table, columns in FTS_COLUMNS.items():
        db[table].enable_fts(columns, create_triggers=True, replace=True)  # type: ignore[union-attr]
        narrow_update_trigger(db, table, columns)


def narrow_update_trigger(db: Database, table: str, columns: tuple[str, ...]) -> None:
    """Re-create `<table>_au` so it fires only when an indexed column changes."""
    cols = ", ".join(f"[{c}]" for c in columns)
    old = ", ".join(f"old.[{c}]" for c in columns)
    new = ", ".join(f"new.[{c}]" for c in columns)
    db.execute(f"DROP TRIGGER IF EXISTS [{table}_au]")
    db.execute(
        f"""
        CREATE TRIGGER [{table}_au] AFTER UPDATE OF {cols} ON [{table}] BEGIN
          INSERT INTO [{table}_fts] ([{table}_fts], rowid, {cols}) VALUES('delete', old.rowid, {old});
          INSERT INTO [{table}_fts] (rowid, {cols}) VALUES (new.rowid, {new});
        END
        """
    )
