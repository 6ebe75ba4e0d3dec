"""Turning parse results into deduplicated, historied rows.

This is where the archive's counting rules live (issue 5): one `tools` row per
normalised name, one `verdicts` row per (tool, normalised text), one
`verdict_appearances` row per (verdict, comparison) however often a page is
re-crawled, and history rows for listings whose values change. Re-seeing the same
values only moves `last_seen`; an incomplete parse is stored flagged and never
replaces a complete state or overwrites good values with NULL.

Everything is batched: a whole batch of pages becomes one `executemany` per table
(upserts whose conflict clauses carry the merge rules), so the cost per page is a
handful of row writes, not a round of queries. Both the crawl writer (db/store.py)
and `reparse` (db/reparse.py) go through `ingest`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from db.identity import comparison_id, content_id, pair_key, text_key, tool_id, verdict_id
from db.snapshots import existing_keys
from parsers.model import ParseResult


@dataclass(frozen=True, slots=True)
class IngestItem:
    """One parsed snapshot of a comparison page and the time window it was in force."""

    url: str
    parse: ParseResult
    snapshot_id: int | None
    crawl_id: int | None
    seen_from: str
    seen_to: str
    #: The last crawl that saw this snapshot's body, when later than `crawl_id` (reparse).
    last_crawl_id: int | None = None


@dataclass(frozen=True, slots=True)
class IngestStats:
    comparisons_new: int = 0
    comparisons_changed: int = 0
    verdicts_new: int = 0
    appearances: int = 0


#: A complete state replaces a stored one when it is complete over incomplete, or as
#: complete and at least as recent.
_TAKE = (
    "(excluded.complete > comparisons.complete OR (excluded.complete = comparisons.complete"
    " AND excluded.last_seen >= comparisons.last_seen))"
)

_NEWER = "excluded.last_seen >= {t}.last_seen"
_CRAWL_IDS = """
    first_crawl_id = CASE WHEN excluded.first_seen < {t}.first_seen
        THEN excluded.first_crawl_id ELSE coalesce({t}.first_crawl_id, excluded.first_crawl_id) END,
    last_crawl_id = CASE WHEN excluded.last_seen >= {t}.last_seen
        THEN coalesce(excluded.last_crawl_id, {t}.last_crawl_id) ELSE {t}.last_crawl_id END,
    first_seen = min({t}.first_seen, excluded.first_seen),
    last_seen = max({t}.last_seen, excluded.last_seen)"""

_DETAIL_TAKE = (
    "(excluded.details_seen IS NOT NULL AND"
    " (tools.details_seen IS NULL OR excluded.details_seen >= tools.details_seen))"
)
_SEP = ",\n    "
_TOOL_DETAILS = _SEP.join(
    f"{c} = CASE WHEN {_DETAIL_TAKE} THEN coalesce(excluded.{c}, tools.{c})"
    f" ELSE coalesce(tools.{c}, excluded.{c}) END"
    for c in ("category", "tagline", "description")
)
TOOLS_UPSERT = f"""
INSERT INTO tools (id, name, category, tagline, description, first_seen, last_seen, details_seen)
VALUES (:id, :name, :category, :tagline, :description, :first_seen, :last_seen, :details_seen)
ON CONFLICT(id) DO UPDATE SET
    {_TOOL_DETAILS},
    details_seen = CASE WHEN {_DETAIL_TAKE} THEN excluded.details_seen ELSE tools.details_seen END,
    first_seen = min(tools.first_seen, excluded.first_seen),
    last_seen = max(tools.last_seen, excluded.last_seen)
"""

_COMPARISON_STATE = _SEP.join(
    f"{c} = CASE WHEN {_TAKE} THEN coalesce(excluded.{c}, comparisons.{c}) ELSE comparisons.{c} END"
    for c in ("title", "tool1_id", "tool2_id", "pair_key", "snapshot_id", "content_hash")
)
COMPARISONS_UPSERT = f"""
INSERT INTO comparisons (id, url, title, tool1_id, tool2_id, pair_key, complete, first_seen,
    last_seen, snapshot_id, content_hash, first_crawl_id, last_crawl_id)
