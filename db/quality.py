"""The quality gate against silent layout drift.

Scrapers rarely fail loudly: a redesign makes a field vanish and the archive quietly
fills with gaps. Each crawl therefore records, per field, how many comparison pages
yielded it (from each page's current snapshot: `snapshots.parse_missing`, written from
`ParseResult.field_presence()`), in `crawl_field_stats`. When the share of complete
pages, of pages still recognised as comparisons, or of any field drops by more than
`MAX_DROP_POINTS` from the previous crawl of the same site, the crawl is degraded; the
reasons name the fields and the pages. The crawler (crawler/engine.py) calls
`assess_crawl` when a crawl ends, marks it `degraded` and exits non-zero. Nothing is
overwritten with NULLs meanwhile: db/ingest.py never lets an incomplete parse become
current.

Some losses need no earlier crawl to be seen (issue 13 §2): any page of the crawl whose
current snapshot is an `unreadable` candidate comparison (parsers/candidates.py) or a parse
that raised (`error`) degrades the crawl, on the first crawl of a site too; a page that was
a comparison and now is not is named as layout drift. The counts and the first unreadable
URLs go on the `crawls` row. Only the site's `exclude` patterns silence a page (it is then
not crawled at all).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from db.archive import transaction
from db.near_duplicates import mark_near_duplicates
from parsers.model import LISTING_FIELDS

if TYPE_CHECKING:  # the crawl passes a plain connection and never imports sqlite-utils
    from sqlite_utils import Database

MAX_DROP_POINTS = 10.0
#: Fields counted per comparison page (the keys of ParseResult.field_presence()).
FIELDS: tuple[str, ...] = ("title", *LISTING_FIELDS, "quotes")
#: Pseudo-fields: pages parsed complete, and known comparison pages still recognised.
COMPLETE, RECOGNISED = "complete", "recognised"
EXAMPLES = 20
#: Unreadable URLs kept on the crawls row and shown in the summary.
UNREADABLE_SHOWN = 10
_COMPARISON = ("ok", "incomplete")

_PAGES = """
SELECT p.url, s.parse_status, s.parse_missing,
       EXISTS (SELECT 1 FROM comparisons c WHERE c.url IN (p.url, s.url)) AS known
FROM pages p
JOIN snapshots s ON s.id = (
    SELECT id FROM snapshots WHERE page_id = p.id ORDER BY fetched_at DESC, id DESC LIMIT 1
)
WHERE p.last_crawl_id = ? AND p.status = 'ok' AND s.parse_status IS NOT NULL
"""


@dataclass(slots=True)
class FieldCount:
    pages_with: int = 0
    pages_total: int = 0
    missing: list[str] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        return 100.0 * self.pages_with / self.pages_total if self.pages_total else None


@dataclass(frozen=True, slots=True)
class QualityReport:
    degraded: bool
    reasons: list[str]
    #: field -> (pages that yielded it, comparison pages in the crawl)
    field_counts: dict[str, tuple[int, int]]
    previous_crawl_id: int | None = None
    #: Verdicts the end-of-crawl near-duplicate pass linked to an earlier one.
    near_duplicates: int = 0
    #: Candidate comparisons no layout read: the first `UNREADABLE_SHOWN` URLs, and how many.
    unreadable: list[str] = field(default_factory=list)
    unreadable_count: int = 0
    #: Pages whose parse raised (the first `UNREADABLE_SHOWN`), and how many.
    parse_errors: list[str] = field(default_factory=list)
    parse_error_count: int = 0
    #: Pages that were comparisons and now are not (layout drift).
    drifted: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Losses:
    """The crawl's pages that no layout read although they should have been."""

    unreadable: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)


def count_fields(
    db: Database | sqlite3.Connection, crawl_id: int, losses: _Losses | None = None
) -> dict[str, FieldCount]:
    """Per field, how many of the crawl's comparison pages yielded it (and, into `losses`,
    which pages are unreadable, raised, or drifted)."""
    counts = {name: FieldCount() for name in (COMPLETE, RECOGNISED, *FIELDS)}
    losses = losses if losses is not None else _Losses()
    complete_pages = 0  # pages missing no field: tallied for every field at once, at the end
    for url, status, missing_json, known in db.execute(_PAGES, [crawl_id]):
        is_comparison = status in _COMPARISON
        if status == "unreadable":
            losses.unreadable.append(url)
        elif status == "error":
            losses.errors.append(url)
        if known and not is_comparison:
            losses.drifted.append(url)
        if is_comparison or known:
            _tally(counts[RECOGNISED], is_comparison, url)
        if not is_comparison:
            continue
        _tally(counts[COMPLETE], status == "ok", url)
        if not missing_json or missing_json == "[]":
            complete_pages += 1
            continue
        missing = set(json.loads(missing_json))
        for name in FIELDS:
            _tally(counts[name], name not in missing, url)
    for name in FIELDS:
        counts[name].pages_total += complete_pages
        counts[name].pages_with += complete_pages
    return counts


