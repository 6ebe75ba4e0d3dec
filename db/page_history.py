"""Every snapshot of one page, and what changed between any two of them.

`verdicts diff` and the history pages of the published archive (db/history_plugin.py)
both read through here: the snapshots of a page in order, and for two of them the
field changes (db/changes.py on the two parses) and a word-level diff of the visible
text (db/text_diff.py). The bodies are parsed again from the archive: the parse of a
snapshot is not stored, and re-parsing one page takes a few milliseconds.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from db.changes import Change, diff_states, page_state
from db.identity import page_id, tool_id, verdict_id
from db.parse_record import decode_body
from db.renders import parsed_encoding, parsed_sha
from db.snapshots import SnapshotNotFound, _candidate_urls, normalise_time, read_body
from db.text_diff import Piece, word_diff


class HistoryError(Exception):
    """A page or snapshot the archive does not have (the message says which, in one sentence)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One archived copy of a page (no body)."""

    id: int
    page_id: str
    url: str
    fetched_at: str
    last_seen: str
    crawl_id: int | None
    http_status: int
    parse_status: str | None
    body_sha256: str  # of the text that was parsed (the rendered HTML of a rendered page)
    encoding: str | None


@dataclass(slots=True)
class PageDiff:
    """What changed on a page from snapshot `old` to snapshot `new`."""

    url: str
    old: Snapshot
    new: Snapshot
    title: str | None
    changes: list[Change] = field(default_factory=list)
    fields_compared: bool = True  # False when either copy did not parse complete
    text: list[Piece] = field(default_factory=list)
    tool_names: dict[str, str] = field(default_factory=dict)


#: The body is the text that was parsed: a browser's rendering when there is one (db/renders.py).
_COLUMNS = (
    "id, page_id, url, fetched_at, coalesce(last_seen, fetched_at), crawl_id, http_status, "
    f"parse_status, {parsed_sha('')}, {parsed_encoding('')}"
)


def snapshots_of(conn: sqlite3.Connection, url: str) -> list[Snapshot]:
    """The snapshots of `url` (as given, or in the crawler's canonical form), oldest first."""
    for candidate in _candidate_urls(url):
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM snapshots WHERE page_id = ? OR url = ? "
            "ORDER BY julianday(fetched_at), id",
            [page_id(candidate), candidate],
        ).fetchall()
        if rows:
            return [Snapshot(*row) for row in rows]
    return []


def snapshots_by_id(conn: sqlite3.Connection, snapshot_id: int) -> list[Snapshot]:
    """Every snapshot of the page snapshot `snapshot_id` is a copy of, oldest first."""
    row = conn.execute("SELECT page_id FROM snapshots WHERE id = ?", [snapshot_id]).fetchone()
    if row is None:
        raise HistoryError(f"No snapshot {snapshot_id} in the archive.")
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM snapshots WHERE page_id = ? ORDER BY julianday(fetched_at), id", [row[0]]
    ).fetchall()
    return [Snapshot(*r) for r in rows]


def in_force(snapshots: list[Snapshot], at: str, label: str) -> int:
    """Index of the snapshot in force at time `at` (the newest fetched at or before it)."""
    try:
        moment = normalise_time(at)
    except SnapshotNotFound as error:  # the sentence says what is wrong
        raise HistoryError(str(error).replace("--at", label)) from error
    limit = datetime.fromisoformat(moment)
    found = [i for i, s in enumerate(snapshots) if datetime.fromisoformat(s.fetched_at) <= limit]
    if not found:
        raise HistoryError(f"No snapshot at or before {at}; the first is from {snapshots[0].fetched_at}.")
    return found[-1]


def pick_pair(snapshots: list[Snapshot], url: str, start: str | None, end: str | None) -> tuple[int, int]:
    """(old, new) indexes: those in force at `start` and `end`, by default the last two."""
    if not snapshots:
        raise HistoryError(f"No snapshot of {url} in the archive.")
    new = in_force(snapshots, end, "--to") if end else len(snapshots) - 1
    old = in_force(snapshots, start, "--from") if start else new - 1
    if old < 0 or len(snapshots) < 2:
        raise HistoryError(f"Only one snapshot of {url} is archived: nothing to compare it with.")
    if old == new:
        raise HistoryError(f"--from and --to pick the same snapshot of {url} ({snapshots[new].fetched_at}).")
    return min(old, new), max(old, new)


def diff_snapshots(
    conn: sqlite3.Connection, old: Snapshot, new: Snapshot, context: int | None = 12
) -> PageDiff:
    """Field changes and the word-level text diff from `old` to `new`."""
    from parsers import parse_page
    from parsers.text_blocks import text_blocks

    htmls = [decode_body(read_body(conn, s.body_sha256), s.encoding) for s in (old, new)]
    parses = [parse_page(html, url=s.url) for html, s in zip(htmls, (old, new), strict=True)]
    names = {tool_id(item.name): item.name for parse in parses for item in parse.listings if item.name}
    states = [page_state(p, _ToolIds(), lambda tid, text: verdict_id(tid, text)) for p in parses]
    result = PageDiff(new.url, old, new, parses[1].title or parses[0].title, tool_names=names)
    if states[0] is not None and states[1] is not None:
        result.changes = diff_states(states[0], states[1])
    else:
        result.fields_compared = False
    result.text = word_diff(text_blocks(htmls[0]), text_blocks(htmls[1]), context)
    return result


class _ToolIds:
    def __getitem__(self, name: str) -> str:
        return tool_id(name)


def describe(change: Change, names: dict[str, str]) -> tuple[str, str, str]:
    """(what, tool, old -> new) of a change, as plain text for a terminal or a page."""
    what = change.kind.replace("_", " ")
    tool = names.get(change.tool_id or "", change.tool_id or "")
    detail = change.detail or {}
    if change.kind == "price_changed":
        pct = detail.get("pct")
        move = f" ({pct:+.1f} %)" if isinstance(pct, int | float) else ""
        text = f"{detail.get('old_price')} -> {detail.get('new_price')}{move}"
    elif change.kind == "score_changed":
        text = f"{change.field}: {change.old} -> {change.new}"
    elif change.kind in ("page_new", "page_gone", "page_back"):
        text = ""
    elif change.kind == "verdict_added":
        text = f"+ {change.new}"
    elif change.kind == "verdict_removed":
        text = f"- {change.old}"
    else:
        text = f"{_show(change.old)} -> {_show(change.new)}"
    return what, tool, text


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)
