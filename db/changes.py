"""What changed on a comparison page: two states in, change rows out (pure).

An archive exists to answer "what changed?". The writer (db/change_log.py) keeps the
last complete state of every comparison page and hands it here with the new one; the
same function rebuilds the log from the snapshots in `reparse`. Nothing here reads the
database or the clock, so every rule is unit-tested on plain values:

- a page seen for the first time is one `page_new`; a page that disappears one
  `page_gone` (not a row per quote on it), and one that returns `page_back`;
- per tool (matched by tool id, not by position): `price_changed` (old/new monthly USD,
  the move in per cent in `detail`), `score_changed` (panel or community),
  `tagline_changed`, `description_changed`;
- quotes are compared as a multiset of (tool, normalised text): reordering them is no
  change; one gone is `verdict_removed`, one new `verdict_added`, and a removal and an
  addition about the same tool whose words are near duplicates are one `verdict_edited`
  row that links both verdict ids; a quote that moved to another reviewer seat is
  `verdict_moved_seat`.

Only complete parses become states: an incomplete parse never produces changes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from db.identity import content_id, normalise_text

#: Every kind of change, in the order a page's changes are listed.
KINDS: tuple[str, ...] = (
    "page_new",
    "page_gone",
    "page_back",
    "title_changed",
    "price_changed",
    "score_changed",
    "tagline_changed",
    "description_changed",
    "verdict_added",
    "verdict_removed",
    "verdict_edited",
    "verdict_moved_seat",
)
#: Word-level similarity (difflib ratio over the words) above which a removed and an
#: added quote about the same tool are one edited quote: a few words rewritten in a
#: 20-word quote keep ~0.8; two different quotes about one tool share far less.
EDIT_SIMILARITY = 0.6
_SCORES = ("panel_ship_pct", "community_pct")
_TEXTS = (("tagline", "tagline_changed"), ("description", "description_changed"))


@dataclass(frozen=True, slots=True)
class ToolState:
    """One tool as a complete page shows it."""

    tool_id: str
    position: int
    panel_ship_pct: int | None = None
    community_pct: int | None = None
    entry_price: str | None = None
    entry_price_usd: float | None = None
    tagline: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class QuoteState:
    """One reviewer quote on the page: its tool, its seat, its text and verdict id."""

    tool_id: str
    reviewer_seat: int
    text: str
    verdict_id: str


@dataclass(frozen=True, slots=True)
class PageState:
    """Everything a change is computed from: the page's title, tools and quotes."""

    title: str | None
    tools: tuple[ToolState, ...]
    quotes: tuple[QuoteState, ...]

    def to_json(self) -> str:
        """A compact JSON form for the archive's state table: texts by reference (a quote by
        its verdict id, a tagline or description by `text_ref`), so a page costs ~0.4 KB,
        not the ~6 KB of its texts. `from_json` takes the texts back from the archive."""
        tools = [
            [t.tool_id, t.position, t.panel_ship_pct, t.community_pct, t.entry_price, t.entry_price_usd,
             text_ref(t.tagline), text_ref(t.description)]
            for t in self.tools
        ]  # fmt: skip
        quotes = [[q.tool_id, q.reviewer_seat, q.verdict_id] for q in self.quotes]
        return json.dumps([self.title, tools, quotes], ensure_ascii=False, separators=(",", ":"))

    def texts(self) -> dict[str, str]:
        """ref -> text of every text `to_json` stores by reference."""
        found = {q.verdict_id: q.text for q in self.quotes}
        for tool in self.tools:
            for text in (tool.tagline, tool.description):
                if text is not None:
                    found[text_ref(text) or ""] = text
        return found

    @staticmethod
    def refs(stored: str) -> tuple[str | None, list[list[Any]], list[list[Any]]]:
        """The stored form as plain lists (title, tools, quotes), texts still as refs."""
        title, tools, quotes = json.loads(stored)
        return title, tools, quotes

    @classmethod
    def from_json(cls, stored: str, texts: dict[str, str], current: PageState | None = None) -> PageState:
        """The state `to_json` stored; `texts` maps refs to texts, and the texts of
        `current` (the state it is compared with) fill in the ones it shares."""
        if current is not None:
            texts = {**current.texts(), **texts}
        title, tools, quotes = cls.refs(stored)
        return cls(
            title,
            tuple(
                ToolState(tid, pos, panel, community, price, usd, _deref(tag, texts), _deref(desc, texts))
                for tid, pos, panel, community, price, usd, tag, desc in tools
            ),
            tuple(QuoteState(tid, seat, texts.get(vid, vid), vid) for tid, seat, vid in quotes),
        )

    def wanted(self, stored: str) -> set[str]:
        """The refs of a stored earlier state whose texts a diff against self needs: quotes
        gone (an edit compares their words) and taglines or descriptions that differ."""
        _, tools, quotes = self.refs(stored)
        mine = self.texts()
        wanted = {vid for _, _, vid in quotes if vid not in mine}
        for tool in tools:
            wanted.update(ref for ref in tool[6:8] if ref is not None and ref not in mine)
        return wanted


