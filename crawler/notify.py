"""Notifications after a crawl: what changed, sent where the operator wants it (apprise).

`[[notify]]` blocks of verdicts.toml (crawler/config.py `NotifyTarget`) name apprise
URLs (email, Slack, Matrix, Discord, webhooks, ... one URL each) and filters: kinds
(`on`), tools, and a minimum price move. After each crawl every target gets ONE
message summarising the crawl's changes that match its filters (counts by kind, then
the first changes with links to their diffs when `public_url` is set), and nothing when
nothing matched. A send that fails is retried a few times; the outcome of every target
is recorded in the `notifications` table and shown in the crawl summary, and a failure
never fails the crawl.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

#: Changes listed one by one in a message (the counts cover them all).
LISTED = 10
ATTEMPTS = 3
RETRY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class NotifyTarget:
    """One `[[notify]]` block."""

    urls: tuple[str, ...]
    on: frozenset[str] | None = None  # kinds; None: every kind
    tools: tuple[str, ...] = ()  # tool names (case-insensitive); empty: every tool
    min_price_change_pct: float | None = None

    def label(self) -> str:
        """The target as recorded: its URLs' schemes and hosts, no credentials or paths."""
        return ", ".join(_redact(url) for url in self.urls)


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """A change of the crawl, as a message lists it."""

    kind: str
    tool: str | None
    field: str | None
    old: str | None
    new: str | None
    pct: float | None
    title: str | None
    comparison_id: str
    observed_at: str
    diff_path: str | None  # /-/history/ID/OLD..NEW, or None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one target after one crawl."""

    target: str
    status: str  # sent, failed, nothing (no change matched)
    changes: int
    attempts: int = 0
    error: str | None = None


def matches(change: ChangeRow, target: NotifyTarget) -> bool:
    """Whether `change` passes the target's filters (pure)."""
    if target.on is not None and change.kind not in target.on:
        return False
    if target.tools and (change.tool or "").casefold() not in {t.casefold() for t in target.tools}:
        return False
    if target.min_price_change_pct is not None and change.kind == "price_changed":
        return change.pct is None or abs(change.pct) >= target.min_price_change_pct
    return True


def compose(
    site: str, crawl_id: int | None, changes: Sequence[ChangeRow], public_url: str | None
) -> tuple[str, str]:
    """(title, body) of the message for `changes` (pure)."""
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
    summary = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())
    title = f"verdict-archive: {summary} ({site}, crawl {crawl_id})"
    lines = [f"{len(changes)} change(s) in crawl {crawl_id} of {site}: {summary}.", ""]
    base = public_url.rstrip("/") if public_url else None
    for change in changes[:LISTED]:
        lines.append(f"- {describe(change)}")
        if base and change.diff_path:
            lines.append(f"  {base}{change.diff_path}")
    if len(changes) > LISTED:
        lines.append(
            f"... and {len(changes) - LISTED} more (the change_log view of the archive lists them all)."
        )
    return title, "\n".join(lines)


def describe(change: ChangeRow) -> str:
    """One line for a change: what, where, old -> new."""
    what = change.kind.replace("_", " ")
    where = change.title or change.comparison_id
    tool = f" {change.tool}" if change.tool else ""
    if change.kind == "price_changed":
        move = f" ({change.pct:+.1f} %)" if change.pct is not None else ""
        return f"{what}{tool} on {where}: {change.old} -> {change.new} USD/month{move}"
    if change.kind in ("page_new", "page_gone", "page_back"):
        return f"{what}: {where}"
    if change.kind == "verdict_added":
        return f"{what}{tool} on {where}: {_short(change.new)}"
    if change.kind == "verdict_removed":
        return f"{what}{tool} on {where}: {_short(change.old)}"
    return f"{what}{tool} on {where}: {_short(change.old)} -> {_short(change.new)}"


def _short(text: str | None, limit: int = 160) -> str:
    if text is None:
        return "(none)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _redact(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}" if rest else scheme


_CHANGES = """
SELECT ch.kind, t.name, ch.field, ch.old, ch.new, json_extract(ch.detail, '$.pct'), c.title,
    ch.comparison_id, ch.observed_at,
    (SELECT s.id FROM snapshots s WHERE s.page_id = p.id AND s.fetched_at = ch.observed_at LIMIT 1),
    p.id
FROM changes ch
JOIN comparisons c ON c.id = ch.comparison_id
LEFT JOIN tools t ON t.id = ch.tool_id
LEFT JOIN pages p ON p.url = c.url
WHERE ch.crawl_id = ?
ORDER BY ch.observed_at, ch.rowid
"""
_PREVIOUS = """SELECT id FROM snapshots WHERE page_id = ? AND id != ?
AND julianday(fetched_at) <= julianday((SELECT fetched_at FROM snapshots WHERE id = ?))
ORDER BY julianday(fetched_at) DESC, id DESC LIMIT 1"""


