"""A compact set of 64-bit hashes: the crawl's memory of URLs it has already seen or judged.

A Python `set` of `int` costs ~100 bytes an entry (the int object and the table slot);
at 30,000 URLs that was 3 MB of the fetch process's growth with site size (issue 8).
`HashSet` keeps the bulk in a sorted `array('q')` (8 bytes an entry, searched with
`bisect` in C) and only the latest additions in a small `set`, merged into the array
when they reach an eighth of it, so merging costs amortised O(1) per entry and the
whole set stays within ~10-20 bytes an entry.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable

__all__ = ["HashSet"]

#: The recent set is merged into the array once it holds this many, or an eighth of the array.
MIN_RECENT = 4096


class HashSet:
    """A set of signed 64-bit ints (`hash()` values) with `in`, `add`, `update` and `len`."""

    __slots__ = ("_recent", "_sorted")

    def __init__(self, values: Iterable[int] = ()) -> None:
        self._sorted = array("q")
        self._recent: set[int] = set()
        self.update(values)

    def __contains__(self, value: int) -> bool:
        if value in self._recent:
            return True
        bulk = self._sorted
        at = bisect_left(bulk, value)
        return at < len(bulk) and bulk[at] == value

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def add(self, value: int) -> None:
        if value in self:
            return
        recent = self._recent
        recent.add(value)
        if len(recent) >= MIN_RECENT and len(recent) >= len(self._sorted) >> 3:
            self._merge()

    def update(self, values: Iterable[int]) -> None:
        for value in values:
            self.add(value)

    def _merge(self) -> None:
        """Fold the recent values into the sorted array (slices are copied in C)."""
        bulk, merged = self._sorted, array("q")
        start = 0
        for value in sorted(self._recent):
            at = bisect_left(bulk, value, start)
            merged.extend(bulk[start:at])
            merged.append(value)
            start = at
        merged.extend(bulk[start:])
        self._sorted = merged
        self._recent = set()
