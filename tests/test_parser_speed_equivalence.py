"""The parser's shortcuts (taken for speed) give what the plain rules they stand for give.

``parsers.text_blocks`` collapses whitespace on a fast path when a page has nothing unusual, and
reads bytes without the ``utf-8-sig`` codec; the comparison layout remembers the keys of blocks
it has seen on earlier pages. Each test states the plain rule and checks the shortcut against it.
"""

from __future__ import annotations

import importlib
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.layouts import comparison
from parsers.layouts._text import fold

# (``parsers.text_blocks`` the attribute is the function; the module is imported by name)
text_blocks_module = importlib.import_module("parsers.text_blocks")
_split_blocks = text_blocks_module._split_blocks
_source = text_blocks_module._source

#: Characters that exercise every path: plain text, spaces, line breaks, other whitespace,
#: invisible characters, non-ASCII printable text.
_ALPHABET = "ab —“” \n\t\xa0\u200b\xad\u2028é"


def _plain_rule(parts: list[str]) -> list[str]:
    """What a reader sees in each block: invisible characters gone, whitespace collapsed (a line
    break beside a zero-width space removed, as CSS does)."""
    drop = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\xad"))
    joined = (re.sub("\u200b\n|\n\u200b", "\u200b", re.sub(r"[ \t]*\n[ \t\n]*", "\n", p)) for p in parts)
    blocks = (" ".join(part.translate(drop).split()) for part in joined)
    return [block for block in blocks if block]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=_ALPHABET, max_size=30), max_size=8))
def test_split_blocks_follows_the_plain_rule(parts: list[str]) -> None:
    # lexbor hands over each block stripped (``text(strip=True)``), joined by the separator
    stripped = [part.strip() for part in parts]
    assert _split_blocks("\x00".join(stripped)) == _plain_rule(stripped)


def test_split_blocks_fast_paths() -> None:
    # nothing to collapse; line breaks and indentation inside wrapped prose; doubled spaces
    assert _split_blocks("A vs B\x00\x00Panel ship") == ["A vs B", "Panel ship"]
    assert _split_blocks("one\n      two —\n three\x00x") == ["one two — three", "x"]
    assert _split_blocks("a  b\x00c") == ["a b", "c"]
    assert _split_blocks("a\n\t b\x00c\u200bd") == ["a b", "cd"]


def test_source_reads_bytes_like_the_utf8_sig_codec() -> None:
    bom = b"\xef\xbb\xbf"
    for raw in (b"<p>caf\xc3\xa9", bom + b"<p>x", bom + bom + b"<p>x", bom, b""):
        text, markup = _source(raw)
        assert text == raw.decode("utf-8-sig")
        assert markup == (raw[3:] if raw.startswith(bom) else raw)
    # not UTF-8 at all: read as Windows-1252, byte order mark or not
    raw = bom + b"<p>\xe9t\xe9 \x93quoted\x94"
    assert _source(raw) == (raw.decode("cp1252"), raw.decode("cp1252"))


def test_remembered_keys_do_not_change_a_parse() -> None:
    blocks = [
        "Compare",
        "Alpha vs Beta",
        "Data",
        "Alpha",
        "Cleans data",
        "90%",
        "Panel ship",
        "—",
        "Community",
        "Free",
        "Entry",
        "Alpha is a tool that does a thing for people who need it done.",
    ]
    comparison._FACTS.clear()
    comparison._LAST_INDEX[0] = None
    cold = comparison.parse(list(blocks))
    # same texts, new list and new string objects: every block's facts now come from the memo
    warm = comparison.parse([(block + ".")[:-1] for block in blocks])
    assert repr(cold) == repr(warm)
    assert comparison._FACTS["Alpha"].key == fold("Alpha")
    assert comparison._FACTS["Panel ship"].panel
    assert cold.title == "Alpha vs Beta"
    assert cold.listings[0].panel_ship_pct == 90


def test_block_facts_read_labels_the_way_the_contract_does() -> None:
    comparison._FACTS.clear()
    labels = ("panel ship", "community", "entry")
    facts = {block: comparison._learn(block) for block in ("Panel ship", "90% Panel ship", "Community: —")}
    facts["Entry*"] = comparison._learn("Entry*")
    facts["Reviewer scorecard:"] = comparison._learn("Reviewer scorecard:")
    facts["Alpha vs Beta"] = comparison._learn("Alpha vs Beta")
    facts["Panel shipping news"] = comparison._learn("Panel shipping news")
    # a label alone, a label sharing its block with its value, decoration around a label
    assert facts["Panel ship"].bare and facts["Panel ship"].panel
    assert facts["90% Panel ship"].stats[0] == (True, "90%") and not facts["90% Panel ship"].bare
    assert facts["Community: —"].stats[1] == (True, "—")
    assert facts["Entry*"].bare_entry and facts["Entry*"].stats[labels.index("entry")] == (True, None)
    assert facts["Reviewer scorecard:"].scorecard and not facts["Reviewer scorecard:"].panel
    assert facts["Alpha vs Beta"].vs and facts["Alpha vs Beta"].landmark
    # words running on past the label are no label
    assert not facts["Panel shipping news"].panel and not facts["Panel shipping news"].bare
    # what is remembered is what was learned
    assert all(comparison._FACTS[block] == fact for block, fact in facts.items())
