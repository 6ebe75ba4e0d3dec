"""The "A vs B" comparison page, read from its visible text the way a person reads it.

The site's real markup is unknown and changes, so nothing here looks at tags or classes: it gets the
page as ordered text blocks (see ``parsers.text_blocks``) and finds, in reading order,

    kicker (optional) · "A vs B" title · intro
    per tool: category · name · tagline · <value> Panel ship · <value> Community · <value> Entry ·
              description
    "Reviewer scorecard" · eight quotes in quotation marks, two per row (tool 1's, then tool 2's)

Anything else (navigation, table heads naming the tools, newsletter boxes, footers) is skipped
because it does not fit this sequence. Missing or unreadable pieces become problems
(``"<field>: <detail>"``) and the status ``incomplete``; what was found is still returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import compress, repeat
from operator import attrgetter, is_
from typing import cast

from parsers.layouts._scorecard import (
    QUOTES_EXPECTED,
    assign_seats,
    first_quote_at,
    opens_quote,
    read_quotes,
)
from parsers.layouts._text import NAME_MAX, fold
from parsers.model import LISTING_FIELDS, Listing, ParseResult, new_listing
from parsers.prices import parse_entry_price

NAME = "comparison"
VERSION = "1.2.0"  # 1.2: text blocks read whitespace as a browser renders it

PANEL, COMMUNITY, ENTRY = "panel ship", "community", "entry"
LABEL_TEXT = {PANEL: "Panel ship", COMMUNITY: "Community", ENTRY: "Entry"}
SCORECARD = "reviewer scorecard"

_VS = re.compile(r"\s(?:vs\.?|versus)\s", re.IGNORECASE)
_VS_ALONE = frozenset({"vs", "vs.", "versus"})
_VS_ENDINGS = (" vs", " vs.", " versus")
_VS_STARTS = ("vs ", "vs. ", "versus ")
#: Decoration around a label ("Panel ship ⓘ", "Entry*") that is not part of it.
_LABEL_DECORATION = " :*†‡ⓘℹ︎"
_PERCENT = re.compile(r"(\d{1,3})(?:[.,]\d+)?\s*%")
_DASHES = frozenset({"—", "–", "-", "−", "n/a", "na", "none", "—%", "-%", "–%", "? %", "?"})
#: A stat sits within this many blocks of the previous one (room for an icon or tooltip text).
_STAT_WINDOW = 6
_CATEGORY_MAX = 60
#: Longest block that can be a label, a heading or a tool name (longer ones are prose: skip them).
_LABEL_MAX = 80
_SCORECARD_MAX = len(SCORECARD) + 30
_TITLE_MAX = 300
_TITLE_CANDIDATES = 200
#: Up to this many title candidates, each side's later appearance is found by scanning.
_SCAN_MAX = 8
_ENTRY_MAX = 60
#: Short blocks (labels, values, names, "A vs B" links) recur on every page of a site: the pure
#: readers below remember their answers for that many distinct blocks.
_CACHE_SIZE = 4096
_CACHED_MAX = _LABEL_MAX
_NO_MATCH: tuple[bool, str | None] = (False, None)


#: The last page's index, paired with that page's blocks so it is never handed to another page
#: (the registry calls ``recognises`` then ``parse`` with the same list: one pass serves both).
_LAST_INDEX: list[tuple[list[str], _Index] | None] = [None]


@dataclass(slots=True)
class _Stat:
    """Where one labelled value sits: the label's block, the value's block and the value text."""

    label_at: int
    value_at: int | None
    value: str | None


def _last_at(stat: _Stat) -> int:
    """The later of the stat's label and value blocks."""
    return stat.label_at if stat.value_at is None else max(stat.label_at, stat.value_at)


@dataclass(slots=True)
class _Title:
    at: int
    end: int
    text: str
    sides: tuple[str, str]


@dataclass(slots=True)
class _Reading:
    """Working state of one parse: problems accumulate as the page is read."""

    blocks: list[str]
    facts: list[_Facts]
    #: ``fold(block)`` for every block of up to ``NAME_MAX`` characters, else None
    keys: list[str | None]
    problems: list[str] = field(default_factory=list)

    def problem(self, name: str, detail: str) -> None:
        self.problems.append(f"{name}: {detail}")


# --- small readers -------------------------------------------------------------------------------


def parse_percent(text: str | None) -> tuple[bool, int | None]:
    """``(readable, value)``: "100%" -> (True, 100); "—" -> (True, None); "abc" -> (False, None)."""
    if text is None:
        return False, None
    if len(text) > _CACHED_MAX:
        return _parse_percent(text)
    return _parse_percent_cached(text)