VALUES (:id, :url, :title, :tool1_id, :tool2_id, :pair_key, :complete, :first_seen,
    :last_seen, :snapshot_id, :content_hash, :crawl_id, :last_crawl_id)
ON CONFLICT(id) DO UPDATE SET
    {_COMPARISON_STATE},
    complete = max(comparisons.complete, excluded.complete),
    gone_crawl_id = CASE WHEN excluded.last_seen > comparisons.gone_at THEN NULL
        ELSE comparisons.gone_crawl_id END,
    gone_at = CASE WHEN excluded.last_seen > comparisons.gone_at THEN NULL
        ELSE comparisons.gone_at END,{_CRAWL_IDS.format(t="comparisons")}
"""

LISTINGS_UPSERT = f"""
INSERT INTO listings (id, comparison_id, tool_id, position, panel_ship_pct, community_pct,
    entry_price, entry_price_usd, entry_price_kind, complete, first_seen, last_seen, snapshot_id,
    first_crawl_id, last_crawl_id)
VALUES (:id, :comparison_id, :tool_id, :position, :panel_ship_pct, :community_pct,
    :entry_price, :entry_price_usd, :entry_price_kind, :complete, :first_seen, :last_seen,
    :snapshot_id, :crawl_id, :last_crawl_id)
ON CONFLICT(id) DO UPDATE SET
    complete = max(listings.complete, excluded.complete),
    snapshot_id = CASE WHEN {_NEWER.format(t="listings")}
        THEN excluded.snapshot_id ELSE listings.snapshot_id END,{_CRAWL_IDS.format(t="listings")}
"""

VERDICTS_INSERT = """
INSERT OR IGNORE INTO verdicts (id, tool_id, reviewer_seat, text, text_key, first_seen, last_seen)
VALUES (:id, :tool_id, :reviewer_seat, :text, :text_key, :first_seen, :last_seen)
"""
VERDICTS_SEEN = """
UPDATE verdicts SET first_seen = min(first_seen, :first_seen), last_seen = max(last_seen, :last_seen)
WHERE id = :id AND (first_seen > :first_seen OR last_seen < :last_seen)
"""

_APPEARANCE_IDS = _CRAWL_IDS.format(t="verdict_appearances")
APPEARANCES_UPSERT = f"""
INSERT INTO verdict_appearances (verdict_id, comparison_id, reviewer_seat, position, first_seen,
    last_seen, snapshot_id, complete, first_crawl_id, last_crawl_id)
VALUES (:verdict_id, :comparison_id, :reviewer_seat, :position, :first_seen, :last_seen,
    :snapshot_id, :complete, :crawl_id, :last_crawl_id)
ON CONFLICT(verdict_id, comparison_id) DO UPDATE SET
    reviewer_seat = CASE WHEN {_NEWER.format(t="verdict_appearances")}
        THEN excluded.reviewer_seat ELSE verdict_appearances.reviewer_seat END,
    position = CASE WHEN {_NEWER.format(t="verdict_appearances")}
        THEN excluded.position ELSE verdict_appearances.position END,
    snapshot_id = CASE WHEN {_NEWER.format(t="verdict_appearances")}
        THEN excluded.snapshot_id ELSE verdict_appearances.snapshot_id END,
    complete = max(verdict_appearances.complete, excluded.complete),{_APPEARANCE_IDS}
"""


@lru_cache(maxsize=1 << 16)
def verdict_keys(tool: str, text: str) -> tuple[str, str]:
    """(verdict id, text key): cached, since the site repeats each quote on many pages."""
    return verdict_id(tool, text), text_key(text)


@lru_cache(maxsize=1 << 14)
def cached_tool_id(name: str) -> str:
    return tool_id(name)


def listing_id(comparison: str, position: int, tool: str, values: tuple[Any, ...]) -> str:
    """A listing row's id: its comparison, position, tool and every value."""
    return content_id("listing", comparison, str(position), tool, *map(repr, values))