def text_ref(text: str | None) -> str | None:
    """A tagline's or description's reference in a stored state."""
    return None if text is None else "t" + content_id("text", text)[:15]


def _deref(ref: str | None, texts: dict[str, str]) -> str | None:
    return None if ref is None else texts.get(ref, ref)


@dataclass(frozen=True, slots=True)
class Change:
    """One observed change; `detail` is a small JSON-able dict (or None)."""

    kind: str
    tool_id: str | None = None
    field: str | None = None
    old: Any = None
    new: Any = None
    detail: dict[str, Any] | None = None

    def row(self, crawl_id: int | None, observed_at: str, comparison_id: str) -> tuple[Any, ...]:
        """The `changes` row: (id, crawl_id, observed_at, comparison_id, tool_id, kind,
        field, old, new, detail). The id is content-derived, so a rebuild keeps it."""
        old, new = _text(self.old), _text(self.new)
        detail = json.dumps(self.detail, ensure_ascii=False, sort_keys=True) if self.detail else None
        key = content_id(
            "change", comparison_id, observed_at, self.kind, self.tool_id or "", self.field or "",
            old or "", new or "",
        )  # fmt: skip
        return (
            key,
            crawl_id,
            observed_at,
            comparison_id,
            self.tool_id,
            self.kind,
            self.field,
            old,
            new,
            detail,
        )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def page_state(parse: Any, tool_ids: dict[str, str], verdict_key: Any) -> PageState | None:
    """The state of a parsed page, or None unless it is a complete comparison.

    `tool_ids` maps a tool name to its id and `verdict_key(tool_id, text)` gives a
    quote's verdict id (the writer passes its cached functions).
    """
    if parse is None or parse.status != "ok":
        return None
    tools: list[ToolState] = []
    by_position: dict[int, str] = {}
    for item in parse.listings:
        if not item.name:
            continue
        tid = by_position[item.position] = tool_ids[item.name]
        tools.append(
            ToolState(
                tid, item.position, item.panel_ship_pct, item.community_pct,
                item.entry_price, item.entry_price_usd, item.tagline, item.description,
            )
        )  # fmt: skip
    quotes = []
    for quote in parse.quotes:
        tid = by_position.get(quote.position)
        if tid is None or not quote.text.strip():
            continue
        quotes.append(QuoteState(tid, quote.reviewer_seat, quote.text, verdict_key(tid, quote.text)))
    return PageState(parse.title, tuple(tools), tuple(quotes))


def diff_states(old: PageState | None, new: PageState) -> list[Change]:
    """The changes from `old` to `new` (`old` None: the page is new)."""
    if old is None:
        return [Change("page_new", field="title", new=new.title)]
    changes: list[Change] = []
    if old.title != new.title:
        changes.append(Change("title_changed", field="title", old=old.title, new=new.title))
    before = {t.tool_id: t for t in old.tools}
    for tool in new.tools:
        previous = before.get(tool.tool_id)
        if previous is not None:
            changes.extend(_tool_changes(previous, tool))
    changes.extend(_quote_changes(old.quotes, new.quotes))
    return changes


def _tool_changes(old: ToolState, new: ToolState) -> list[Change]:
    tid = new.tool_id
    changes: list[Change] = []
    if old.entry_price_usd != new.entry_price_usd or (
        old.entry_price_usd is None and old.entry_price != new.entry_price
    ):
        detail: dict[str, Any] = {"old_price": old.entry_price, "new_price": new.entry_price}
        detail["pct"] = price_move_pct(old.entry_price_usd, new.entry_price_usd)
        changes.append(
            Change("price_changed", tid, "entry_price_usd", old.entry_price_usd, new.entry_price_usd, detail)
        )
    for field in _SCORES:
        was, now = getattr(old, field), getattr(new, field)
        if was != now:
            points = now - was if was is not None and now is not None else None
            changes.append(Change("score_changed", tid, field, was, now, {"points": points}))
    for field, kind in _TEXTS:
        was, now = getattr(old, field), getattr(new, field)
        if was != now and now is not None:  # a detail left out is not a detail changed
            changes.append(Change(kind, tid, field, was, now))
    return changes


