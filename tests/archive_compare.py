"""An archive's content, table by table, without what differs between two runs of the same crawl.

The fault suite's claim is "after any number of crashes and resumes, the archive holds what
one clean crawl holds". Ids that count runs (crawl ids, snapshot rowids) and times differ
between two honest runs, so they are left out; everything else (URLs, statuses, bodies'
hashes, parse outcomes, tools, verdicts, appearances) must match exactly. Rows are compared
as sets: a table keyed by crawl (change_states) holds one row per run.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from db.archive import sqlite_uri
from db.integrity import check_integrity

__all__ = ["archive_content", "differences", "integrity_problems"]

#: Bookkeeping of runs, not archived content.
_RUN_TABLES = frozenset(
    {
        "crawls",
        "frontier",
        "crawl_field_stats",
        "_sqlite_migrations",
        "archive_state",
        "fetch_log",
        "fetch_heads",
    }
)


def _volatile(table: str, column: str) -> bool:
    return (
        column.endswith(("_at", "_seen", "crawl_id", "snapshot_id"))
        or (column == "id" and table in ("snapshots", "changes"))
        or column == "details_seen"
        # a tool's "latest" entry price across pages follows the order pages were fetched in,
        # which concurrency makes differ between two clean crawls of the same site
        or (table == "summary_tools" and column.startswith("entry_price"))
    )


def archive_content(path: Path) -> dict[str, set[tuple[object, ...]]]:
    """{table: distinct rows without run-dependent columns} for every content table."""
    conn = sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True)
    try:
        names = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
            )
            if name not in _RUN_TABLES and not name.startswith("sqlite_") and "_fts" not in name
        ]
        content = {}
        for name in sorted(names):
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')]
            kept = ", ".join(f'"{c}"' for c in columns if not _volatile(name, c))
            content[name] = set(conn.execute(f'SELECT {kept} FROM "{name}"'))
        return content
    finally:
        conn.close()


def differences(got: dict[str, set], want: dict[str, set]) -> dict[str, tuple[int, int]]:
    """{table: (rows only in `got`, rows only in `want`)} for the tables that differ."""
    return {
        name: (len(got.get(name, set()) - rows), len(rows - got.get(name, set())))
        for name, rows in want.items()
        if got.get(name) != rows
    } | {name: (len(rows), 0) for name, rows in got.items() if name not in want}


def integrity_problems(path: Path) -> list[str]:
    """What `PRAGMA integrity_check` and `foreign_key_check` find (empty: intact): the
    check `verdicts check` runs (db/integrity.py)."""
    result = check_integrity(path)
    return result.problems + result.foreign_keys