def crawl_changes(conn: sqlite3.Connection, crawl_id: int) -> list[ChangeRow]:
    """The changes crawl `crawl_id` logged, with their diff paths."""
    rows = []
    for kind, tool, field, old, new, pct, title, cid, observed, snap, pid in conn.execute(
        _CHANGES, [crawl_id]
    ):
        path = None
        if snap is not None:
            before = conn.execute(_PREVIOUS, [pid, snap, snap]).fetchone()
            path = f"/-/history/{cid}/{before[0]}..{snap}" if before else f"/-/history/{cid}"
        elif kind in ("page_gone", "page_back"):
            path = f"/-/history/{cid}"
        rows.append(ChangeRow(kind, tool, field, old, new, pct, title, cid, observed, path))
    return rows


Sender = Callable[[tuple[str, ...], str, str], None]


def apprise_send(urls: tuple[str, ...], title: str, body: str) -> None:
    """Send one message to every URL of a target; raises RuntimeError when any fails."""
    import apprise

    client = apprise.Apprise()
    for url in urls:
        if not client.add(url):
            raise RuntimeError(f"not an apprise URL: {_redact(url)}")
    if not client.notify(title=title, body=body):
        raise RuntimeError("apprise could not deliver the message (see its log)")


def deliver(
    target: NotifyTarget, title: str, body: str, send: Sender = apprise_send
) -> tuple[int, str | None]:
    """(attempts, last error or None) of sending, retried up to ATTEMPTS times."""
    error: str | None = None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            send(target.urls, title, body)
            return attempt, None
        except Exception as failure:  # a notification must never fail the crawl
            error = f"{type(failure).__name__}: {failure}"
            if attempt < ATTEMPTS:
                time.sleep(RETRY_SECONDS * attempt)
    return ATTEMPTS, error


def notify_crawl(
    conn: sqlite3.Connection,
    crawl_id: int,
    site: str,
    targets: Sequence[NotifyTarget],
    public_url: str | None,
    send: Sender = apprise_send,
) -> list[Outcome]:
    """Send the crawl's changes to every target and record each outcome (never raises
    for a failed send; the caller commits)."""
    if not targets:
        return []
    changes = crawl_changes(conn, crawl_id)
    outcomes = []
    for target in targets:
        chosen = [c for c in changes if matches(c, target)]
        if not chosen:
            outcome = Outcome(target.label(), "nothing", 0)
        else:
            title, body = compose(site, crawl_id, chosen, public_url)
            attempts, error = deliver(target, title, body, send)
            outcome = Outcome(target.label(), "failed" if error else "sent", len(chosen), attempts, error)
        record(conn, crawl_id, outcome)
        outcomes.append(outcome)
    return outcomes


def record(conn: sqlite3.Connection, crawl_id: int | None, outcome: Outcome) -> None:
    conn.execute(
        "INSERT INTO notifications (crawl_id, sent_at, target, status, changes, attempts, error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [crawl_id, datetime.now(UTC).isoformat(), outcome.target, outcome.status, outcome.changes,
         outcome.attempts, outcome.error],
    )  # fmt: skip


def sample_changes() -> list[ChangeRow]:
    """What `verdicts notify --test` sends: two made-up changes, marked as a test."""
    now = datetime.now(UTC).isoformat()
    return [
        ChangeRow("price_changed", "Example Tool", "entry_price_usd", "20", "25", 25.0,
                  "Example Tool vs Other Tool (test message)", "0" * 16, now, None),
        ChangeRow("verdict_edited", "Example Tool", "text", "The sync is fast.",
                  "The sync is fast and reliable.", None, "Example Tool vs Other Tool (test message)",
                  "0" * 16, now, None),
    ]  # fmt: skip


def summary_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """The crawl summary's lines about notifications."""
    lines = []
    for outcome in outcomes:
        if outcome.status == "sent":
            lines.append(f"  notified {outcome.target}: {outcome.changes} change(s)")
        elif outcome.status == "failed":
            tries = f"after {outcome.attempts} attempts"
            lines.append(f"  notification to {outcome.target} FAILED {tries}: {outcome.error}")
    return lines