def price_move_pct(old: float | None, new: float | None) -> float | None:
    """The move in per cent, one decimal; None when it has no finite value (from free or
    from an unpriced "Contact us"): such a move counts as above any threshold."""
    if old is None or new is None or old == 0:
        return None
    return round((new - old) / old * 100, 1)


def _quote_changes(old: tuple[QuoteState, ...], new: tuple[QuoteState, ...]) -> list[Change]:
    was = Counter(q.verdict_id for q in old)
    now = Counter(q.verdict_id for q in new)
    removed = _take(old, was - now)
    added = _take(new, now - was)
    changes: list[Change] = []
    for gone, came, similarity in _edits(removed, added):
        removed.remove(gone)
        added.remove(came)
        detail = {
            "similarity": round(similarity, 2),
            "removed_verdict_id": gone.verdict_id,
            "added_verdict_id": came.verdict_id,
            "old_seat": gone.reviewer_seat,
            "new_seat": came.reviewer_seat,
        }
        changes.append(Change("verdict_edited", came.tool_id, "text", gone.text, came.text, detail))
    for quote in removed:
        detail = {"verdict_id": quote.verdict_id, "reviewer_seat": quote.reviewer_seat}
        changes.append(Change("verdict_removed", quote.tool_id, "text", quote.text, None, detail))
    for quote in added:
        detail = {"verdict_id": quote.verdict_id, "reviewer_seat": quote.reviewer_seat}
        changes.append(Change("verdict_added", quote.tool_id, "text", None, quote.text, detail))
    seats_before = _seats(old)
    for verdict_id, seats in _seats(new).items():
        previous = seats_before.get(verdict_id)
        if previous is not None and previous != seats and len(seats) == len(previous) == 1:
            quote = next(q for q in new if q.verdict_id == verdict_id)
            detail = {"verdict_id": verdict_id, "text": quote.text}
            changes.append(
                Change("verdict_moved_seat", quote.tool_id, "reviewer_seat", previous[0], seats[0], detail)
            )
    return sorted(changes, key=lambda c: KINDS.index(c.kind))


def _take(quotes: tuple[QuoteState, ...], counts: Counter[str]) -> list[QuoteState]:
    """The quotes whose verdict ids are in `counts`, as many of each as counted, in page order."""
    left = Counter(counts)
    out = []
    for quote in quotes:
        if left[quote.verdict_id] > 0:
            left[quote.verdict_id] -= 1
            out.append(quote)
    return out


def _seats(quotes: tuple[QuoteState, ...]) -> dict[str, list[int]]:
    seats: dict[str, list[int]] = {}
    for quote in quotes:
        seats.setdefault(quote.verdict_id, []).append(quote.reviewer_seat)
    return {k: sorted(v) for k, v in seats.items()}


def _edits(removed: list[QuoteState], added: list[QuoteState]) -> list[tuple[QuoteState, QuoteState, float]]:
    """Pairs (removed, added) about the same tool that are near duplicates, best first,
    each quote in one pair at most."""
    scored = []
    for i, gone in enumerate(removed):
        for j, came in enumerate(added):
            if gone.tool_id == came.tool_id:
                ratio = similarity(gone.text, came.text)
                if ratio >= EDIT_SIMILARITY:
                    scored.append((-ratio, i, j))
    pairs = []
    used_i: set[int] = set()
    used_j: set[int] = set()
    for negative, i, j in sorted(scored):
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            pairs.append((removed[i], added[j], -negative))
    return pairs


def similarity(a: str, b: str) -> float:
    """Word-level similarity of two texts in [0, 1] (difflib ratio over normalised words)."""
    words_a = normalise_text(a).casefold().split()
    words_b = normalise_text(b).casefold().split()
    return SequenceMatcher(None, words_a, words_b, autojunk=False).ratio()


def page_gone() -> Change:
    return Change("page_gone")


def page_back() -> Change:
    return Change("page_back")
