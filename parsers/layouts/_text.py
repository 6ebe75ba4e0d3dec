"""Block-reading primitives shared by the layout modules (private: the registry skips ``_*``).

Layouts compare blocks the way a reader does: ignoring case and how whitespace was laid out.
"""

from __future__ import annotations

#: Longest block that can be a tool name or a column heading (longer ones are prose).
NAME_MAX = 200


def fold(text: str) -> str:
    """``text`` compared the way a reader would: case-folded, whitespace collapsed."""
    return " ".join(text.casefold().split())
