"""Finds the layout parser that recognises a page, so a new site layout is one new module.

Every module in ``parsers/layouts/`` that exposes ``NAME``, ``VERSION``, ``recognises(blocks)`` and
``parse(blocks)`` is discovered with ``pkgutil`` at first use; nothing else needs registering. The
page's text blocks are computed once here and shared by every layout's ``recognises`` and the
chosen ``parse``. Whatever a layout does, ``parse_page`` never raises: an exception becomes an
``incomplete`` (or ``not_comparison``) result carrying the error as a problem.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType
from typing import Protocol, cast

from parsers import layouts
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


def _failed(name: str, version: str, status: str, error: BaseException) -> ParseResult:
    detail = f"{type(error).__name__}: {error}"[:300]
    return ParseResult(
        status="incomplete" if status == "incomplete" else "not_comparison",
        parser=name,
        parser_version=version,
        problems=[f"title: parser error ({detail})"] if status == "incomplete" else [],
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


def parse_page(html: str | bytes, url: str | None = None) -> ParseResult:
    """Parse one page with the first layout that recognises it; never raises.

    ``url`` is accepted for layouts that may one day need it (and for error messages); the
    layouts shipped today read the text alone.
    """
    try:
        blocks = text_blocks(html)
    except Exception as error:  # lexbor or decoding failure on hostile bytes
        return _failed(NO_LAYOUT, REGISTRY_VERSION, "not_comparison", error)
    for layout in discover():
        try:
            claimed = layout.recognises(blocks)
        except Exception:
            claimed = False
        if not claimed:
            continue
        try:
            result = layout.parse(blocks)
        except Exception as error:
            return _failed(layout.NAME, layout.VERSION, "incomplete", error)
        if result.status != "not_comparison" and ends_mid_document(html):
            result.problems.append(f"{_last_field(result)}: page ends mid-text (truncated)")
            result.status = "incomplete"
        return result
    return ParseResult(status="not_comparison", parser=NO_LAYOUT, parser_version=REGISTRY_VERSION)
