"""Finds the layout parser that recognises a page, so a new site layout is one new module.

Every module in ``parsers/layouts/`` that exposes ``NAME``, ``VERSION``, ``recognises(blocks)`` and
``parse(blocks)`` is discovered with ``pkgutil`` at first use; nothing else needs registering. The
page's text blocks are computed once here and shared by every layout's ``recognises`` and the
chosen ``parse``. Whatever a layout does, ``parse_page`` never raises: an exception (in the
text blocks, a layout's ``recognises`` or its ``parse``) becomes an ``error`` result naming it in
its problems, never a quiet ``not_comparison``. A page no layout read but whose title, first
heading or URL reads "A vs B" (or that was a comparison before) is ``unreadable``
(parsers/candidates.py).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType
from typing import Protocol, cast

from parsers import embedded, layouts
from parsers.model import ParseResult
from parsers.text_blocks import text_blocks

#: The name recorded when no layout claims a page.
NO_LAYOUT = "none"
#: Version of the shared machinery (text blocks, registry); part of every recorded version.
REGISTRY_VERSION = "1"


class Layout(Protocol):
    """What a module in ``parsers/layouts/`` provides."""

    NAME: str
    VERSION: str

    def recognises(self, blocks: list[str]) -> bool: ...

    def parse(self, blocks: list[str]) -> ParseResult: ...


def _is_layout(module: ModuleType) -> bool:
    return all(hasattr(module, attr) for attr in ("NAME", "VERSION", "recognises", "parse"))


@cache
def discover() -> tuple[Layout, ...]:
    """Every layout module under ``parsers/layouts/``, in module-name order."""
    found: list[Layout] = []
    for info in sorted(pkgutil.iter_modules(layouts.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{layouts.__name__}.{info.name}")
        if _is_layout(module):
            found.append(cast(Layout, module))
    return tuple(found)


def parser_versions() -> dict[str, str]:
    """``{layout name: version}`` for every discovered layout."""
    return {layout.NAME: layout.VERSION for layout in discover()}


def error_result(name: str, version: str, where: str, error: BaseException) -> ParseResult:
    """The ``error`` result of a parser that raised: the exception is named in its problems."""
    detail = f"{type(error).__name__}: {error}"[:300]
    return ParseResult(
        status="error",
        parser=name,
        parser_version=version,
        problems=[f"page: parser error in {where} ({detail})"],
    )


def ends_mid_document(html: str | bytes) -> bool:
    """Does the page stop in the middle of text or a tag, the way a cut-off download does?

    Server-rendered pages end with a tag (``</html>``, ``</body>``, ``</div>``...). Markup can
    close quotation marks itself (``<q>``), so a page cut inside the last quote could otherwise
    read as complete.
    """
    tail = html[-64:].rstrip()
    if isinstance(tail, bytes):
        return bool(tail) and tail[-1:] != b">"
    return bool(tail) and tail[-1] != ">"


def _last_field(result: ParseResult) -> str:
    """The field a cut-off page most likely lost: the last one this layout reads that it yielded."""
    if result.quotes:
        return "quotes"
    if result.listings:
        return "description"
    return "title"


def parse_page(html: str | bytes, url: str | None = None, was_comparison: bool = False) -> ParseResult:
    """Parse one page with the first layout that recognises it; never raises.

    ``url`` (its path may read ``a-vs-b``) and ``was_comparison`` (an earlier snapshot of the
    URL parsed as a comparison: the archive knows) make a page no layout read ``unreadable``
    rather than ``not_comparison``. A page that carries embedded data (JSON-LD, microdata,
    ``__NEXT_DATA__``, ``__NUXT_DATA__``) also gets it in ``embedded``, cross-checked against
    the visible text in ``disagreements``; other pages pay one substring search per marker.
    """
    result = _parse_page(html, url, was_comparison)
    result.was_comparison = was_comparison
    try:
        found = result.embedded = embedded.read_embedded(html)
        if found and result.is_comparison:
            result.disagreements = embedded.cross_check(result, found)
    except Exception as error:  # kept with the page, not a parse failure
        detail = f"{type(error).__name__}: {error}"[:300]
        result.embedded = [embedded.Embedded("error", [{"@error": detail}])]
    return result


def _parse_page(html: str | bytes, url: str | None, was_comparison: bool) -> ParseResult:
    try:
        blocks = text_blocks(html)
    except Exception as error:  # lexbor or decoding failure on hostile bytes
        return error_result(NO_LAYOUT, REGISTRY_VERSION, "text blocks", error)
    crashed: ParseResult | None = None
    for layout in discover():
        try:
            claimed = layout.recognises(blocks)
        except Exception as error:
            crashed = crashed or error_result(layout.NAME, layout.VERSION, f"{layout.NAME}.recognises", error)
            continue
        if not claimed:
            continue
        try:
            result = layout.parse(blocks)
        except Exception as error:
            return error_result(layout.NAME, layout.VERSION, f"{layout.NAME}.parse", error)
        if result.status == "not_comparison":
            return _checked_candidate(html, url, was_comparison, blocks, result)
        if ends_mid_document(html):
            result.problems.append(f"{_last_field(result)}: page ends mid-text (truncated)")
            result.status = "incomplete"
        return result
    if crashed is not None:
        return crashed
    result = ParseResult(status="not_comparison", parser=NO_LAYOUT, parser_version=REGISTRY_VERSION)
    return _checked_candidate(html, url, was_comparison, blocks, result)


def _checked_candidate(
    html: str | bytes, url: str | None, was_comparison: bool, blocks: list[str], result: ParseResult
) -> ParseResult:
    try:
        return _candidate(html, url, was_comparison, blocks, result)
    except Exception as error:  # never a quiet not_comparison, never raised
        return error_result(result.parser, result.parser_version, "the candidate check", error)


def _candidate(
    html: str | bytes, url: str | None, was_comparison: bool, blocks: list[str], result: ParseResult
) -> ParseResult:
    """``result`` as is, or ``unreadable`` when the page is a candidate comparison."""
    from parsers import candidates

    signals = candidates.comparison_signals(html, url)
    if was_comparison:
        signals.append("an earlier snapshot of this URL was a comparison")
    if not signals:
        return result
    missing: list[str] = []
    for layout in discover():
        explain = getattr(layout, "explain", None)
        if explain is not None:
            try:
                missing.extend(explain(blocks))
            except Exception as error:
                missing.append(f"page: parser error in {layout.NAME}.explain ({type(error).__name__})")
    return candidates.unreadable(result, signals, missing, candidates.client_rendered(html, blocks))