def _parse_percent(text: str) -> tuple[bool, int | None]:
    value = text.strip()
    if fold(value) in _DASHES:
        return True, None
    match = _PERCENT.fullmatch(value)
    if match is None:
        return False, None
    return True, int(match.group(1))


_parse_percent_cached = lru_cache(maxsize=_CACHE_SIZE)(_parse_percent)
_fold_short = lru_cache(maxsize=_CACHE_SIZE)(fold)


def _key(text: str) -> str:
    """``fold(text)``, remembered for short texts (names and labels recur on every page)."""
    return _fold_short(text) if len(text) <= NAME_MAX else fold(text)


def _label_match(block: str, label: str) -> tuple[bool, str | None]:
    """Is ``block`` the label (alone, or sharing the block with its value: "100% Panel ship")?

    ``(True, None)`` for the label alone, ``(True, value)`` for a label with its value, else
    ``(False, None)``. Only asked of blocks of up to ``_LABEL_MAX`` characters (see ``_learn``).
    """
    low = fold(block).strip(_LABEL_DECORATION)
    if low == label:
        return True, None
    block = block.strip(_LABEL_DECORATION)
    size = len(label)
    text = block.strip().rstrip(" :")
    if low.startswith(label) and _word_break(text, size):
        return True, text[size:].strip(" :") or None
    if low.endswith(label) and _word_break(text, len(text) - size):
        return True, text[:-size].strip(" :") or None
    return False, None


def _word_break(text: str, at: int) -> bool:
    """Do words change at ``text[at]``? A space or colon, a non-letter beside a letter ("100%Panel
    ship"), or a capital after a small letter ("FreeEntry": inline spans with no space between)."""
    if at <= 0 or at >= len(text):
        return False
    before, after = text[at - 1], text[at]
    if before in " :" or after in " :":
        return True
    if before.isalpha() != after.isalpha():
        return True
    return before.islower() and after.isupper()


def _stat_label(label: str, match: tuple[bool, str | None]) -> tuple[bool, str | None]:
    """A label ``match`` kept as found only if its in-block value (if any) suits the label."""
    found, value = match
    if not found or value is None:
        return match
    if label == ENTRY:
        return (len(value) <= _ENTRY_MAX), value
    return parse_percent(value)[0], value


@lru_cache(maxsize=_CACHE_SIZE)
def _split_title(block: str) -> tuple[str, str] | None:
    parts = _VS.split(block)
    if len(parts) == 2 and parts[0].strip() and parts[1].strip():
        return parts[0].strip(), parts[1].strip()
    return None


def _side_matches(block: str, side: str) -> bool:
    block_key, side_key = fold(block), fold(side)
    return bool(block_key) and (
        block_key == side_key or side_key.endswith(block_key) or side_key.startswith(block_key)
    )


@dataclass(frozen=True, slots=True)
class _Facts:
    """What one block is to this layout, worked out once per distinct block text.

    Most of a page's short blocks (labels, values, names, categories, chrome, "A vs B" links)
    recur on the site's other pages, so their facts are remembered (``_FACTS``) and one look-up
    answers every question the layout asks of them.
    """

    #: ``fold(block)`` for a block of up to ``NAME_MAX`` characters, else None (prose)
    key: str | None
    #: ``_stat_label(block, label)`` for each label of ``_LABELS``
    stats: tuple[tuple[bool, str | None], ...]
    #: Is the block one of the labels alone, with no value in it?
    bare: bool
    #: Is the block the "Entry" label alone?
    bare_entry: bool
    #: A "Panel ship" label (alone or with its value): where a tool's stats are
    panel: bool
    scorecard: bool
    #: Does the block mention "vs" or "versus" (part of a title, or a navigation link)?
    vs: bool
    #: Is the block any of panel, scorecard or vs (worth a look while indexing)?
    landmark: bool


_LABELS = (PANEL, COMMUNITY, ENTRY)
_NO_STATS = (_NO_MATCH, _NO_MATCH, _NO_MATCH)
#: The facts of a block too long to be a name or label (it may still be a long "A vs B" title).
_PROSE = _Facts(None, _NO_STATS, False, False, False, False, False, False)
_LONG_TITLE = _Facts(None, _NO_STATS, False, False, False, False, True, True)
#: Facts of short blocks seen before, by block text. Cleared when full, so it stays bounded (a
#: site of 3,000 pages has some 5,000 distinct short blocks).
_FACTS: dict[str, _Facts] = {}
_FACTS_MAX = 8192


