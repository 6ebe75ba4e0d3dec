"""Cap how deep a page's elements nest before lexbor builds a tree of it.

lexbor's tree builder checks the stack of open elements at every start tag ("is there a
<p> in button scope?"), so its cost grows with the square of the nesting: a page of
100,000 nested <div>s held one core for more than four minutes, in link discovery and
again in the parser. Browsers cap the depth of the tree they build (Chromium at 512);
this does the same to the markup: past `MAX_DEPTH` open elements, further tags are
dropped and their text kept.

Pure and cheap on ordinary pages: a page with at most `SCAN_ABOVE_TAGS` tags cannot nest
deep enough to matter (lexbor builds 4,000 nested <div>s in ~0.2 s), so it is returned as
is after one `count`. Only larger pages are scanned tag by tag.
"""

from __future__ import annotations

import re
from typing import TypeVar

__all__ = ["MAX_DEPTH", "SCAN_ABOVE_TAGS", "cap_nesting"]

MAX_DEPTH = 512
SCAN_ABOVE_TAGS = 4096

#: Elements that never hold others (void), or whose end tag the next sibling (or the next of
#: their kind) implies: they never deepen the tree however many of them a page leaves open.
_VOID = "area base br col embed hr img input link meta param source track wbr script style"
_SELF_CLOSING = "html head body a button nobr p li dt dd option optgroup tr td th thead tbody tfoot"
_FLAT_NAMES = f"{_VOID} {_SELF_CLOSING} colgroup caption rb rt rp rtc".split()
_FLAT = frozenset(_FLAT_NAMES + [name.upper() for name in _FLAT_NAMES])
_FLAT_BYTES = frozenset(name.encode() for name in _FLAT)
#: (end-tag slash, name) of every tag. A trailing "/" does not close an HTML element.
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")
_TAG_BYTES = re.compile(rb"<(/?)([A-Za-z][A-Za-z0-9-]*)")

T = TypeVar("T", str, bytes)


def cap_nesting(html: T, max_depth: int = MAX_DEPTH) -> T:
    """`html` with tags that would open more than `max_depth` elements removed (and the end
    tags that close them); text is kept. Returned unchanged when no element goes that deep."""
    if html.count("<" if isinstance(html, str) else b"<") <= SCAN_ABOVE_TAGS:
        return html
    pattern, flat = (_TAG, _FLAT) if isinstance(html, str) else (_TAG_BYTES, _FLAT_BYTES)
    if not _too_deep(pattern.findall(html), flat, max_depth):
        return html
    close = ">" if isinstance(html, str) else b">"
    depth = dropped = 0
    pieces = []
    start = 0
    for match in pattern.finditer(html):
        closing, name = match.groups()
        if name in flat or (not name.islower() and name.lower() in flat):
            continue
        if closing:
            if not dropped:
                depth -= depth > 0
                continue
            dropped -= 1
        elif depth < max_depth:
            depth += 1
            continue
        else:
            dropped += 1
        end = html.find(close, match.end())
        end = len(html) if end < 0 else end + 1
        if match.start() >= start:
            pieces.append(html[start : match.start()])
            start = end
    pieces.append(html[start:])
    return html[:0].join(pieces)


def _too_deep(tags: list, flat: frozenset, max_depth: int) -> bool:
    """Whether the (end slash, name) pairs ever open more than `max_depth` elements."""
    depth = 0
    for closing, name in tags:
        if name in flat or (not name.islower() and name.lower() in flat):
            continue
        if closing:
            depth -= depth > 0
        else:
            depth += 1
            if depth > max_depth:
                return True
    return False
