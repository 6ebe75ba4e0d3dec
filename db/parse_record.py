"""What a snapshot records of its parse, and which parser code produced it.

The snapshot columns of a parse outcome (`PARSE_COLUMNS`) are written by the crawl's
writer, the WARC importer and `verdicts reparse` alike, from `parse_values`. One of them,
`parsed_with`, says which code read the page and with which input besides the bytes:
`"<parser fingerprint> <was_comparison: 0 or 1>"`, or `"<fingerprint> -"` for an ok or
incomplete outcome, which a layout read before `was_comparison` could matter (only the
candidate check of a page no layout read uses it): the same note however the page came to
be read (a crawl, a reparse, a forced one). The fingerprint is a hash of every file of
`parsers/` (the layouts, the text blocks, the embedded-data readers, ...), of this module
(the columns and `parse_hash`), of `crawler/encoding.py` (how stored bytes are decoded)
and the two packages' `__init__` (the release),
and of the versions of lexbor (selectolax), Python and its Unicode tables. Parsing is a
pure function of those, the snapshot's bytes (immutable, by sha256), its encoding and URL
(immutable) and `was_comparison`, so a snapshot whose `parsed_with` matches what a reparse
would use needs no second parse: `verdicts reparse` skips it (db/reparse.py). Any change
to the parser code changes the fingerprint, and the next reparse parses everything.
"""

from __future__ import annotations

import hashlib
import json
import operator
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import fields
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parsers.model import ParseResult

#: The snapshot columns that record a parse outcome, in `parse_values` order.
PARSE_COLUMNS = (
    "parse_status",
    "parse_problems",
    "parser",
    "parser_version",
    "parse_missing",
    "parse_hash",
    "parsed_with",
)
_NO_PARSE: tuple[None, ...] = (None,) * len(PARSE_COLUMNS)
_ROOT = Path(__file__).resolve().parent.parent


def _code_files() -> list[Path]:
    """Every file whose content decides a stored parse outcome (sorted: a stable hash)."""
    parsers = sorted(
        p for p in (_ROOT / "parsers").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    others = ("db/__init__.py", "db/parse_record.py", "crawler/__init__.py", "crawler/encoding.py")
    return [*parsers, *(_ROOT / name for name in others)]


@cache
def parser_fingerprint() -> str:
    """16 hex digits that change whenever the parser code (or what it runs on) changes."""
    import selectolax

    digest = hashlib.sha256()
    for path in _code_files():
        digest.update(path.relative_to(_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    runtime = (
        selectolax.__version__,
        sys.implementation.name,
        sys.version_info[:3],
        unicodedata.unidata_version,
    )
    digest.update(repr(runtime).encode())
    return digest.hexdigest()[:16]


def parsed_with(status: str, was_comparison: bool) -> str:
    """The `parsed_with` note of a parse by the current code with this outcome and input."""
    return f"{parser_fingerprint()} {'-' if status in ('ok', 'incomplete') else int(was_comparison)}"


@lru_cache(maxsize=1)
def _listing_values() -> Callable[[Any], tuple[Any, ...]]:
    """A Listing's field values in declaration order (parsers are imported on first use;
    built once: `dataclasses.fields` cost half of every page's fingerprint)."""
    from parsers.model import Listing

    return operator.attrgetter(*(f.name for f in fields(Listing)))


def parse_fingerprint(parse: ParseResult) -> str:
    """Changes whenever anything the parser yields changes (used by reparse), the embedded
    data it read included: a reparse rewrites a page's rows when this changes.

    The repr of the records' plain values (str, int, float, None: stable across runs),
    not `to_dict()` + JSON: `asdict` deep-copies, which cost more than all the SQL of a
    page in bench/archive.py.
    """
    values = _listing_values()
    record = (
        parse.status,
        parse.parser,
        parse.parser_version,
        parse.title,
        [values(item) for item in parse.listings],
        [(q.position, q.reviewer_seat, q.text) for q in parse.quotes],
        parse.problems,
    )
    if parse.disagreements:  # (only then: the fingerprints of every other page stay as they were)
        record += ([(d.source, d.field, d.position, d.visible, d.embedded) for d in parse.disagreements],)
    if parse.embedded:  # the embedded data read: a reader's change is a changed outcome too
        record += ([(item.kind, item.data) for item in parse.embedded],)
    return hashlib.sha256(repr(record).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def parse_values(parse: ParseResult | None) -> tuple[Any, ...]:
    """The values of `PARSE_COLUMNS` for a parse outcome (all None without a parse).

    `parsed_with` is recorded only for an outcome of `parsers.parse_page` itself (which
    notes its `was_comparison` input) that is not an error: an error result made by a
    caller whose own code raised, or a parse that raised (perhaps for want of memory),
    records NULL, so a reparse reads that page again.
    """
    if parse is None:
        return _NO_PARSE
    missing = None
    if parse.is_comparison:
        missing = json.dumps([k for k, ok in parse.field_presence().items() if not ok])
    return (
        parse.status,
        json.dumps(parse.problems, ensure_ascii=False),
        parse.parser,
        parse.parser_version,
        missing,
        parse_fingerprint(parse),
        None
        if parse.was_comparison is None or parse.status == "error"
        else parsed_with(parse.status, parse.was_comparison),
    )


def parse_columns(parse: ParseResult | None) -> dict[str, Any]:
    """The snapshot columns that record a parse outcome."""
    return dict(zip(PARSE_COLUMNS, parse_values(parse), strict=True))


def decode_body(body: bytes, encoding: str | None) -> str | bytes:
    """A stored body as the crawl's writer hands it to the parser: decoded with the codec
    the fetch chose (`crawler.encoding.decode_as`), bytes when none was recorded (lexbor
    reads them as UTF-8), and bytes too for a codec this Python does not know."""
    if not encoding:
        return body
    from crawler.encoding import decode_as

    try:
        return decode_as(body, encoding)
    except LookupError:
        return body
