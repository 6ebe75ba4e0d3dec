"""Where a kill storm kills a run: at a point of the run's own progress, not after a wall-clock wait.

The storms used to draw a wait within a reference run's duration; on a loaded machine the
runs stretched and many finished before their kill (44 of 200 in one round), so the storm
proved less than it said. Now each kill draws a point of progress and watches the run reach
it, then kills at once:

- start-up: at once (the interpreter starting), once the process has the archive open, and
  for crawls once the run's crawls row is committed, or its first frontier;
- fetched k (crawls): after the run's k-th request reached the server (its request log);
- committed k: after k of the N pages a clean run commits (crawls: frontier rows done or
  failed; reparses: snapshots re-parsed), k from 1 to N - 1;
- end: once all N are committed, or (crawls) once the run's crawls row is concluded.

The archive is read through a read-only connection every `POLL_SECONDS`, opened only once the
file is in WAL mode with its `-wal` present (a reader of a rollback-journal file would take
locks the run's first writes could meet). A run that does not reach its point within
`STUCK_SECONDS` is killed anyway and reported as "timed out"; one that ended first, "missed".
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from db.archive import sqlite_uri

POLL_SECONDS = 0.01
#: A run of the bundled site takes seconds; one still short of its point after this is stuck.
STUCK_SECONDS = 120.0
PHASES = ("start-up", "fetched", "committed", "end")


@dataclass(frozen=True, slots=True)
class Target:
    """A point of a run's progress: `phase`, and `point` within it (with `k` for a count)."""

    phase: str
    point: str
    k: int = 0


class ArchiveReader:
    """Lazy read-only queries of an archive a run is writing (None until it can be read).

    `running`: the run may still be starting, so wait for its `-wal` too (see the module's
    docstring); after the kill only the header matters."""

    def __init__(self, path: Path, running: bool = True) -> None:
        self.path, self.running = path, running
        self.conn: sqlite3.Connection | None = None

    def one(self, sql: str, params: tuple[object, ...] = ()) -> tuple | None:
        if self.conn is None:
            if not in_wal_mode(self.path, self.running):
                return None
            try:
                self.conn = sqlite3.connect(sqlite_uri(self.path, mode="ro"), uri=True, timeout=0.05)
            except sqlite3.Error:
                return None
        try:
            return self.conn.execute(sql, params).fetchone()
        except sqlite3.Error:  # the schema not created yet
            return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def in_wal_mode(path: Path, with_wal: bool = True) -> bool:
    """The file's header says WAL (bytes 18-19) and (`with_wal`) its `-wal` exists: a run
    has it open."""
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError:
        return False
    wal = not with_wal or Path(f"{path}-wal").exists()
    return len(header) == 100 and header[18:20] == b"\x02\x02" and wal


def has_open(pid: int, path: Path) -> bool:
    """Process `pid` holds a descriptor of `path` (from /proc)."""
    wanted = str(path.resolve())
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                return True
        except OSError:
            continue
    return False


# ---- crawls ---------------------------------------------------------------------------------------


def crawl_target(rng: random.Random, pages: int, requests: int, fresh: bool) -> Target:
    """A random point of a crawl that commits `pages` frontier rows and sends `requests`.

    A re-crawl of unchanged pages commits its revisits (304s) in one transaction at the end
    (crawler/writer.py: REVISIT_SECONDS), so "committed k" is drawn for fresh archives only."""
    phases = [p for p in PHASES if fresh or p != "committed"]
    if not requests:
        phases.remove("fetched")
    phase = rng.choice(phases)
    if phase == "start-up":
        return Target(phase, rng.choice(("at once", "archive open", "crawl row", "frontier")))
    if phase == "fetched":
        return Target(phase, "k", rng.randint(1, requests - 1))
    if phase == "committed":
        return Target(phase, "k", rng.randint(1, pages - 1))
    return Target(phase, rng.choice(("all committed", "concluded")))


#: Points seen outside the archive (the process's descriptors, the server's log).
OUTSIDE = ("at once", "archive open")