def _tally(count: FieldCount, present: bool, url: str) -> None:
    count.pages_total += 1
    if present:
        count.pages_with += 1
    else:
        count.missing.append(url)


def previous_crawl(db: Database | sqlite3.Connection, crawl_id: int) -> int | None:
    """The latest earlier crawl of the same site that has field statistics."""
    row = db.execute(
        "SELECT max(p.id) FROM crawls c JOIN crawls p ON p.site = c.site AND p.id < c.id "
        "WHERE c.id = ? AND EXISTS (SELECT 1 FROM crawl_field_stats f WHERE f.crawl_id = p.id)",
        [crawl_id],
    ).fetchone()
    return row[0] if row else None


def assess_crawl(db: Database | sqlite3.Connection, crawl_id: int) -> QualityReport:
    """The archive's end-of-crawl step: the near-duplicate pass over the verdicts the crawl
    added (db/near_duplicates.py), then this crawl's field statistics, compared with the
    previous crawl's."""
    near = mark_near_duplicates(db)
    losses = _Losses()
    counts = count_fields(db, crawl_id, losses)
    previous_id = previous_crawl(db, crawl_id)
    before: dict[str, float | None] = {}
    if previous_id is not None:
        before = dict(
            db.execute(
                "SELECT field, share FROM crawl_field_stats WHERE crawl_id = ?", [previous_id]
            ).fetchall()
        )
    reasons = []
    for name, count in counts.items():
        old, new = before.get(name), count.share
        if old is not None and new is not None and old - new > MAX_DROP_POINTS:
            reasons.append(_reason(name, old, count))
    reasons.extend(_loss_reasons(losses))
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    unreadable = sorted(losses.unreadable)
    with transaction(conn):
        conn.execute(
            "UPDATE crawls SET pages_unreadable = ?, parse_errors = ?, unreadable_urls = ? WHERE id = ?",
            [len(unreadable), len(losses.errors), json.dumps(unreadable[:UNREADABLE_SHOWN]), crawl_id],
        )
        conn.execute("DELETE FROM crawl_field_stats WHERE crawl_id = ?", [crawl_id])
        conn.executemany(
            "INSERT INTO crawl_field_stats (crawl_id, field, pages_with, pages_total, share, "
            "previous_share, pages_missing) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    crawl_id,
                    name,
                    c.pages_with,
                    c.pages_total,
                    c.share,
                    before.get(name),
                    json.dumps(c.missing[:EXAMPLES]),
                )
                for name, c in counts.items()
            ],
        )
    return QualityReport(
        degraded=bool(reasons),
        reasons=reasons,
        field_counts={name: (c.pages_with, c.pages_total) for name, c in counts.items()},
        previous_crawl_id=previous_id,
        near_duplicates=near.marked,
        unreadable=unreadable[:UNREADABLE_SHOWN],
        unreadable_count=len(unreadable),
        parse_errors=sorted(losses.errors)[:UNREADABLE_SHOWN],
        parse_error_count=len(losses.errors),
        drifted=sorted(losses.drifted),
    )


def _urls(urls: list[str]) -> str:
    shown = ", ".join(sorted(urls)[:UNREADABLE_SHOWN])
    more = len(urls) - UNREADABLE_SHOWN
    return f"{shown} (+{more} more)" if more > 0 else shown


def _loss_reasons(losses: _Losses) -> list[str]:
    """Reasons that need no previous crawl: pages lost now, named."""
    reasons = []
    if losses.unreadable:
        reasons.append(
            f"{len(losses.unreadable)} candidate comparison page(s) unreadable (parse_status "
            f"'unreadable'; silence a known non-comparison with an exclude pattern): "
            f"{_urls(losses.unreadable)}"
        )
    if losses.drifted:
        reasons.append(
            f"layout drift: {len(losses.drifted)} page(s) were comparisons and now are not: "
            f"{_urls(losses.drifted)}"
        )
    if losses.errors:
        reasons.append(
            f"the parser raised on {len(losses.errors)} page(s) (parse_status 'error'): "
            f"{_urls(losses.errors)}"
        )
    return reasons


def _reason(name: str, old: float, count: FieldCount) -> str:
    what = {
        COMPLETE: "complete comparison pages",
        RECOGNISED: "known comparison pages still recognised",
    }.get(name, f"comparison pages with {name}")
    shown = ", ".join(count.missing[:5])
    more = len(count.missing) - 5
    pages = f"{shown} (+{more} more)" if more > 0 else shown
    return (
        f"{what}: {old:.1f}% -> {count.share:.1f}% of {count.pages_total} "
        f"(down {old - (count.share or 0):.1f} points); missing on {pages}"
    )
