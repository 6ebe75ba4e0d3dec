"""The page's own data, when it carries some, as a second witness to what its text says.

Many sites ship their data twice: as text for people and as JSON for machines. This module
reads the JSON: JSON-LD (``<script type="application/ld+json">``), microdata (``itemscope``),
Next.js ``__NEXT_DATA__`` and Nuxt ``__NUXT_DATA__`` (a devalue-encoded array). The archive
keeps it per snapshot, and ``cross_check`` compares the title, the tool names and the prices
with what the visible text gave. A disagreement is a signal for the analyst, never a parse
failure: the visible text stays the source of truth.

Cost: a page pays only when it carries a marker (``has_markers``: a few substring searches
over the raw markup); JSON-LD and the framework blobs are cut out by string search and read
with ``json``; only microdata needs a tree, parsed only when ``itemscope`` appears.

Pure: HTML in, plain data out.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from parsers.model import ParseResult

#: The substrings that say a page carries embedded data (bytes and text forms).
MARKERS: tuple[str, ...] = ("application/ld+json", "itemscope", "__NEXT_DATA__", "__NUXT_DATA__")
_MARKERS_BYTES = tuple(marker.encode() for marker in MARKERS)
#: Kinds of embedded data, as stored.
JSON_LD, MICRODATA, NEXT_DATA, NUXT_DATA = "json-ld", "microdata", "next-data", "nuxt-data"
#: schema.org types whose ``name`` is a tool, and types whose ``headline``/``name`` may be the title.
_TOOL_TYPES = frozenset({"Product", "SoftwareApplication", "WebApplication", "MobileApplication"})
_TITLE_TYPES = frozenset({"WebPage", "ItemPage", "Article", "Review", "BlogPosting", "NewsArticle"})
#: Keys of untyped (framework) data that hold a price, and lists that hold tools.
_PRICE_KEYS = ("price", "entryPrice", "entry_price", "priceUsd", "price_usd", "lowPrice")
_TOOL_LISTS = frozenset({"tools", "products", "apps", "items"})
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")
_VS = re.compile(r"\s(?:vs\.?|versus)\s", re.IGNORECASE)
#: Walks stop this deep (framework blobs nest deeply; the facts sit near the top).
_MAX_DEPTH = 40


@dataclass(frozen=True, slots=True)
class Embedded:
    """One kind of embedded data found on a page: its items, as JSON-ready values."""

    kind: str
    data: list[Any]


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A field the embedded data states otherwise than the visible text."""

    source: str
    field: str
    position: int | None
    visible: str | None
    embedded: str | None


def has_markers(html: str | bytes) -> bool:
    """Does the page carry any embedded data worth reading? (substring searches only)"""
    if isinstance(html, bytes):
        return any(marker in html for marker in _MARKERS_BYTES)
    return any(marker in html for marker in MARKERS)


# --- reading ----------------------------------------------------------------------------------


def _scripts(html: str | bytes, marker: str) -> list[str | bytes]:
    """The contents of every ``<script>`` whose opening tag contains ``marker``.

    Plain substring searches over the page as it came (bytes or text): no decoding, no
    lower-casing of the whole page (both cost more than the rest of the read).
    """
    if isinstance(html, bytes):
        needle, lt, gt, script, close = marker.encode(), b"<", b">", b"<script", b"</script"
    else:
        needle, lt, gt, script, close = marker, "<", ">", "<script", "</script"  # type: ignore[assignment]
    found: list[str | bytes] = []
    start = 0
    while (at := html.find(needle, start)) >= 0:  # type: ignore[arg-type]
        start = at + len(needle)
        tag_start = html.rfind(lt, 0, at)  # type: ignore[arg-type]
        if tag_start < 0 or html[tag_start : tag_start + 7].lower() != script:
            continue
        if html.find(gt, tag_start, at) >= 0:  # type: ignore[arg-type]  # not in the opening tag
            continue
        open_end = html.find(gt, at)  # type: ignore[arg-type]
        end = html.find(close, open_end + 1) if open_end >= 0 else -1  # type: ignore[arg-type]
        if end < 0:
            break
        found.append(html[open_end + 1 : end])
        start = end
    return found


def _loads(raw: str | bytes) -> Any:
    # (decoding the slice first is cheaper than json's own detection of a bytes encoding)
    text = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw).strip()
    if text.startswith("<!--"):
        text = text[4:].rsplit("-->", 1)[0]
    if text.startswith("//<![CDATA["):
        text = text[11:].rsplit("//]]>", 1)[0]
    return json.loads(text)


