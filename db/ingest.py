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

import json
import operator
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from hashlib import blake2b
from typing import TYPE_CHECKING, Any

from db.identity import comparison_id, content_id, normalise_text, pair_key, tool_id

if TYPE_CHECKING:
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
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    {_TOOL_DETAILS},
    details_seen = CASE WHEN {_DETAIL_TAKE} THEN excluded.details_seen ELSE tools.details_seen END,
    first_seen = min(tools.first_seen, excluded.first_seen),
    last_seen = max(tools.last_seen, excluded.last_seen)
"""

#: Tools already stored skip the upsert for two UPDATEs (same outcome): the FTS update
#: trigger of `tools` fires on any write to tagline or description, so the details are
#: written only when one really changes (rarely), not for every batch that sees the tool.
_TOOL_VALUES = {"category": "?3", "tagline": "?4", "description": "?5", "first_seen": "?6"}
_TOOL_VALUES |= {"last_seen": "?7", "details_seen": "?8"}


def _bound(sql: str) -> str:
    """The upsert expression `sql` with `excluded.<column>` as the tool row's parameter."""
    for column, parameter in _TOOL_VALUES.items():
        sql = sql.replace(f"excluded.{column}", parameter)
    return sql


_DETAIL_VALUE = {
    c: f"(CASE WHEN {_DETAIL_TAKE} THEN coalesce(excluded.{c}, tools.{c})"
    f" ELSE coalesce(tools.{c}, excluded.{c}) END)"
    for c in ("category", "tagline", "description")
}
TOOLS_DETAILS_UPDATE = _bound(
    f"UPDATE tools SET {_SEP.join(f'{c} = {v}' for c, v in _DETAIL_VALUE.items())}\nWHERE id = ?1 AND ("
    + " OR ".join(f"{c} IS NOT {v}" for c, v in _DETAIL_VALUE.items())
    + ")"
)
TOOLS_SEEN_UPDATE = _bound(
    f"""UPDATE tools SET
    details_seen = CASE WHEN {_DETAIL_TAKE} THEN excluded.details_seen ELSE tools.details_seen END,
    first_seen = min(tools.first_seen, excluded.first_seen),
    last_seen = max(tools.last_seen, excluded.last_seen)
WHERE id = ?1 AND ({_DETAIL_TAKE} OR first_seen > excluded.first_seen OR last_seen < excluded.last_seen)"""
)

_COMPARISON_STATE = _SEP.join(
    f"{c} = CASE WHEN {_TAKE} THEN coalesce(excluded.{c}, comparisons.{c}) ELSE comparisons.{c} END"
    for c in ("title", "tool1_id", "tool2_id", "pair_key", "snapshot_id", "content_hash")
)
COMPARISONS_UPSERT = f"""
INSERT INTO comparisons (id, url, title, tool1_id, tool2_id, pair_key, complete, first_seen,
    last_seen, snapshot_id, content_hash, first_crawl_id, last_crawl_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    complete = max(listings.complete, excluded.complete),
    snapshot_id = CASE WHEN {_NEWER.format(t="listings")}
        THEN excluded.snapshot_id ELSE listings.snapshot_id END,{_CRAWL_IDS.format(t="listings")}
"""

#: A listing whose last_seen moves (seen again, by the upsert above or `revisit`) can change
#: its tool's latest price: the tool's summary is recomputed at the next refresh
#: (db/summaries.py). Marked here once per tool and batch: a row trigger doubled the cost of
#: a re-crawl's listing updates.
_TOOLS_MARKED = "INSERT OR IGNORE INTO summary_dirty_tools (tool_id) VALUES (?)"

