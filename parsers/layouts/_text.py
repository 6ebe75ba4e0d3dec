"""Block-reading primitives shared by the layout modules (private: the registry skips ``_*``).

Layouts compare blocks the way a reader does: ignoring case and how whitespace was laid out.
"""

from __future__ import annotations

#: Longest block that can be a tool name or a column heading (longer ones are prose).
NAME_MAX = 200


def fold(text: str) -> str:
    """``text`` compared the way a reader would: case-folded, whitespace collapsed."""
    key = text.casefold()
    # Text blocks arrive collapsed already: skip the split when ``key`` has nothing to collapse.
    # (Every whitespace character but the space is unprintable, and case folding maps no
    # character to or from whitespace.)
    if key.isprintable() and "  " not in key and key[:1] != " " and key[-1:] != " ":
        return key
    return " ".join(key.split())