def decode_devalue(values: Any) -> Any:
    """A devalue-encoded array (``__NUXT_DATA__``, SvelteKit) as plain JSON values.

    Index 0 is the root; numbers in objects and arrays are indices of other entries; negative
    ones stand for undefined (-1), a hole (-2), NaN (-3), +/-Infinity (-4/-5) and -0 (-6); an
    array starting with a string is a typed value (``["Date", iso]``, ``["Set", ...]``,
    ``["Map", k, v, ...]``, and wrappers such as Nuxt's ``["Reactive", i]``). Values JSON
    cannot hold become null (NaN, infinities) or strings (dates, big ints, patterns); a
    reference back into an entry being decoded (a cycle) becomes null.
    """
    if not isinstance(values, list) or not values:
        raise ValueError("devalue data is not a non-empty array")
    done: dict[int, Any] = {}
    busy: set[int] = set()

    def hydrate(index: Any, depth: int = 0) -> Any:
        if not isinstance(index, int) or index < 0 or index >= len(values) or depth > 200:
            return 0 if index == -6 else None
        if index in done:
            return done[index]
        if index in busy:
            return None
        value = values[index]
        busy.add(index)
        try:
            result = _hydrate_value(value, lambda i: hydrate(i, depth + 1))
        finally:
            busy.discard(index)
        done[index] = result
        return result

    return hydrate(0)


def _hydrate_value(value: Any, hydrate: Any) -> Any:
    if isinstance(value, dict):
        return {key: hydrate(item) for key, item in value.items()}
    if not isinstance(value, list):
        return None if isinstance(value, float) and not math.isfinite(value) else value
    if value and isinstance(value[0], str):
        kind, rest = value[0], value[1:]
        if kind in ("Set",):
            return [hydrate(item) for item in rest]
        if kind == "Map":
            return {str(hydrate(k)): hydrate(v) for k, v in zip(rest[::2], rest[1::2], strict=False)}
        if kind == "null":
            return {str(k): hydrate(v) for k, v in zip(rest[::2], rest[1::2], strict=False)}
        if kind in ("Date", "BigInt", "URL"):
            return str(rest[0]) if rest else None
        if kind == "RegExp":
            return f"/{rest[0]}/{rest[1] if len(rest) > 1 else ''}" if rest else None
        if kind == "Object":
            return rest[0] if rest else None
        # A reviver's wrapper (Nuxt: Reactive, ShallowReactive, Ref, ShallowRef, ...): its value.
        return hydrate(rest[0]) if rest else None
    return [None if item == -2 else hydrate(item) for item in value]


