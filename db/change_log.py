"""Writing the change log: the writer's hook and `reparse`'s rebuild.

db/changes.py decides what changed (pure); this module keeps, per comparison page,
the last complete state it was compared with (`change_states`, a JSON row per page)
and appends what changed to `changes`. The writer calls `ChangeRecorder.record` once
per batch, inside the batch's transaction: one read of the previous states of the
batch's changed pages, then one write per table. Pages whose body did not change (a
304, the same sha256) cost nothing here but a look at the few pages marked gone.

The first crawl of an archive is its baseline: its pages are not `page_new` (nothing
was there to compare with); every later crawl's first complete state of a page is. The
baseline lasts until a crawl has run its frontier to the end: the runs that resume a
killed or `--max-pages` first crawl are part of it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from db.changes import KINDS, Change, PageState, diff_states, page_back, page_gone, page_state, text_ref
from db.identity import comparison_id

_STATES = """SELECT comparison_id, observed_at, gone, state FROM change_states
WHERE comparison_id IN (SELECT value FROM json_each(?))"""
_GONE_IDS = "SELECT comparison_id FROM change_states WHERE gone = 1"
_STATE_UPSERT = """INSERT INTO change_states (comparison_id, crawl_id, observed_at, gone, state)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT(comparison_id) DO UPDATE SET crawl_id = excluded.crawl_id,
    observed_at = excluded.observed_at, gone = excluded.gone, state = excluded.state"""
_GONE_SET = "UPDATE change_states SET gone = ?2 WHERE comparison_id = ?1"
CHANGES_INSERT = """INSERT OR IGNORE INTO changes
(id, crawl_id, observed_at, comparison_id, tool_id, kind, field, old, new, detail)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
#: An earlier crawl stored comparisons: this one is not the archive's baseline.
_KNOWN_BEFORE = """SELECT id FROM comparisons WHERE id IN (SELECT value FROM json_each(?1))
AND first_crawl_id < ?2"""
_TEXT_INSERT = "INSERT OR IGNORE INTO change_texts (ref, text) VALUES (?, ?)"
#: Text refs a writer remembers having stored, to skip writing them again (the insert
#: ignores a repeat anyway). A tool repeats its tagline and description on every page, so
#: the recent ones catch nearly every repeat; beyond this many the memory starts afresh
#: rather than growing with the site's tools (~2 refs a tool; issue 14: flat memory).
SAVED_TEXTS_MAX = 4096
_VERDICT_TEXTS = "SELECT id, text FROM verdicts WHERE id IN (SELECT value FROM json_each(?))"
_CHANGE_TEXTS = "SELECT ref, text FROM change_texts WHERE ref IN (SELECT value FROM json_each(?))"
#: An earlier crawl stored comparisons and one ran its frontier to the end: the runs that
#: resume the archive's first crawl (killed, stopped by --max-pages) are still its baseline
#: (a resumed first crawl logged every page it stored after the stop as `page_new`).
_HISTORY = """SELECT 1 FROM crawls WHERE id < ?1 AND status IN ('completed', 'degraded') AND resumable = 0
AND EXISTS (SELECT 1 FROM comparisons WHERE first_crawl_id < ?1) LIMIT 1"""


def _tool_ids() -> Any:
    from db.ingest import cached_tool_id

    return cached_tool_id


def _verdict_ids() -> Any:
    from db.ingest import verdict_keys

    return lambda tool, text: verdict_keys(tool, text)[0]


