"""Content-derived ids and the normalisation they hash.

Ids an analyst may save (tools, verdicts, comparisons) must survive a `reparse` and a
merge of archives built on different machines, so they are hashes of normalised
content, never autoincrement counters.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
    }
)
_FOLDED = re.compile("[" + "".join(re.escape(chr(c)) for c in _QUOTES) + "]")


def normalise_text(text: str) -> str:
    """NFKC, curly and straight quotes and apostrophes folded, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text)
    if _FOLDED.search(folded):  # str.translate walks every character through a dict
        folded = folded.translate(_QUOTES)
    # str.split() and the regex `\s` agree on what whitespace is (str.isspace), and
    # split-and-join is ~4x faster: this runs for every quote a crawl or reparse stores
    return " ".join(folded.split())


def normalise_name(name: str) -> str:
    """A tool's identity: its normalised text, case-folded."""
    return normalise_text(name).casefold()


def content_id(*parts: str) -> str:
    """A stable 16-hex-digit id for the given normalised parts."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:16]


def tool_id(name: str) -> str:
    return content_id("tool", normalise_name(name))


def text_key(text: str) -> str:
    """Groups the same quote wherever it is credited (for attribution conflicts)."""
    return content_id("text", normalise_text(text))


def verdict_id(tool_id_: str, text: str) -> str:
    return content_id("verdict", tool_id_, normalise_text(text))


def page_id(url: str) -> str:
    return content_id("page", url)


def comparison_id(url: str) -> str:
    return content_id("comparison", url)


def pair_key(tool_a: str, tool_b: str) -> str:
    """The same key for "A vs B" and "B vs A"."""
    return content_id("pair", *sorted((tool_a, tool_b)))
