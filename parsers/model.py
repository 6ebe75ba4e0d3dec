"""Plain records a parser yields: the contract between `parsers/` and the rest.

Parsers never touch the network or the database; they turn one page's HTML into a
`ParseResult`, and `db/` stores it. Keeping these as frozen dataclasses (not dicts)
gives every stage the same field names and lets type checkers catch drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: ``ok`` and ``incomplete`` are comparison pages; ``not_comparison`` is any other page;
#: ``unreadable`` a candidate comparison (its title, heading or URL reads "A vs B", or it was a
#: comparison before) that no layout read; ``error`` a page whose parse raised.
Status = Literal["ok", "not_comparison", "incomplete", "unreadable", "error"]
COMPARISON_STATUSES: frozenset[str] = frozenset({"ok", "incomplete"})
PriceKind = Literal["free", "freemium", "paid", "usage", "contact", "unknown"]

#: Per-tool fields a comparison page is expected to state; the quality gate counts them.
LISTING_FIELDS: tuple[str, ...] = (
    "category",
    "name",
    "tagline",
    "panel_ship_pct",
    "community_pct",
    "entry_price",
    "description",
)


@dataclass(frozen=True, slots=True)
class Listing:
    """One tool as a comparison page shows it (position 1 is the left/first tool)."""

    position: int
    name: str | None = None
    category: str | None = None
    tagline: str | None = None
    panel_ship_pct: int | None = None
    #: None both for "—" (no vote yet) and when the value is missing; `problems` tells which.
    community_pct: int | None = None
    entry_price: str | None = None
    entry_price_usd: float | None = None
    entry_price_kind: PriceKind | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    """One reviewer quote from the scorecard: its tool (by position), its row, its text."""

    position: int
    reviewer_seat: int
    text: str


def _builder(cls: type[Any]) -> Any:
    """A positional constructor for frozen, slotted ``cls`` that sets each slot directly.

    The generated ``__init__`` of a frozen dataclass goes through ``object.__setattr__`` once per
    field, about twice the cost of writing the slots: parsers build ten records per page. The
    record is the same (same type, equality, hash, repr, still read-only afterwards).
    """
    setters = [cls.__dict__[name].__set__ for name in cls.__dataclass_fields__]
    new = object.__new__

    def build(*values: Any) -> Any:
        record = new(cls)
        for setter, value in zip(setters, values, strict=True):
            setter(record, value)
        return record

    return build


#: ``new_listing(position, name, category, tagline, panel_ship_pct, community_pct, entry_price,
#: entry_price_usd, entry_price_kind, description)``, every field in declaration order.
new_listing: Callable[..., Listing] = _builder(Listing)
_new = object.__new__
_set_position, _set_seat, _set_text = (Quote.__dict__[name].__set__ for name in Quote.__dataclass_fields__)


def new_quote(position: int, reviewer_seat: int, text: str) -> Quote:
    """``Quote(position, reviewer_seat, text)`` at half the cost (eight per page; see ``_builder``)."""
    quote = _new(Quote)
    _set_position(quote, position)
    _set_seat(quote, reviewer_seat)
    _set_text(quote, text)
    return quote


@dataclass(slots=True)
class ParseResult:
    """Everything one parser saw in one page. Never raised, always returned."""

    status: Status
    parser: str
    parser_version: str
    title: str | None = None
    listings: list[Listing] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: The page's embedded data (parsers/embedded.py: JSON-LD, microdata, Next.js, Nuxt) and
    #: where it disagrees with the visible text. Neither is part of ``to_dict`` or the parse's
    #: fingerprint: the visible text is the record; these are a second witness.
    embedded: list[Any] = field(default_factory=list)
    disagreements: list[Any] = field(default_factory=list)
    #: The ``was_comparison`` input ``parse_page`` was given; None for a result not made by
    #: ``parse_page`` as it is (built by hand, or a ``dataclasses.replace`` copy, which resets
    #: it). An input, not an outcome: out of equality, ``to_dict`` and the fingerprint; the
    #: archive records it so a reparse knows whether the page needs reading again
    #: (db/parse_record.py).
    was_comparison: bool | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def is_comparison(self) -> bool:
        return self.status in COMPARISON_STATUSES

    def listing(self, position: int) -> Listing | None:
        return next((item for item in self.listings if item.position == position), None)

    def field_presence(self) -> dict[str, bool]:
        """Which fields this page yielded: the quality gate's per-page input."""
        present: dict[str, bool] = {"title": bool(self.title)}
        for name in LISTING_FIELDS:
            values = [getattr(item, name) for item in self.listings]
            flagged = any(p.startswith(f"{name}:") for p in self.problems)
            # community_pct is None for a stated "—"; only a flagged problem makes it absent.
            stated = name == "community_pct" or all(v is not None for v in values)
            present[name] = len(values) == 2 and stated and not flagged
        present["quotes"] = len(self.quotes) == 8
        return present

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "parser": self.parser,
            "parser_version": self.parser_version,
            "title": self.title,
            "listings": [asdict(item) for item in self.listings],
            "quotes": [asdict(item) for item in self.quotes],
            "problems": list(self.problems),
        }