def _learn(block: str) -> _Facts:
    """The facts of a short block (up to ``NAME_MAX`` characters), remembered in ``_FACTS``."""
    key = fold(block)
    stats = _NO_STATS
    bare = bare_entry = False
    # (a label match needs the label's words in the key: most blocks are no label at all)
    if len(block) <= _LABEL_MAX and (PANEL in key or COMMUNITY in key or ENTRY in key):
        matches = [_label_match(block, label) for label in _LABELS]
        stats = tuple(map(_stat_label, _LABELS, matches))
        bare_labels = [match == (True, None) for match in matches]
        bare, bare_entry = any(bare_labels), bare_labels[2]
    panel = stats[0][0]
    # (stripping " :" off the end never reaches into the heading itself)
    scorecard = len(block) <= _SCORECARD_MAX and key.startswith(SCORECARD)
    vs = "vs" in key or "versus" in key
    facts = _Facts(key, stats, bare, bare_entry, panel, scorecard, vs, panel or scorecard or vs)
    if len(_FACTS) >= _FACTS_MAX:
        _FACTS.clear()
    _FACTS[block] = facts
    return facts


@dataclass(slots=True)
class _Index:
    """What one pass over a page's blocks finds; ``recognises`` and ``parse`` share it."""

    facts: list[_Facts]
    #: ``fold(block)`` for every block of up to ``NAME_MAX`` characters, else None
    keys: list[str | None]
    panels: list[int] = field(default_factory=list)
    scorecards: list[int] = field(default_factory=list)
    titles: list[_Title] = field(default_factory=list)


def _index(blocks: list[str]) -> _Index:
    """One pass over the page: every block's facts, and where labels, headings, titles sit.

    Only short blocks can be names or labels; longer blocks (descriptions, quotes) are prose,
    at most a long "A vs B" title. Folding changes case, then whitespace only, so case folding
    alone tells whether a long block has a "vs".
    """
    cached = _LAST_INDEX[0]
    if cached is not None and cached[0] is blocks:
        return cached[1]
    # (long blocks are not looked up: hashing a page's prose costs more than this loop)
    known = _FACTS.get
    facts: list[_Facts | None] = [known(block) if len(block) <= NAME_MAX else None for block in blocks]
    # What the memo did not answer: prose, and short blocks not seen before.
    for at in compress(range(len(facts)), map(is_, facts, repeat(None))):
        block = blocks[at]
        size = len(block)
        if size <= NAME_MAX:
            facts[at] = _learn(block)
        elif size <= _TITLE_MAX and ("vs" in (low := block.casefold()) or "versus" in low):
            facts[at] = _LONG_TITLE
        else:
            facts[at] = _PROSE
    known_facts = cast("list[_Facts]", facts)
    index = _Index(known_facts, list(map(attrgetter("key"), known_facts)))
    last = len(blocks) - 1
    for at in compress(range(len(facts)), map(attrgetter("landmark"), known_facts)):
        fact = known_facts[at]
        if fact.panel:
            index.panels.append(at)
        if fact.scorecard:
            index.scorecards.append(at)
        if fact.vs:
            _note_title(index, blocks, at, fact.key or fold(blocks[at]), last)
    _LAST_INDEX[0] = (blocks, index)
    return index


def _note_title(index: _Index, blocks: list[str], at: int, key: str, last: int) -> None:
    """Record block ``at`` (folded: ``key``) if it is (part of) an "A vs B" title."""
    block = blocks[at]
    if key in _VS_ALONE:
        if 0 < at < last:
            left, right = blocks[at - 1], blocks[at + 1]
            index.titles.append(_Title(at - 1, at + 1, f"{left} {block} {right}", (left, right)))
    elif "vs" not in key and "versus" not in key:
        return
    elif at < last and key.endswith(_VS_ENDINGS):
        # "A vs" <br> "B"
        left, right = block[: block.rstrip().rindex(" ")].strip(), blocks[at + 1]
        index.titles.append(_Title(at, at + 1, f"{block} {right}", (left, right)))
    elif at > 0 and key.startswith(_VS_STARTS):
        # "A" <br> "vs B"
        left, right = blocks[at - 1], block[block.index(" ") :].strip()
        index.titles.append(_Title(at - 1, at, f"{left} {block}", (left, right)))
    else:
        sides = _split_title(block)
        if sides is not None:
            index.titles.append(_Title(at, at, block, sides))