def _microdata(html: str) -> list[Any]:
    """Every top-level microdata item as ``{"@type": ..., property: value, ...}``."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    items = []
    for node in tree.css("[itemscope]"):
        if "itemprop" not in node.attributes:
            items.append(_item(node, 0))
    return items


def _item(scope: Any, depth: int) -> dict[str, Any]:
    item: dict[str, Any] = {}
    kind = (scope.attributes.get("itemtype") or "").split()
    if kind:
        item["@type"] = kind[0].rstrip("/").rsplit("/", 1)[-1]
    pending = list(reversed(list(scope.iter())))
    while pending:
        node = pending.pop()
        attrs = node.attributes
        prop = attrs.get("itemprop")
        nested = "itemscope" in attrs
        if prop:
            value = _item(node, depth + 1) if nested and depth < _MAX_DEPTH else _prop_value(node)
            for name in prop.split():
                item.setdefault(name, value)
        if not nested:
            pending.extend(reversed(list(node.iter())))
    return item


def _prop_value(node: Any) -> str | None:
    attrs = node.attributes
    for name in ("content", "datetime", "href", "src", "value"):
        if attrs.get(name) is not None:
            return attrs[name]
    return " ".join(node.text(deep=True).split()) or None


_READERS: tuple[tuple[str, str, bytes, Any], ...] = (
    (JSON_LD, "application/ld+json", b"application/ld+json", _loads),
    (NEXT_DATA, "__NEXT_DATA__", b"__NEXT_DATA__", _loads),
    (NUXT_DATA, "__NUXT_DATA__", b"__NUXT_DATA__", lambda raw: decode_devalue(_loads(raw))),
)


def read_embedded(html: str | bytes) -> list[Embedded]:
    """Every kind of embedded data the page carries (empty when it carries none: a page
    without any marker costs one substring search per marker)."""
    is_bytes = isinstance(html, bytes)
    found: list[Embedded] = []
    for kind, marker, marker_bytes, read in _READERS:
        if (marker_bytes if is_bytes else marker) not in html:  # type: ignore[operator]
            continue
        items = []
        for raw in _scripts(html, marker):
            try:
                value = read(raw)
            except (ValueError, RecursionError) as error:
                value = {"@error": f"{type(error).__name__}: {error}"[:200]}
            items.append(value)
        if items:
            found.append(Embedded(kind, items))
    if (b"itemscope" if is_bytes else "itemscope") in html:  # type: ignore[operator]
        text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
        items = _microdata(text)
        if items:
            found.append(Embedded(MICRODATA, items))
    return found


# --- cross-checking ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Facts:
    title: str | None = None
    #: tool name -> its price as stated (None when the data names the tool without a price)
    tools: dict[str, str | None] | None = None


_NO_KINDS: frozenset[str] = frozenset()


def _kinds(value: Any) -> frozenset[str]:
    """The schema.org types of an item, by their last path segment ("Product")."""
    kind = value.get("@type")
    if kind is None:
        return _NO_KINDS
    if isinstance(kind, str):
        return _kind_names(kind)
    if isinstance(kind, list):
        return frozenset(str(k).rstrip("/").rsplit("/", 1)[-1] for k in kind if k)
    return _NO_KINDS


@lru_cache(maxsize=256)
def _kind_names(kind: str) -> frozenset[str]:
    return frozenset({kind.rstrip("/").rsplit("/", 1)[-1]})


def _price_of(item: dict[str, Any]) -> str | None:
    for key in _PRICE_KEYS:
        value = item.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    offers = item.get("offers")
    for offer in offers if isinstance(offers, list) else (offers,):
        if isinstance(offer, dict):
            price = _price_of(offer)
            if price is not None:
                return price
    return None


def _reads_as_title(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 300 and _VS.search(value) is not None


def _facts(data: Any, typed: bool) -> _Facts:
    """Title and tools (with prices) an embedded item states, read in one walk."""
    facts = _Facts()
    tools: dict[str, str | None] = {}
    _visit(data, facts, tools, typed, "", 0)
    facts.tools = tools or None
    return facts


def _visit(
    value: Any, facts: _Facts, tools: dict[str, str | None], typed: bool, parent: str, depth: int
) -> None:
    if depth > _MAX_DEPTH:
        return
    if type(value) is list:
        for item in value:
            if type(item) is dict or type(item) is list:
                _visit(item, facts, tools, typed, parent, depth + 1)
        return
    if type(value) is not dict:  # a scalar at the top (JSON-LD `null`, a devalue root of 1)
        return
    kinds = _kinds(value)
    plain = not (typed or kinds)
    name = value.get("name")
    if name and type(name) is str:
        if plain:
            is_tool = parent in _TOOL_LISTS or any(key in value for key in _PRICE_KEYS)
        else:
            is_tool = not kinds.isdisjoint(_TOOL_TYPES)
        if is_tool:
            key = " ".join(name.split())
            if tools.get(key) is None:  # a later item may state the price an earlier one left out
                tools[key] = _price_of(value)
    if facts.title is None and (plain or not kinds.isdisjoint(_TITLE_TYPES)):
        for key in ("headline", "title", "name"):
            if _reads_as_title(value.get(key)):
                facts.title = " ".join(value[key].split())
                break
    for key, item in value.items():
        if type(item) is dict or type(item) is list:
            _visit(item, facts, tools, typed, key, depth + 1)


def _fold(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def _sides(title: str) -> frozenset[str]:
    parts = _VS.split(title, maxsplit=1)
    if len(parts) != 2:
        return frozenset({_fold(title)})
    right = re.split(r"\s[|:–—-]\s|[:?]", parts[1], maxsplit=1)[0]  # drop "| Site", ": which..."
    return frozenset({_fold(parts[0].split(":")[-1]), _fold(right)})


def price_number(text: str | None) -> float | None:
    """A stated price as a number ("20" == "20.00" == "$20/mo"; "1,200" == 1200); None if none."""
    if text is None:
        return None
    if _fold(text) in ("free", "0", "$0"):
        return 0.0
    match = _NUMBER.search(text)
    if match is None:
        return None
    digits = match.group(0)
    if "," in digits and "." not in digits and len(digits.rsplit(",", 1)[1]) == 2:
        digits = digits.replace(",", ".")  # "20,00": a decimal comma
    try:
        return float(digits.replace(",", ""))
    except ValueError:
        return None


def cross_check(parse: ParseResult, found: list[Embedded]) -> list[Disagreement]:
    """What the embedded data states otherwise than the visible text (a comparison's parse)."""
    out: list[Disagreement] = []
    visible_names = {_fold(item.name): item for item in parse.listings if item.name}
    for embedded in found:
        if embedded.kind == "error":
            continue
        typed = embedded.kind in (JSON_LD, MICRODATA)
        # Each item (a JSON-LD script, a microdata item, a framework blob) is one statement.
        for data in embedded.data:
            _check(parse, visible_names, embedded.kind, _facts(data, typed), out)
    return out


def _check(
    parse: ParseResult, visible_names: dict[str, Any], source: str, facts: _Facts, out: list[Disagreement]
) -> None:
    title = facts.title
    if title and parse.title and title != parse.title and _sides(title) != _sides(parse.title):
        out.append(Disagreement(source, "title", None, parse.title, title))
    if not facts.tools:
        return
    stated = {_fold(name): price for name, price in facts.tools.items()}
    if visible_names and stated.keys().isdisjoint(visible_names):
        shown = "; ".join(item.name or "" for item in parse.listings)
        out.append(Disagreement(source, "tool_names", None, shown, "; ".join(facts.tools)))
        return
    for key, item in visible_names.items():
        price = stated.get(key)
        emb = price_number(price)
        if emb is None:
            continue
        vis = item.entry_price_usd
        if vis is None and item.entry_price_kind == "free":
            vis = 0.0
        if vis is None or abs(vis - emb) > 0.005:
            out.append(Disagreement(source, "entry_price", item.position, item.entry_price, price))