class _Batch:
    """Rows of one batch, merged in Python so each key is written once."""

    def __init__(self) -> None:
        self.tools: dict[str, dict[str, Any]] = {}
        self.comparisons: list[dict[str, Any]] = []
        self.listings: list[dict[str, Any]] = []
        self.verdicts: dict[str, dict[str, Any]] = {}
        self.appearances: list[dict[str, Any]] = []

    def add_tool(self, tid: str, listing: Any, item: IngestItem, complete: bool) -> None:
        details = {k: getattr(listing, k) for k in ("category", "tagline", "description")}
        seen = item.seen_to if complete else None
        row = self.tools.get(tid)
        if row is None:
            self.tools[tid] = {
                "id": tid,
                "name": listing.name,
                **details,
                "first_seen": item.seen_from,
                "last_seen": item.seen_to,
                "details_seen": seen,
            }
            return
        take = seen is not None and (row["details_seen"] is None or seen >= row["details_seen"])
        for key, value in details.items():
            if take:
                row[key] = value if value is not None else row[key]
            elif row[key] is None:
                row[key] = value
        if take:
            row["details_seen"] = seen
        row["first_seen"] = min(row["first_seen"], item.seen_from)
        row["last_seen"] = max(row["last_seen"], item.seen_to)

    def add_verdict(self, vid: str, key: str, tid: str, seat: int, text: str, item: IngestItem) -> None:
        row = self.verdicts.get(vid)
        if row is None:
            self.verdicts[vid] = {
                "id": vid,
                "tool_id": tid,
                "reviewer_seat": seat,
                "text": text,
                "text_key": key,
                "first_seen": item.seen_from,
                "last_seen": item.seen_to,
            }
        else:
            row["first_seen"] = min(row["first_seen"], item.seen_from)
            row["last_seen"] = max(row["last_seen"], item.seen_to)


def ingest(conn: sqlite3.Connection, items: list[IngestItem]) -> IngestStats:
    """Store the comparison pages of `items`, inside the caller's transaction."""
    items = [item for item in items if item.parse.is_comparison]
    if not items:
        return IngestStats()
    ids = [comparison_id(item.url) for item in items]
    known: dict[str, str | None] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = f"SELECT id, content_hash FROM comparisons WHERE id IN ({', '.join('?' * len(chunk))})"
        known.update(conn.execute(sql, chunk).fetchall())
    batch = _Batch()
    new = changed = 0
    for item, cid in zip(items, ids, strict=True):
        state = _add_page(batch, item, cid)
        complete = item.parse.status == "ok"
        if cid not in known:
            new += 1
            known[cid] = state if complete else None
        elif complete and known[cid] != state:
            changed += known[cid] is not None
            known[cid] = state
    conn.executemany(TOOLS_UPSERT, list(batch.tools.values()))
    conn.executemany(COMPARISONS_UPSERT, batch.comparisons)
    conn.executemany(LISTINGS_UPSERT, batch.listings)
    verdicts = list(batch.verdicts.values())
    verdicts_new = conn.executemany(VERDICTS_INSERT, verdicts).rowcount
    if verdicts_new < len(verdicts):
        conn.executemany(VERDICTS_SEEN, verdicts)
    conn.executemany(APPEARANCES_UPSERT, batch.appearances)
    return IngestStats(new, changed, max(verdicts_new, 0), len(batch.appearances))