def _reappears(keys: list[str | None], key: str, after: int, last_seen: dict[str | None, int] | None) -> bool:
    """Is ``key`` the key of some block after block ``after``?"""
    if last_seen is not None:
        return last_seen.get(key, -1) > after
    return key in keys[after + 1 :]


def _choose_title(blocks: list[str], index: _Index, candidates: list[_Title]) -> _Title | None:
    """The "A vs B" block whose sides reappear as blocks below it (nav links' sides do not)."""
    best: tuple[int, int] | None = None
    chosen: _Title | None = None
    keys = index.keys
    # The title sits close to the tools; a long list of "X vs Y" links above it is navigation.
    recent = candidates[-_TITLE_CANDIDATES:]
    # Where each key appears last, worth building only for many candidates (usually one or two:
    # scanning the blocks below each is cheaper). None, the key of every long block, is never
    # looked up.
    last_seen = dict(zip(keys, range(len(keys)), strict=True)) if len(recent) > _SCAN_MAX else None
    for candidate in recent:
        score = sum(1 for side in candidate.sides if _reappears(keys, _key(side), candidate.end, last_seen))
        if score == 0:
            # A title with a kicker glued on ("AI tool comparison A vs B") matches by suffix.
            later = blocks[candidate.end + 1 : candidate.end + 1 + _STAT_WINDOW * 3]
            score = sum(1 for side in candidate.sides if any(_side_matches(b, side) for b in later))
        rank = (score, candidate.at)
        if best is None or rank > best:
            best, chosen = rank, candidate
    return chosen


# --- recognising ---------------------------------------------------------------------------------


def _scorecard_at(index: _Index, start: int) -> int | None:
    return next((i for i in index.scorecards if i >= start), None)


def recognises(blocks: list[str]) -> bool:
    """A comparison page has an "A vs B" title followed by tool stats or a reviewer scorecard."""
    index = _index(blocks)
    stats = index.panels[-1:] + index.scorecards[-1:]
    if not stats:
        return False
    last_stat = max(stats)
    return any(title.at < last_stat for title in index.titles)


def explain(blocks: list[str]) -> list[str]:
    """What this layout looked for and did not find, for a page that reads as a comparison
    elsewhere (its title or URL) but that ``recognises``/``parse`` did not read as one."""
    index = _index(blocks)
    missing = []
    if not index.titles:
        missing.append("title: no 'A vs B' title in the visible text")
    if not index.panels:
        missing.append("panel_ship_pct: no 'Panel ship' stat in the visible text")
    if not index.scorecards:
        missing.append("quotes: no 'Reviewer scorecard' heading in the visible text")
    if not missing:
        missing.append("title: no 'A vs B' title above the tool stats or the reviewer scorecard")
    return missing


# --- tools ---------------------------------------------------------------------------------------


def _values_follow_labels(reading: _Reading, panel_at: int, floor: int) -> bool:
    """Does this tool print each label before its value (the contract is value, then label)?

    Only when the block before "Panel ship" is no percentage, the block after it is one, and the
    block after "Entry" is a short price rather than the description.
    """
    blocks, facts = reading.blocks, reading.facts
    if panel_at - 1 >= floor and parse_percent(blocks[panel_at - 1])[0]:
        return False
    if panel_at + 1 >= len(blocks) or not parse_percent(blocks[panel_at + 1])[0]:
        return False
    stop = min(len(blocks) - 1, panel_at + 2 * _STAT_WINDOW)
    for at in range(panel_at + 1, stop):
        if facts[at].bare_entry:
            following = blocks[at + 1]
            return len(following) <= _ENTRY_MAX and not opens_quote(following)
    return False


def _read_stat(reading: _Reading, start: int, floor: int, label: str, after: bool) -> _Stat | None:
    """Find ``label`` in the blocks from ``start`` and the value beside it (not below ``floor``).

    ``after`` says whether values follow their labels on this page (the contract: they precede).
    """
    blocks, facts = reading.blocks, reading.facts
    which = _LABELS.index(label)
    for at in range(start, min(len(blocks), start + _STAT_WINDOW)):
        found, inline_value = facts[at].stats[which]
        if not found:
            continue
        if inline_value is not None:
            return _Stat(at, at, inline_value)
        if after:
            if at + 1 < len(blocks) and not facts[at + 1].bare:
                return _Stat(at, at + 1, blocks[at + 1])
        elif at - 1 >= floor and not facts[at - 1].bare:
            return _Stat(at, at - 1, blocks[at - 1])
        return _Stat(at, None, None)
    return None


