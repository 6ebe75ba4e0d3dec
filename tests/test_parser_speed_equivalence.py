"""The parser's shortcuts (taken for speed) give what the plain rules they stand for give.

``parsers.text_blocks`` collapses whitespace on a fast path when a page has nothing unusual, and
reads bytes without the ``utf-8-sig`` codec; the comparison layout remembers the keys of blocks
it has seen on earlier pages. Each test states the plain rule and checks the shortcut against it.
"""

from __future__ import annotations

import importlib

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
    """What a reader sees in each block: invisible characters gone, whitespace collapsed."""
    drop = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\xad"))
    blocks = (" ".join(part.translate(drop).split()) for part in parts)
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
    comparison._PLAIN_KEYS.clear()
    comparison._LANDMARK_KEYS.clear()
    comparison._LAST_INDEX[0] = None
    cold = comparison.parse(list(blocks))
    # same texts, new list and new string objects: every key now comes from the caches
    warm = comparison.parse([(block + ".")[:-1] for block in blocks])
    assert repr(cold) == repr(warm)
    assert comparison._PLAIN_KEYS["Alpha"] == fold("Alpha")
    assert "Panel ship" in comparison._LANDMARK_KEYS
    assert cold.title == "Alpha vs Beta"
    assert cold.listings[0].panel_ship_pct == 90
