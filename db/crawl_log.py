"""The `crawls` table: one row per run, so operators can see every night's outcome.

A run begins as `running` and ends as completed, degraded, failed or interrupted.
A row still `running` when the next run of the same site starts can only belong to a
crawl that was killed (the archive lock guarantees no other crawl is alive), so the
new run marks it `interrupted`, takes over its frontier, and starts a row of its own:
every run keeps its own start, end and counters.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from db import frontier
from db.archive import transaction

if TYPE_CHECKING:  # the writer process passes a plain connection and never imports sqlite-utils
    from sqlite_utils import Database

#: Counter columns, in the order of `db.store.StoreStats` fields that feed them.
COUNTERS = (
    "pages_fetched",
    "pages_not_modified",
    "pages_failed",
    "comparisons_new",
    "comparisons_changed",
    "verdicts_new",
    "pages_unreadable",
    "parse_errors",
)
RESUMABLE = ("running", "interrupted")


def now() -> str:
    return datetime.now(UTC).isoformat()


def site_key(canonical_start_urls: Iterable[str]) -> str:
    """A stable key for a set of start URLs: same set, same key, in any order."""
    joined = "\n".join(sorted(set(canonical_start_urls)))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CrawlStart:
    crawl_id: int
    site: str
    resumed_from: int | None  # the interrupted crawl whose frontier this run took over


def _conn(db: Database | sqlite3.Connection) -> sqlite3.Connection:
    return db if isinstance(db, sqlite3.Connection) else db.conn


def last_crawl(db: Database | sqlite3.Connection, site: str) -> dict[str, Any] | None:
    cursor = _conn(db).execute("SELECT * FROM crawls WHERE site = ? ORDER BY id DESC LIMIT 1", [site])
    row = cursor.fetchone()
    return None if row is None else dict(zip([c[0] for c in cursor.description], row, strict=True))


def begin(db: Database | sqlite3.Connection, site: str, start_urls: list[str]) -> CrawlStart:
    """Start a crawls row for `site`, taking over the frontier of an unfinished run.

    Must be called with the archive lock held: a `running` row is then a dead crawl.
    A run recorded `resumable` (it stopped early with URLs still queued: --max-pages, its
    writer died, results could not be sent) is resumed too, whatever its status: only
    what it did not commit is fetched again.
    """
    stamp = now()
    with transaction(_conn(db)):
        previous = last_crawl(db, site)
        cursor = db.execute(
            "INSERT INTO crawls (site, start_urls, started_at, status) VALUES (?, ?, ?, 'running')",
            [site, json.dumps(start_urls), stamp],
        )
        crawl_id = int(cursor.lastrowid or 0)
        resumed_from = None
        if previous is not None and (previous["status"] in RESUMABLE or previous.get("resumable")):
            resumed_from = int(previous["id"])
            if previous["status"] == "running":
                db.execute(
                    "UPDATE crawls SET status = 'interrupted', finished_at = ?, error = ? WHERE id = ?",
                    [stamp, f"stopped before finishing; resumed by crawl {crawl_id}", resumed_from],
                )
            frontier.copy(db, resumed_from, crawl_id)
        frontier.prune(db, site, keep=crawl_id)
    return CrawlStart(crawl_id=crawl_id, site=site, resumed_from=resumed_from)


def add_counts(db: Database | sqlite3.Connection, crawl_id: int, counts: Iterable[int]) -> None:
    """Add one batch's counters (in `COUNTERS` order); call inside the batch transaction."""
    values = list(counts)
    if not any(values):
        return
    assignments = ", ".join(f"{name} = {name} + ?" for name in COUNTERS)
    db.execute(f"UPDATE crawls SET {assignments} WHERE id = ?", [*values, crawl_id])


def finish(
    db: Database | sqlite3.Connection,
    crawl_id: int,
    status: str,
    error: str | None = None,
    stopped_early: bool = False,
) -> bool:
    """Close the crawl's row; `stopped_early` (it did not run its frontier to the end) makes
    it resumable when URLs are left queued. Returns whether it is resumable."""
    with transaction(_conn(db)):
        resumable = stopped_early and frontier.has_queued(db, crawl_id)
        db.execute(
            "UPDATE crawls SET status = ?, finished_at = ?, error = ?, resumable = ? WHERE id = ?",
            [status, now(), error, int(resumable), crawl_id],
        )
    return resumable


def get(db: Database, crawl_id: int) -> dict[str, Any]:
    return dict(db["crawls"].get(crawl_id))