def _header(
    reading: _Reading, lo: int, anchor: _Stat, sides: tuple[str, ...]
) -> tuple[int | None, int | None, int | None]:
    """Indexes of category, name and tagline above a tool's first stat."""
    blocks, keys = reading.blocks, reading.keys
    first_stat = anchor.label_at if anchor.value_at is None else min(anchor.label_at, anchor.value_at)
    name_at = None
    side_keys = {_key(side) for side in sides}
    for i in range(first_stat - 1, lo - 1, -1):
        if len(blocks[i]) <= NAME_MAX and keys[i] in side_keys:
            name_at = i
            break
    if name_at is None:
        # Fall back on position: category, name, tagline right above the first value.
        name_at = first_stat - 2 if first_stat - 2 >= lo else None
    if name_at is None:
        return None, None, None
    category_at = name_at - 1 if name_at - 1 >= lo else None
    if category_at is not None and len(blocks[category_at]) > _CATEGORY_MAX:
        category_at = None
    tagline_at = name_at + 1 if name_at + 1 < first_stat else None
    return category_at, name_at, tagline_at


@dataclass(slots=True)
class _Tool:
    position: int
    start: int
    category_at: int | None
    name_at: int | None
    tagline_at: int | None
    stats: dict[str, _Stat | None]
    end: int

    @property
    def first(self) -> int:
        """The tool's first block: its category, else its name (the tagline follows the name)."""
        if self.category_at is not None:
            return self.category_at
        return self.name_at if self.name_at is not None else self.start


def _read_tool(reading: _Reading, position: int, lo: int, anchor_at: int, sides: tuple[str, ...]) -> _Tool:
    after = _values_follow_labels(reading, anchor_at, lo)
    stats: dict[str, _Stat | None] = {}
    panel = _read_stat(reading, anchor_at, lo, PANEL, after)
    stats[PANEL] = panel
    assert panel is not None  # anchor_at is a Panel ship label by construction
    cursor = max(anchor_at, panel.value_at or 0) + 1
    for label in (COMMUNITY, ENTRY):
        stat = _read_stat(reading, cursor, cursor, label, after)
        stats[label] = stat
        if stat is not None:
            cursor = _last_at(stat) + 1
    category_at, name_at, tagline_at = _header(reading, lo, panel, sides)
    return _Tool(position, anchor_at, category_at, name_at, tagline_at, stats, cursor)


def _listing(reading: _Reading, tool: _Tool, description_stop: int) -> Listing:
    """The tool's record from the blocks ``_read_tool`` located; what is missing becomes a problem."""
    blocks, n = reading.blocks, tool.position
    heads: list[str | None] = []
    for name, at in (("category", tool.category_at), ("name", tool.name_at), ("tagline", tool.tagline_at)):
        if at is None:
            reading.problem(name, f"not found for tool {n}")
        heads.append(None if at is None else blocks[at])
    category, name, tagline = heads
    panel = _percent(reading, tool, "panel_ship_pct", PANEL)
    community = _percent(reading, tool, "community_pct", COMMUNITY)
    entry_stat = tool.stats.get(ENTRY)
    entry: str | None = None
    if entry_stat is None:
        reading.problem("entry_price", f"label 'Entry' not found for tool {n}")
    elif not entry_stat.value:
        reading.problem("entry_price", f"no value beside 'Entry' for tool {n}")
    else:
        entry = entry_stat.value
    kind, usd = parse_entry_price(entry) if entry is not None else (None, None)
    region = [b for b in blocks[tool.end : description_stop] if not opens_quote(b)]
    description = max(region, key=len) if region else None
    if description is None:
        reading.problem("description", f"not found for tool {n}")
    # (fields in declaration order: position, name, category, tagline, panel, community, entry...)
    return new_listing(n, name, category, tagline, panel, community, entry, usd, kind, description)


def _percent(reading: _Reading, tool: _Tool, field_name: str, label: str) -> int | None:
    """The tool's percentage beside ``label``; a missing, unreadable or impossible one is a problem."""
    n = tool.position
    stat = tool.stats.get(label)
    if stat is None:
        reading.problem(field_name, f"label '{LABEL_TEXT[label]}' not found for tool {n}")
        return None
    readable, value = parse_percent(stat.value)
    if not readable:
        reading.problem(field_name, f"unreadable value {stat.value!r} for tool {n}")
    elif value is not None and value > 100:
        reading.problem(field_name, f"value {value} out of range for tool {n}")
        return None
    elif value is None and label == PANEL:
        # Only the community vote may be pending ("—"); the panel always votes.
        reading.problem(field_name, f"no value ({stat.value!r}) for tool {n}")
    return value


