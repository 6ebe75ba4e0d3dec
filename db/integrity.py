"""`verdicts check`: is the archive intact, every page of it?

Opening an archive checks its header only (`db.archive.check_archive`): a file damaged
past its header is found when a command reads the damaged page, maybe weeks later. A
full check reads every page, which costs too much to run before each crawl (at 100,000
pages, 1.2 GB, load ~15: `quick_check` 12 s, `integrity_check` 87 s, the foreign-key
check 26 s, against 1.3 s to read the file; docs/reliability-faults.md), so it is a
command of its own, for a timer or before a copy is published.

Reads only (a `mode=ro` connection, no archive lock): it checks the last committed state
while a crawl may go on writing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CheckResult", "check_integrity"]

#: Problems kept for the report; SQLite's own default for integrity_check is 100.
MAX_PROBLEMS = 100


@dataclass(slots=True)
class CheckResult:
    """What the check found: `problems` from the page check, `foreign_keys` broken rows."""

    path: Path
    quick: bool
    problems: list[str] = field(default_factory=list)
    foreign_keys: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems and not self.foreign_keys


def check_integrity(path: str | Path, *, quick: bool = False) -> CheckResult:
    """Run `integrity_check` (or `quick_check`: no index-to-table comparison) and, for a
    full check, `foreign_key_check`. A file SQLite cannot read at all is a problem too.

    Raises `db.archive.ArchiveError` for a file that is not an archive (not SQLite,
    truncated, newer), like every other command."""
    from db.archive import connect_read_only

    result = CheckResult(Path(path), quick)
    conn = connect_read_only(path)
    try:
        pragma = "quick_check" if quick else "integrity_check"
        rows = conn.execute(f"PRAGMA {pragma}({MAX_PROBLEMS})").fetchall()
        result.problems = [str(message) for (message,) in rows if message != "ok"]
        if not quick:
            for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
                if len(result.foreign_keys) < MAX_PROBLEMS:
                    result.foreign_keys.append(f"{table} row {rowid} refers to a missing {parent} row")
    except sqlite3.DatabaseError as error:  # damage that stops the check itself
        result.problems.append(str(error))
    finally:
        conn.close()
    return result