def _add_page(batch: _Batch, item: IngestItem, cid: str) -> str:
    """Add one page's rows to `batch`; returns the fingerprint of its state."""
    parse = item.parse
    complete = parse.status == "ok"
    common = {
        "comparison_id": cid,
        "complete": int(complete),
        "first_seen": item.seen_from,
        "last_seen": item.seen_to,
        "snapshot_id": item.snapshot_id,
        "crawl_id": item.crawl_id,
        "last_crawl_id": item.last_crawl_id or item.crawl_id,
    }
    tools: dict[int, str] = {}
    state: list[str] = [parse.title or ""]
    for listing in parse.listings:
        if not listing.name:
            continue
        tid = tools[listing.position] = cached_tool_id(listing.name)
        batch.add_tool(tid, listing, item, complete)
        values = (
            listing.panel_ship_pct,
            listing.community_pct,
            listing.entry_price,
            listing.entry_price_usd,
            listing.entry_price_kind,
        )
        lid = listing_id(cid, listing.position, tid, values)
        state.append(lid)
        batch.listings.append(
            {
                "id": lid,
                "tool_id": tid,
                "position": listing.position,
                "panel_ship_pct": values[0],
                "community_pct": values[1],
                "entry_price": values[2],
                "entry_price_usd": values[3],
                "entry_price_kind": values[4],
                **common,
            }
        )
    for quote in parse.quotes:
        tid = tools.get(quote.position)
        if tid is None or not quote.text.strip():
            continue
        vid, key = verdict_keys(tid, quote.text)
        state.append(f"{vid}:{quote.reviewer_seat}")
        batch.add_verdict(vid, key, tid, quote.reviewer_seat, quote.text, item)
        batch.appearances.append(
            {
                "verdict_id": vid,
                "reviewer_seat": quote.reviewer_seat,
                "position": quote.position,
                **common,
            }
        )
    tool1, tool2 = tools.get(1), tools.get(2)
    fingerprint = content_id("state", *state)
    batch.comparisons.append(
        {
            "id": cid,
            "url": item.url,
            "title": parse.title,
            "tool1_id": tool1,
            "tool2_id": tool2,
            "pair_key": pair_key(tool1, tool2) if tool1 and tool2 else None,
            "complete": int(complete),
            "first_seen": item.seen_from,
            "last_seen": item.seen_to,
            "snapshot_id": item.snapshot_id,
            "content_hash": fingerprint,
            "crawl_id": item.crawl_id,
            "last_crawl_id": item.last_crawl_id or item.crawl_id,
        }
    )
    return fingerprint


@dataclass(frozen=True, slots=True)
class Revisit:
    """A page seen again with the body of its latest snapshot (304 or same sha256)."""

    url: str
    previous_seen: str
    seen: str
    crawl_id: int | None


_REVISIT = (
    """UPDATE listings SET last_seen = :seen, last_crawl_id = coalesce(:crawl_id, last_crawl_id)
    WHERE comparison_id = :cid AND last_seen = :previous""",
    """UPDATE verdict_appearances SET last_seen = :seen,
        last_crawl_id = coalesce(:crawl_id, last_crawl_id)
    WHERE comparison_id = :cid AND last_seen = :previous""",
    """UPDATE verdicts SET last_seen = :seen WHERE last_seen < :seen AND id IN
        (SELECT verdict_id FROM verdict_appearances WHERE comparison_id = :cid AND last_seen = :seen)""",
    """UPDATE tools SET last_seen = :seen WHERE last_seen < :seen AND id IN
        (SELECT tool_id FROM listings WHERE comparison_id = :cid AND last_seen = :seen)""",
    """UPDATE comparisons SET last_seen = max(last_seen, :seen),
        last_crawl_id = coalesce(:crawl_id, last_crawl_id), gone_at = NULL, gone_crawl_id = NULL
    WHERE id = :cid""",
)


def revisit(conn: sqlite3.Connection, visits: list[Revisit]) -> None:
    """Move `last_seen` of the rows a page's current body yields (nothing else changes)."""
    params = [
        {"cid": comparison_id(v.url), "previous": v.previous_seen, "seen": v.seen, "crawl_id": v.crawl_id}
        for v in visits
        if v.seen > v.previous_seen
    ]
    if not params:
        return
    present = existing_keys(conn, "SELECT id FROM comparisons WHERE id IN ({})", [p["cid"] for p in params])
    params = [p for p in params if p["cid"] in present]
    for sql in _REVISIT:
        conn.executemany(sql, params)