# --- the page ------------------------------------------------------------------------------------


def _tool_anchors(reading: _Reading, anchors: list[int], title: _Title) -> list[int]:
    """The two tools' "Panel ship" labels; extra cards (related tools) are told apart by name."""
    if len(anchors) <= 2:
        return anchors
    side_keys = {_key(side) for side in title.sides}
    blocks, keys = reading.blocks, reading.keys
    named = [
        at
        for at in anchors
        if any(
            len(blocks[i]) <= NAME_MAX and keys[i] in side_keys for i in range(max(title.end + 1, at - 4), at)
        )
    ]
    if len(named) == 2:
        return named
    reading.problem("name", f"expected 2 tools, found {len(anchors)}")
    return anchors[:2]


def parse(blocks: list[str]) -> ParseResult:
    """Read one comparison page's blocks into a ``ParseResult`` (never raises on odd input)."""
    index = _index(blocks)  # usually the one ``recognises`` just built for these very blocks
    reading = _Reading(blocks, index.facts, index.keys)
    result = ParseResult(status="not_comparison", parser=NAME, parser_version=VERSION)
    scorecard_guess = _scorecard_at(index, 0)
    limit = scorecard_guess if scorecard_guess is not None else len(blocks)
    all_anchors = [i for i in index.panels if i < limit]
    candidates = [title for title in index.titles if title.at < limit]
    # The title precedes the tools: prefer "A vs B" blocks that have tool stats below them.
    before_tools = [c for c in candidates if all_anchors and all_anchors[-1] > c.end]
    title = _choose_title(blocks, index, before_tools or candidates)
    if title is None:
        return result
    result.title = title.text
    anchors = _tool_anchors(reading, [i for i in all_anchors if i > title.end], title)

    tools: list[_Tool] = []
    lo = title.end + 1
    for position, anchor_at in enumerate(anchors, 1):
        tool = _read_tool(reading, position, lo, anchor_at, title.sides)
        tools.append(tool)
        lo = tool.end
    scorecard = _scorecard_at(index, tools[-1].end if tools else title.end + 1)
    quotes_start = scorecard + 1 if scorecard is not None else (tools[-1].end if tools else len(blocks))
    first_quote = first_quote_at(blocks, quotes_start)
    keys = index.keys
    listings: list[Listing] = []
    for index, tool in enumerate(tools):
        if index + 1 < len(tools):
            stop = tools[index + 1].first
        else:
            stop = scorecard if scorecard is not None else first_quote
        listings.append(_listing(reading, tool, stop))
    for missing in range(len(tools) + 1, 3):
        for name in LISTING_FIELDS:
            reading.problem(name, f"tool {missing} not found")
    result.listings = listings
    _refine_title(result, title)

    if scorecard is None:
        reading.problem("quotes", "'Reviewer scorecard' heading not found")
    names = [item.name or "" for item in listings]
    texts, markers = read_quotes(blocks, quotes_start, names, reading.problems, keys=keys)
    if scorecard is not None and first_quote == len(blocks):
        # No quotation marks anywhere after the heading: the stylesheet draws them.
        texts, markers = read_quotes(blocks, quotes_start, names, reading.problems, bare=True, keys=keys)
    found = len(texts)
    if found % 2:
        reading.problem("quotes", f"odd number of quotes ({found})")
    elif found != QUOTES_EXPECTED:
        reading.problem("quotes", f"expected {QUOTES_EXPECTED} quotes, found {found}")
    result.quotes = assign_seats(texts, markers)
    result.problems = reading.problems
    result.status = "incomplete" if reading.problems else "ok"
    return result


def _refine_title(result: ParseResult, title: _Title) -> None:
    """Trim what is glued onto the title: "AI tool comparison A vs B: which to ship?" -> "A vs B"."""
    names = [item.name for item in result.listings if item.name]
    if len(names) != 2 or result.title is None:
        return
    text = result.title
    low = text.casefold()
    first, second = names[0].casefold(), names[1].casefold()
    left = low.find(first)
    if left < 0 or low.find(second) < left:
        first, second = second, first
        left = low.find(first)
    if left < 0:
        return
    separator = _VS.search(text, left + len(first))
    if separator is None:
        return
    right = low.find(second, separator.end())
    if right == separator.end():
        result.title = text[left : right + len(second)]
