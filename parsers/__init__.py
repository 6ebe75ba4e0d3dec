"""Pure page parsing: HTML in, plain records out (no network, no database).

``parse_page(html, url=None) -> ParseResult`` is the one entry point the crawler needs; the
registry picks the layout that recognises the page. ``format_parse_result`` renders a result for
people (``verdicts parse``).
"""

from __future__ import annotations

from parsers.model import Listing, ParseResult, Quote
from parsers.prices import parse_entry_price
from parsers.registry import parse_page, parser_versions
from parsers.report import format_parse_result
from parsers.text_blocks import text_blocks

__all__ = [
    "Listing",
    "ParseResult",
    "Quote",
    "format_parse_result",
    "parse_entry_price",
    "parse_page",
    "parser_versions",
    "text_blocks",
]