class ChangeRecorder:
    """The change log's side of one crawl's writer."""

    def __init__(self, crawl_id: int | None) -> None:
        self.crawl_id = crawl_id
        self._history: bool | None = None
        self._before: set[str] | None = None
        self._saved: set[str] = set()  # text refs stored by this writer
        self._tool_ids = _ToolIds()
        self._verdict_id = _verdict_ids()

    def has_history(self, conn: sqlite3.Connection) -> bool:
        """Whether an earlier crawl stored comparisons (asked once, when first needed)."""
        if self._history is None:
            if self.crawl_id is None:
                self._history = conn.execute("SELECT 1 FROM change_states LIMIT 1").fetchone() is not None
            else:
                self._history = conn.execute(_HISTORY, [self.crawl_id]).fetchone() is not None
        return self._history

    def _known_before(self, conn: sqlite3.Connection, cid: str, ids: list[str]) -> bool:
        """Whether comparison `cid` was stored by an earlier crawl (an archive made before
        the change log: its pages get a state, not a `page_new`). One query per batch."""
        if self.crawl_id is None:
            return False
        if self._before is None:
            self._before = {
                found for (found,) in conn.execute(_KNOWN_BEFORE, [json.dumps(ids), self.crawl_id])
            }
        return cid in self._before

    def record(
        self,
        conn: sqlite3.Connection,
        items: Sequence[Any],
        gone: Sequence[tuple[str, tuple[str, ...]]],
        back: Iterable[tuple[str, str]],
    ) -> int:
        """Log what changed in a batch; returns the number of change rows written.

        `items` are db.ingest.IngestItems (new snapshots with their parse), `gone` is
        (time, urls) of pages that answered 404/410, `back` (time, url) of pages seen
        again with their stored body. Everything runs in the caller's transaction.
        """
        if self.crawl_id is None and self._history is None:
            self.has_history(conn)  # before this writer's first states land
        events: list[tuple[str, str, str, PageState | None]] = []
        for item in items:
            state = page_state(item.parse, self._tool_ids, self._verdict_id)
            if state is not None:
                events.append((item.seen_from, "state", comparison_id(item.url), state))
        for seen, urls in gone:
            for cid in {comparison_id(url) for url in urls}:
                events.append((seen, "gone", cid, None))
        back = list(back)
        if back:
            marked = {cid for (cid,) in conn.execute(_GONE_IDS)}
            for seen, url in back:
                cid = comparison_id(url)
                if cid in marked:
                    events.append((seen, "back", cid, None))
        if not events:
            return 0
        ids = sorted({cid for _, _, cid, _ in events})
        self._before = None
        stored: dict[str, list[Any]] = {
            cid: [observed, bool(is_gone), text]
            for cid, observed, is_gone, text in conn.execute(_STATES, [json.dumps(ids)])
        }
        texts = _texts(conn, stored, events)
        rows: list[tuple[Any, ...]] = []
        states: dict[str, str] = {}
        flags: dict[str, bool] = {}
        for seen, what, cid, state in sorted(events, key=lambda e: e[0]):
            known = stored.get(cid)
            if what == "gone":
                if known is not None and not known[1]:
                    known[1] = True
                    flags[cid] = True
                    rows.append(page_gone().row(self.crawl_id, seen, cid))
                continue
            if what == "back":
                if known is not None and known[1]:
                    known[1] = False
                    flags[cid] = False
                    rows.append(page_back().row(self.crawl_id, seen, cid))
                continue
            assert state is not None
            previous = None
            if known is not None:
                if seen < known[0]:  # older than the state compared last: no change to report
                    continue
                if known[1]:
                    rows.append(page_back().row(self.crawl_id, seen, cid))
                previous = (
                    PageState.from_json(known[2], texts, state) if isinstance(known[2], str) else known[2]
                )
            changes: list[Change] = diff_states(previous, state)
            if previous is None and (not self.has_history(conn) or self._known_before(conn, cid, ids)):
                changes = []
            rows.extend(change.row(self.crawl_id, seen, cid) for change in changes)
            stored[cid] = [seen, False, state]
            flags.pop(cid, None)
            states[cid] = seen
        written = [stored[cid][2] for cid in states]
        self._save_texts(conn, written)
        conn.executemany(
            _STATE_UPSERT,
            [(cid, self.crawl_id, seen, 0, stored[cid][2].to_json()) for cid, seen in states.items()],
        )
        conn.executemany(_GONE_SET, [(cid, int(flag)) for cid, flag in flags.items()])
        conn.executemany(CHANGES_INSERT, rows)
        return len(rows)

    def _save_texts(self, conn: sqlite3.Connection, states: list[PageState]) -> None:
        fresh = save_texts(conn, states, self._saved)
        if len(self._saved) + len(fresh) > SAVED_TEXTS_MAX:
            self._saved = set()
        self._saved.update(fresh)


def save_texts(conn: sqlite3.Connection, states: list[PageState], saved: set[str] | None = None) -> set[str]:
    """Store the taglines and descriptions the states refer to (those not in `saved`);
    returns the refs written. Each is stored once: a tool repeats them on every page."""
    fresh = {ref: text for ref, text in text_refs(states).items() if saved is None or ref not in saved}
    if fresh:
        conn.executemany(_TEXT_INSERT, fresh.items())
    return set(fresh)


def _texts(
    conn: sqlite3.Connection, stored: dict[str, list[Any]], events: list[tuple[str, str, str, Any]]
) -> dict[str, str]:
    """ref -> text of what the diffs of `events` against their `stored` states need: one
    read of the quotes gone (from `verdicts`) and of the taglines and descriptions changed."""
    wanted: set[str] = set()
    for _, what, cid, state in events:
        known = stored.get(cid)
        if what == "state" and known is not None:
            wanted |= state.wanted(known[2])
    return lookup_texts(conn, wanted)


