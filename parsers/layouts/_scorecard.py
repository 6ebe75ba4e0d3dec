"""Reading a reviewer scorecard: quotes in quotation marks, two per row, tool 1's then tool 2's.

Private helper of the comparison layout (the registry skips ``_*`` modules). A quote is a block
opening with a quotation mark and closing with one, possibly split over several blocks (line
breaks inside a quote), possibly followed by a short attribution. Blocks naming a tool (a table
head, column headings) are noted, not counted; a few other blocks between quotes (seat labels)
are tolerated; more than that means the scorecard has ended (newsletter, footer).
"""

from __future__ import annotations

import re

from parsers.layouts._text import NAME_MAX, fold
from parsers.model import Quote, new_quote

QUOTES_EXPECTED = 8
#: Opening quotation mark -> the marks that may close it.
_CLOSERS = {"“": '”“"', '"': '"”', "„": "“”", "«": "»", "‘": "’"}
_QUOTE_BOUNDARY = re.compile(r"”\s*“")
#: Blocks between the scorecard heading and the first quote (column heads, seat labels).
_LEAD_GAP = 12
#: Non-quote blocks tolerated between two quotes (attribution, seat labels); more means the
#: scorecard ended. Once all eight quotes are in, a further quote must follow as closely as the
#: others did, so a testimonial in the footer is not read as a ninth quote.
_QUOTE_GAP = 4
#: A quote split over blocks is joined across at most this many blocks.
_QUOTE_SPAN = 12
#: Shortest block read as a quote when the scorecard's quotes carry no quotation marks.
_BARE_QUOTE_MIN = 100
#: Longest attribution allowed after a closing mark ("” — The Engineer").
_ATTRIBUTION_MAX = 60
#: Row by row, quote i is tool (i % 2 + 1)'s, in row (i // 2 + 1).
_ROW_POSITIONS = tuple(index % 2 + 1 for index in range(QUOTES_EXPECTED))
_ROW_SEATS = tuple(index // 2 + 1 for index in range(QUOTES_EXPECTED))


def opens_quote(block: str) -> bool:
    return block[:1] in _CLOSERS


def first_quote_at(blocks: list[str], start: int) -> int:
    """Index of the first block from ``start`` on that opens a quote, else ``len(blocks)``."""
    closers = _CLOSERS
    for at in range(start, len(blocks)):
        if blocks[at][:1] in closers:
            return at
    return len(blocks)


def _closing_at(block: str, closers: str, skip_first: bool) -> int | None:
    """Index of the closing quotation mark ending ``block`` (a short attribution may follow)."""
    lowest = max(1 if skip_first else 0, len(block) - _ATTRIBUTION_MAX - 1)
    found = max([block.rfind(closer, lowest) for closer in closers])
    return found if found >= 0 else None


def _take_quote(blocks: list[str], at: int) -> tuple[str | None, int]:
    """The quote opening at ``blocks[at]`` (maybe spanning blocks) and the index after it."""
    parts: list[str] = []
    closers = _CLOSERS[blocks[at][0]]
    for i in range(at, min(len(blocks), at + _QUOTE_SPAN)):
        block = blocks[i]
        close = _closing_at(block, closers, skip_first=(i == at))
        if close is not None:
            parts.append(block[:close])
            text = " ".join(parts)[1:].strip()
            return text, i + 1
        parts.append(block)
    return None, at + 1


def read_quotes(
    blocks: list[str],
    start: int,
    names: list[str],
    problems: list[str],
    bare: bool = False,
    keys: list[str | None] | None = None,
) -> tuple[list[str], list[int | None]]:
    """Every quote from ``start`` on, with the tool column heading seen last before each.

    ``bare`` reads quotes drawn without quotation marks in the text (a stylesheet adds them):
    every long prose block is then a quote. ``keys``, if given, holds ``fold(block)`` for every
    block of up to ``NAME_MAX`` characters (saves folding them again).
    """
    name_keys = {fold(name).rstrip(" :"): pos for pos, name in enumerate(names, 1) if name}
    texts: list[str] = []
    markers: list[int | None] = []
    marker: int | None = None
    gap, widest, at = 0, 0, start
    while at < len(blocks):
        block = blocks[at]
        if bare and len(block) >= _BARE_QUOTE_MIN:
            texts.append(block)
            markers.append(marker)
            widest, gap = max(widest, gap) if len(texts) > 1 else 0, 0
        elif not bare and block[:1] in _CLOSERS:
            if len(block) > 1 and block[-1] in _CLOSERS[block[0]]:
                # The usual case, a quote closing in its own block: what _take_quote would find.
                text: str | None = block[1:-1].strip()
                at += 1
            else:
                text, at = _take_quote(blocks, at)
            if text is None:
                problems.append(f"quotes: unterminated quote after {len(texts)} quotes")
                break
            # Two quotes run together in one block ("…” “…") are split apart.
            if "”" in text:
                for piece in _QUOTE_BOUNDARY.split(text):
                    texts.append(piece.strip())
                    markers.append(marker)
            else:
                texts.append(text)
                markers.append(marker)
            widest, gap = max(widest, gap) if len(texts) > 1 else 0, 0
            continue
        elif (key := _name_key(block, at, keys)) in name_keys:
            marker = name_keys[key]
        else:
            gap += 1
            if not texts:
                allowed = _LEAD_GAP
            elif len(texts) < QUOTES_EXPECTED:
                allowed = _QUOTE_GAP
            else:
                allowed = widest
            if gap > allowed:
                break
        at += 1
    return texts, markers


def _name_key(block: str, at: int, keys: list[str | None] | None) -> str:
    """How ``block`` compares with a tool name ("" for prose, which can be no name)."""
    if len(block) > NAME_MAX:
        return ""
    key = keys[at] if keys is not None else None
    return (fold(block) if key is None else key).rstrip(" :")


def assign_seats(texts: list[str], markers: list[int | None]) -> list[Quote]:
    """Two per row, tool 1's then tool 2's; a page that heads each tool's column reads by column."""
    kept = texts[:QUOTES_EXPECTED]
    by_column = (
        len(texts) == QUOTES_EXPECTED
        and all(m is not None for m in markers)
        and markers.count(1) == markers.count(2) == QUOTES_EXPECTED // 2
    )
    if not by_column:
        return list(map(new_quote, _ROW_POSITIONS, _ROW_SEATS, kept))
    quotes: list[Quote] = []
    seats = {1: 0, 2: 0}
    for text, position in zip(kept, markers, strict=True):
        assert position is not None
        seats[position] += 1
        quotes.append(new_quote(position, seats[position], text))
    quotes.sort(key=lambda q: (q.reviewer_seat, q.position))
    return quotes