VERDICTS_INSERT = """
INSERT INTO verdicts (id, tool_id, reviewer_seat, text, text_key, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
VERDICTS_SEEN = """
UPDATE verdicts SET first_seen = min(first_seen, ?2), last_seen = max(last_seen, ?3)
WHERE id = ?1 AND (first_seen > ?2 OR last_seen < ?3)
"""

_APPEARANCE_IDS = _CRAWL_IDS.format(t="verdict_appearances")
APPEARANCES_UPSERT = f"""
INSERT INTO verdict_appearances (verdict_id, comparison_id, reviewer_seat, position, complete,
    first_seen, last_seen, snapshot_id, first_crawl_id, last_crawl_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(verdict_id, comparison_id) DO UPDATE SET
    reviewer_seat = CASE WHEN {_NEWER.format(t="verdict_appearances")}
        THEN excluded.reviewer_seat ELSE verdict_appearances.reviewer_seat END,
    position = CASE WHEN {_NEWER.format(t="verdict_appearances")}
        THEN excluded.position ELSE verdict_appearances.position END,
    snapshot_id = CASE WHEN {_NEWER.format(t="verdict_appearances")}
        THEN excluded.snapshot_id ELSE verdict_appearances.snapshot_id END,
    complete = max(verdict_appearances.complete, excluded.complete),{_APPEARANCE_IDS}
"""


_TOOL_IDS = "SELECT id FROM tools WHERE id IN (SELECT value FROM json_each(?))"
_LISTING_IDS = "SELECT id FROM listings WHERE id IN (SELECT value FROM json_each(?))"
_VERDICT_IDS = "SELECT id FROM verdicts WHERE id IN (SELECT value FROM json_each(?))"
_APPEARANCE_KEYS = """SELECT verdict_id, comparison_id FROM verdict_appearances
WHERE comparison_id IN (SELECT value FROM json_each(?))"""
_APPEARANCE_KEY = operator.itemgetter(0, 1)
_ROW_ID = operator.itemgetter(0)


def _existing(conn: sqlite3.Connection, sql: str, keys: Iterable[str]) -> set[Any]:
    """Which of `keys` the single-column `sql` (with one `json_each(?)`) finds."""
    return {key for (key,) in conn.execute(sql, [json.dumps(list(keys))])}


def _insert_or_merge(
    conn: sqlite3.Connection,
    upsert: str,
    rows: Iterable[Sequence[Any]],
    existing: set[Any],
    key: Callable[[Sequence[Any]], Any] = _ROW_ID,
) -> None:
    """Write rows through `upsert`, the ones whose key is new by its plain INSERT part.

    Same rows as the upsert alone (a new key has nothing to merge with), for about half
    the CPU: SQLite checks foreign keys far more slowly in an upsert than in an insert.
    A key met again later in the batch is merged with the row inserted before it.
    """
    fresh: list[Sequence[Any]] = []
    again: list[Sequence[Any]] = []
    for row in rows:
        name = key(row)
        if name in existing:
            again.append(row)
        else:
            existing.add(name)
            fresh.append(row)
    conn.executemany(_insert(upsert), fresh)
    conn.executemany(upsert, again)


def _insert(upsert: str) -> str:
    """The plain INSERT part of an upsert."""
    return upsert[: upsert.index("ON CONFLICT")]


class _VerdictKeys:
    """(verdict id, text key) of a quote, cached: the site repeats each quote on dozens of
    pages, and normalising a quote's text (NFKC, whitespace) costs ~40 us, more than the
    rest of its rows.

    The cache is keyed by a 128-bit BLAKE2b digest of the raw text (~3 us), not by the
    text: an entry costs ~300 B instead of ~900 B, so it holds every quote of a
    30,000-page site (10,000 quotes, 3 MB) where a text-keyed cache of the same memory
    held 4,096 and missed on most pages (0.5 ms a page). Beyond `maxsize` the oldest
    entry goes. Misses normalise the text once for both ids (`identity.verdict_id` and
    `identity.text_key` each normalise it).
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.cache: dict[tuple[str, bytes], tuple[str, str]] = {}

    def __call__(self, tool: str, text: str) -> tuple[str, str]:
        digest = blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        found = self.cache.get((tool, digest))
        if found is None:
            normal = normalise_text(text)
            # = (identity.verdict_id(tool, text), identity.text_key(text)), normalised once
            found = (content_id("verdict", tool, normal), content_id("text", normal))
            self.cache[(tool, digest)] = found
            if len(self.cache) > self.maxsize:
                del self.cache[next(iter(self.cache))]
        return found

    def cache_clear(self) -> None:
        self.cache.clear()


verdict_keys = _VerdictKeys(maxsize=1 << 14)


@lru_cache(maxsize=1 << 14)
def cached_tool_id(name: str) -> str:
    return tool_id(name)


def listing_id(comparison: str, position: int, tool: str, values: tuple[Any, ...]) -> str:
    """A listing row's id: its comparison, position, tool and every value."""
    return content_id("listing", comparison, str(position), tool, *map(repr, values))


class _Batch:
    """Rows of one batch (plain lists, in the upserts' column order), merged in Python so
    each tool and verdict is written once."""

    def __init__(self) -> None:
        self.tools: dict[str, list[Any]] = {}
        self.comparisons: list[tuple[Any, ...]] = []
        self.listings: list[tuple[Any, ...]] = []
        self.verdicts: dict[str, list[Any]] = {}
        self.appearances: list[tuple[Any, ...]] = []

    def add_tool(self, tid: str, listing: Any, item: IngestItem, complete: bool) -> None:
        details = (listing.category, listing.tagline, listing.description)
        seen = item.seen_to if complete else None
        row = self.tools.get(tid)
        if row is None:  # id, name, category, tagline, description, first/last/details seen
            self.tools[tid] = [tid, listing.name, *details, item.seen_from, item.seen_to, seen]
            return
        take = seen is not None and (row[7] is None or seen >= row[7])
        for index, value in enumerate(details, start=2):
            if take:
                row[index] = value if value is not None else row[index]
            elif row[index] is None:
                row[index] = value
        if take:
            row[7] = seen
        row[5] = min(row[5], item.seen_from)
        row[6] = max(row[6], item.seen_to)

    def add_verdict(self, vid: str, key: str, tid: str, seat: int, text: str, item: IngestItem) -> None:
        row = self.verdicts.get(vid)
        if row is None:  # id, tool_id, reviewer_seat, text, text_key, first_seen, last_seen
            self.verdicts[vid] = [vid, tid, seat, text, key, item.seen_from, item.seen_to]
        else:
            row[5] = min(row[5], item.seen_from)
            row[6] = max(row[6], item.seen_to)


def ingest(conn: sqlite3.Connection, items: list[IngestItem]) -> IngestStats:
    """Store the comparison pages of `items`, inside the caller's transaction."""
    items = [item for item in items if item.parse.is_comparison]
    if not items:
        return IngestStats()
    ids = [comparison_id(item.url) for item in items]
    known: dict[str, str | None] = dict(
        conn.execute(
            "SELECT id, content_hash FROM comparisons WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(ids)],
        )
    )
    existing_comparisons = set(known)
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
    cids = json.dumps(ids)
    known_tools = _existing(conn, _TOOL_IDS, batch.tools)
    tools = list(batch.tools.values())
    conn.executemany(_insert(TOOLS_UPSERT), [t for t in tools if t[0] not in known_tools])
    stored = [t for t in tools if t[0] in known_tools]
    conn.executemany(TOOLS_DETAILS_UPDATE, stored)
    conn.executemany(TOOLS_SEEN_UPDATE, stored)
    _insert_or_merge(conn, COMPARISONS_UPSERT, batch.comparisons, existing_comparisons)
    listing_ids = [row[0] for row in batch.listings]
    _insert_or_merge(conn, LISTINGS_UPSERT, batch.listings, _existing(conn, _LISTING_IDS, listing_ids))
    conn.executemany(_TOOLS_MARKED, [(tool,) for tool in {row[2] for row in batch.listings}])
    verdicts = list(batch.verdicts.values())
    known_verdicts = _existing(conn, _VERDICT_IDS, batch.verdicts)
    fresh = [v for v in verdicts if v[0] not in known_verdicts]
    conn.executemany(VERDICTS_INSERT, fresh)
    conn.executemany(VERDICTS_SEEN, [(v[0], v[5], v[6]) for v in verdicts if v[0] in known_verdicts])
    appeared = {tuple(row) for row in conn.execute(_APPEARANCE_KEYS, [cids])}
    _insert_or_merge(conn, APPEARANCES_UPSERT, batch.appearances, appeared, key=_APPEARANCE_KEY)
    return IngestStats(new, changed, len(fresh), len(batch.appearances))


def _add_page(batch: _Batch, item: IngestItem, cid: str) -> str:
    """Add one page's rows to `batch`; returns the fingerprint of its state."""
    parse = item.parse
    complete = parse.status == "ok"
    crawl_id, last_crawl_id = item.crawl_id, item.last_crawl_id or item.crawl_id
    # The columns every listing and appearance of the page ends with.
    tail = (int(complete), item.seen_from, item.seen_to, item.snapshot_id, crawl_id, last_crawl_id)
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
        batch.listings.append((lid, cid, tid, listing.position, *values, *tail))
    for quote in parse.quotes:
        tid = tools.get(quote.position)
        if tid is None or not quote.text.strip():
            continue
        vid, key = verdict_keys(tid, quote.text)
        state.append(f"{vid}:{quote.reviewer_seat}")
        batch.add_verdict(vid, key, tid, quote.reviewer_seat, quote.text, item)
        batch.appearances.append((vid, cid, quote.reviewer_seat, quote.position, *tail))
    tool1, tool2 = tools.get(1), tools.get(2)
    fingerprint = content_id("state", *state)
    batch.comparisons.append(
        (
            cid,
            item.url,
            parse.title,
            tool1,
            tool2,
            pair_key(tool1, tool2) if tool1 and tool2 else None,
            int(complete),
            item.seen_from,
            item.seen_to,
            item.snapshot_id,
            fingerprint,
            crawl_id,
            last_crawl_id,
        )
    )
    return fingerprint


@dataclass(frozen=True, slots=True)
class Revisit:
    """A page seen again with the body of its latest snapshot (304 or same sha256)."""

    url: str
    previous_seen: str
    seen: str
    crawl_id: int | None


#: Stored comparisons of a batch and their rowids (the order their rows were written).
_COMPARISON_ROWIDS = "SELECT id, rowid FROM comparisons WHERE id IN (SELECT value FROM json_each(?))"
#: Parameters: ?1 comparison id, ?2 previous last_seen, ?3 new last_seen, ?4 crawl id.
_LISTINGS_SEEN = """UPDATE listings SET last_seen = ?3, last_crawl_id = coalesce(?4, last_crawl_id)
WHERE comparison_id = ?1 AND last_seen = ?2"""
_APPEARANCES_SEEN = """UPDATE verdict_appearances SET last_seen = ?3,
    last_crawl_id = coalesce(?4, last_crawl_id)
WHERE comparison_id = ?1 AND last_seen = ?2"""
#: ?1 comparison id, ?2 new last_seen, ?3 crawl id. A page seen again is no longer gone:
#: that second statement rarely matches, and writing NULL over NULL in every row would
#: still cost an update of the index on gone_crawl_id.
_COMPARISONS_SEEN = (
    "UPDATE comparisons SET last_seen = max(last_seen, ?2), last_crawl_id = coalesce(?3, last_crawl_id) "
    "WHERE id = ?1"
)
_COMPARISONS_BACK = (
    "UPDATE comparisons SET gone_at = NULL, gone_crawl_id = NULL "
    "WHERE id = ? AND (gone_at IS NOT NULL OR gone_crawl_id IS NOT NULL)"
)
#: A verdict is seen when one of its appearances is: the latest time any of its rows
#: moved, per verdict (?1: JSON array of [comparison id, new last_seen]; SQLite filters
#: and takes the maximum, so a row per verdict, not per appearance, reaches Python).
_VERDICTS_MOVED = """SELECT a.verdict_id, max(a.last_seen) FROM json_each(?) AS v
JOIN verdict_appearances AS a
ON a.comparison_id = json_extract(v.value, '$[0]') AND a.last_seen = json_extract(v.value, '$[1]')
GROUP BY a.verdict_id"""
_VERDICTS_SEEN_AGAIN = "UPDATE verdicts SET last_seen = ?2 WHERE id = ?1 AND last_seen < ?2"
#: Likewise a tool and its listings; filtered in Python: the same join over listings
#: measured slower than reading them (idx_listings_current holds their last_seen).
_LISTING_TOOLS = (
    "SELECT comparison_id, tool_id, last_seen FROM listings "
    "WHERE comparison_id IN (SELECT value FROM json_each(?))"
)
_TOOLS_SEEN_AGAIN = "UPDATE tools SET last_seen = ?2 WHERE id = ?1 AND last_seen < ?2"


def revisit(conn: sqlite3.Connection, visits: list[Revisit]) -> None:
    """Move `last_seen` of the rows a page's current body yields (nothing else changes).

    Listings and appearances still at the snapshot's previous `last_seen` move to the
    new one; then each verdict and tool is updated once per batch, to the latest time
    any of its moved rows was seen (not once per page it is on: a verdict row holds its
    whole text, and the site repeats a quote on dozens of pages).
    """
    params = [
        (comparison_id(v.url), v.previous_seen, v.seen, v.crawl_id)
        for v in visits
        if v.seen > v.previous_seen
    ]
    if not params:
        return
    # Stored comparisons, and their rowids: the pages of a re-crawl come in URL order,
    # their rows were written in the first crawl's order; visited in that order (stable:
    # a page seen twice keeps its order), the updates walk each table and index front to
    # back instead of hopping across them.
    rank = dict(conn.execute(_COMPARISON_ROWIDS, [json.dumps([p[0] for p in params])]))
    params = sorted((p for p in params if p[0] in rank), key=lambda p: rank[p[0]])
    conn.executemany(_LISTINGS_SEEN, params)
    conn.executemany(_APPEARANCES_SEEN, params)
    seen_at: dict[str, set[str]] = {}
    for cid, _, seen, _ in params:
        seen_at.setdefault(cid, set()).add(seen)
    moved = json.dumps([(cid, seen) for cid, _, seen, _ in params])
    conn.executemany(_VERDICTS_SEEN_AGAIN, conn.execute(_VERDICTS_MOVED, [moved]).fetchall())
    latest: dict[str, str] = {}
    for cid, row_id, last_seen in conn.execute(_LISTING_TOOLS, [json.dumps(list(seen_at))]):
        if last_seen in seen_at[cid] and last_seen > latest.get(row_id, ""):
            latest[row_id] = last_seen
    conn.executemany(_TOOLS_SEEN_AGAIN, latest.items())
    conn.executemany(_TOOLS_MARKED, [(tool,) for tool in latest])
    conn.executemany(_COMPARISONS_SEEN, [(cid, seen, crawl_id) for cid, _, seen, crawl_id in params])
    conn.executemany(_COMPARISONS_BACK, [(cid,) for cid in seen_at])
