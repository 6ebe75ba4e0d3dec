"""A word-level diff of two pages' visible text (pure: lists of blocks in, pieces out).

`verdicts diff` and the archive's history pages show what a reader of the page would
notice: words removed and added, with a little unchanged context around each change,
not a diff of the markup. Block boundaries (headings, paragraphs) are kept as line
breaks so the context reads like the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

#: Unchanged words kept either side of a change; longer unchanged runs are elided.
CONTEXT_WORDS = 12
NEWLINE = "\n"


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of words: "same", "removed", "added" or "gap" (unchanged words left out)."""

    op: str
    text: str


def words(blocks: list[str]) -> list[str]:
    """The page's words, a NEWLINE token between blocks."""
    out: list[str] = []
    for block in blocks:
        if out:
            out.append(NEWLINE)
        out.extend(block.split())
    return out


def word_diff(old: list[str], new: list[str], context: int | None = CONTEXT_WORDS) -> list[Piece]:
    """The pieces that turn the blocks `old` into `new`; with `context`, unchanged runs are
    cut to that many words either side of a change (the rest is a "gap" piece)."""
    a, b = words(old), words(new)
    pieces: list[Piece] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            pieces.append(Piece("same", _join(a[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(Piece("removed", _join(a[i1:i2])))
        if j2 > j1:
            pieces.append(Piece("added", _join(b[j1:j2])))
    return pieces if context is None else _trim(pieces, context)


def changed(pieces: list[Piece]) -> bool:
    return any(piece.op in ("removed", "added") for piece in pieces)


def _join(tokens: list[str]) -> str:
    return " ".join(tokens).replace(f" {NEWLINE} ", NEWLINE).replace(f"{NEWLINE} ", NEWLINE)


def _trim(pieces: list[Piece], context: int) -> list[Piece]:
    out: list[Piece] = []
    for index, piece in enumerate(pieces):
        if piece.op != "same":
            out.append(piece)
            continue
        tokens = piece.text.replace(NEWLINE, f" {NEWLINE} ").split(" ")
        after_change = index > 0
        before_change = index < len(pieces) - 1
        keep_head = tokens[:context] if after_change else []
        keep_tail = tokens[-context:] if before_change else []
        if len(tokens) <= len(keep_head) + len(keep_tail) + 1:
            out.append(piece)
            continue
        if keep_head:
            out.append(Piece("same", _join(keep_head)))
        out.append(Piece("gap", "…"))
        if keep_tail:
            out.append(Piece("same", _join(keep_tail)))
    return out


def plain(pieces: list[Piece]) -> str:
    """The pieces as text with word-diff markers: [-removed-] {+added+} (no colour)."""
    marks = {"removed": "[-{}-]", "added": "{{+{}+}}", "same": "{}", "gap": " … "}
    return " ".join(marks[p.op].format(p.text) for p in pieces).replace(f" {NEWLINE}", NEWLINE)