class CrawlProgress:
    """What a crawl of `path` has committed: its crawls row (the first with an id above
    `after`), frontier rows done or failed and all its frontier rows; and the requests the
    server received since `requests` had `sent` entries."""

    def __init__(self, path: Path, after: int, requests: list, sent: int) -> None:
        self.reader = ArchiveReader(path)
        self.path, self.after, self.requests, self.sent = path, after, requests, sent
        self.status: str | None = None
        self.committed = 0
        self.frontier = 0

    def read(self) -> None:
        row = self.reader.one(
            "SELECT c.status, "
            "(SELECT count(*) FROM frontier f WHERE f.crawl_id = c.id AND f.state != 'queued'), "
            "(SELECT count(*) FROM frontier f WHERE f.crawl_id = c.id) "
            "FROM crawls c WHERE c.id > ? ORDER BY c.id LIMIT 1",
            (self.after,),
        )
        if row is not None:
            self.status, self.committed, self.frontier = row

    def reached(self, target: Target, pid: int, pages: int) -> bool:
        point = target.point
        if point == "at once":
            return True
        self.read()  # also for the points below: what was committed when the kill came
        if point == "archive open":
            return has_open(pid, self.path)
        if target.phase == "fetched":
            return len(self.requests) - self.sent >= target.k
        if point == "crawl row":
            return self.status is not None
        if point == "frontier":
            return self.frontier > 0
        if point == "concluded":
            return self.status not in (None, "running")
        return self.committed >= (target.k if target.phase == "committed" else pages)

    def confirm(self, target: Target, pages: int) -> bool | None:
        """After the kill: whether the archive, read afresh, shows `target` reached (None for
        a point outside the archive). Progress only grows, so False means the watch fired
        before the point: the kill came early."""
        if target.point in OUTSIDE or target.phase == "fetched":
            return None
        again = CrawlProgress(self.path, self.after, self.requests, self.sent)
        again.reader = ArchiveReader(self.path, running=False)
        try:
            return again.reached(target, 0, pages)
        finally:
            again.reader.close()


# ---- reparses -------------------------------------------------------------------------------------

#: What a parser change leaves in `snapshots`: an older code's note and parse fingerprint.
OLDER_PARSE = "older parser code"


def as_after_parser_change(path: Path) -> int:
    """Mark every parsed snapshot of `path` as read by an older parser with another outcome,
    so that a reparse rebuilds and commits page after page. Returns their count.

    A `reparse --force` of an intact archive reads every page and commits nothing until its
    end steps (every outcome the same): no point of progress to kill it at."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            changed = conn.execute(
                "UPDATE snapshots SET parse_hash = ?, parsed_with = ? WHERE parse_hash IS NOT NULL",
                (OLDER_PARSE, OLDER_PARSE),
            ).rowcount
    finally:
        conn.close()
    return changed


def reparse_target(rng: random.Random, snapshots: int) -> Target:
    phase = rng.choice([p for p in PHASES if p != "fetched"])
    if phase == "start-up":
        return Target(phase, rng.choice(("at once", "archive open")))
    if phase == "committed":
        return Target(phase, "k", rng.randint(1, snapshots - 1))
    return Target(phase, "all committed")


class ReparseProgress:
    """Snapshots a reparse of `path` has re-parsed and committed, out of `total`."""

    def __init__(self, path: Path, total: int) -> None:
        self.reader = ArchiveReader(path)
        self.path, self.total = path, total
        self.committed = 0

    def read(self) -> None:
        row = self.reader.one("SELECT count(*) FROM snapshots WHERE parse_hash = ?", (OLDER_PARSE,))
        if row is not None:
            self.committed = self.total - row[0]

    def reached(self, target: Target, pid: int, pages: int) -> bool:
        if target.point == "at once":
            return True
        self.read()
        if target.point == "archive open":
            return has_open(pid, self.path)
        return self.committed >= (target.k if target.phase == "committed" else pages)

    def confirm(self, target: Target, pages: int) -> bool | None:
        """As `CrawlProgress.confirm`."""
        if target.point in OUTSIDE:
            return None
        again = ReparseProgress(self.path, self.total)
        again.reader = ArchiveReader(self.path, running=False)
        try:
            return again.reached(target, 0, pages)
        finally:
            again.reader.close()


def wait_for(reached: Callable[[], bool], alive: Callable[[], bool], timeout: float = STUCK_SECONDS) -> str:
    """Poll until `reached()`: "reached", "ended" (`alive()` false first) or "timed out"."""
    deadline = time.monotonic() + timeout
    while True:
        if reached():
            return "reached"
        if not alive():
            return "ended"
        if time.monotonic() >= deadline:
            return "timed out"
        time.sleep(POLL_SECONDS)