def lookup_texts(conn: sqlite3.Connection, refs: set[str]) -> dict[str, str]:
    """ref -> text for verdict ids and `text_ref`s."""
    if not refs:
        return {}
    found = dict(conn.execute(_VERDICT_TEXTS, [json.dumps(sorted(refs))]))
    found.update(conn.execute(_CHANGE_TEXTS, [json.dumps(sorted(refs))]))
    return found


class _ToolIds:
    """name -> tool id, as a mapping (db.ingest's cached function, imported on first use)."""

    def __init__(self) -> None:
        self._get: Any = None

    def __getitem__(self, name: str) -> str:
        if self._get is None:
            self._get = _tool_ids()
        return self._get(name)


def rebuild(conn: sqlite3.Connection, parses: dict[str, list[tuple[Any, ...]]]) -> int:
    """Rebuild the parse-derived changes of some comparison pages (`reparse`).

    `parses` maps a comparison id to its snapshots in order, each (fetched_at, crawl_id,
    ParseResult). The page's rows other than page_gone/page_back (facts of fetching, not
    of parsing) are replaced; its state becomes its last complete one. Returns the rows written.
    """
    if not parses:
        return 0
    conn.execute(
        "DELETE FROM main.changes WHERE comparison_id IN (SELECT value FROM json_each(?)) "
        "AND kind NOT IN ('page_gone', 'page_back')",
        [json.dumps(sorted(parses))],
    )
    log = rebuilt_log(conn, parses)
    save_texts(conn, log.finals)
    conn.executemany(_STATE_UPSERT, log.states)
    conn.executemany(CHANGES_INSERT, log.rows)
    return len(log.rows)


@dataclass(frozen=True, slots=True)
class RebuiltLog:
    """What `rebuild` writes for some pages: change rows (`CHANGES_INSERT`'s columns), state
    rows (`_STATE_UPSERT`'s) and the final states (whose texts `save_texts` stores)."""

    rows: list[tuple[Any, ...]]
    states: list[tuple[Any, ...]]
    finals: list[PageState]


def rebuilt_log(conn: sqlite3.Connection, parses: dict[str, list[tuple[Any, ...]]]) -> RebuiltLog:
    """The change log `rebuild` writes for `parses`, computed without writing (reads only:
    a reparse's worker compares it with what is stored)."""
    baseline = conn.execute("SELECT min(first_crawl_id) FROM main.comparisons").fetchone()[0]
    gone = {cid: flag for cid, _, flag, _ in conn.execute(_STATES, [json.dumps(sorted(parses))])}
    tool_ids, verdict_id = _ToolIds(), _verdict_ids()
    log = RebuiltLog([], [], [])
    for cid, snapshots in parses.items():
        previous: PageState | None = None
        last: tuple[str, int | None] | None = None
        for seen, crawl_id, parse in snapshots:
            state = page_state(parse, tool_ids, verdict_id)
            if state is None:
                continue
            changes = diff_states(previous, state)
            if previous is None and (baseline is None or crawl_id is None or crawl_id <= baseline):
                changes = []
            log.rows.extend(change.row(crawl_id, seen, cid) for change in changes)
            previous, last = state, (seen, crawl_id)
        if previous is not None and last is not None:
            log.states.append((cid, last[1], last[0], int(gone.get(cid, 0) or 0), previous.to_json()))
            log.finals.append(previous)
    return log


def text_refs(states: list[PageState]) -> dict[str, str]:
    """ref -> text of the taglines and descriptions `states` refer to (what `save_texts`
    stores for them)."""
    refs: dict[str, str] = {}
    for state in states:
        for tool in state.tools:
            for text in (tool.tagline, tool.description):
                ref = text_ref(text)
                if ref is not None and text is not None:
                    refs[ref] = text
    return refs


def count_changes(conn: Any, crawl_id: int | None) -> dict[str, int]:
    """kind -> rows of the change log observed by crawl `crawl_id`, in the order of KINDS."""
    if crawl_id is None:
        return {}
    return ordered(
        dict(conn.execute("SELECT kind, count(*) FROM changes WHERE crawl_id = ? GROUP BY kind", [crawl_id]))
    )


def ordered(counts: dict[str, int]) -> dict[str, int]:
    """`counts` by kind, in the order of KINDS."""
    return {kind: counts[kind] for kind in KINDS if kind in counts}


def describe_counts(counts: dict[str, int]) -> str:
    """'3 price changed, 1 verdict edited' (or 'nothing changed')."""
    if not counts:
        return "nothing changed"
    return ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())
