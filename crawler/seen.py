"""A compact set of 64-bit hashes: the crawl's memory of URLs it has already seen or judged.

A Python `set` of `int` costs ~100 bytes an entry (the int object and the table slot);
at 30,000 URLs that was 3 MB of the fetch process's growth with site size (issue 8).
`HashSet` keeps the bulk in 256 sorted `array('q')` buckets, one per value of the top 8 bits
(8 bytes an entry, searched with `bisect` in C; `hash()` of a URL is uniform, so the buckets
fill evenly) and only the latest additions in a small `set`, merged into the buckets when they
reach an eighth of the bulk (at most `MAX_RECENT`). A merge rebuilds one bucket at a time, so
it never holds a second copy of the bulk: with one sorted array, a million URLs cost 21 MB at
the peak of a merge (issue 14); in buckets, 11 MB.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable

__all__ = ["HashSet"]

#: The recent set is merged into the bulk once it holds this many and an eighth of the bulk,
MIN_RECENT = 4096
#: or this many, whatever the bulk (a set costs ~70 bytes an entry).
MAX_RECENT = 1 << 15
#: Buckets by the top 8 bits of a signed 64-bit value: bucket i holds [(i - 128) << 56, ...).
_SHIFT = 56
_BUCKETS = 256
_OFFSET = _BUCKETS // 2


class HashSet:
    """A set of signed 64-bit ints (`hash()` values) with `in`, `add`, `update` and `len`."""

    __slots__ = ("_buckets", "_bulk", "_recent")

    def __init__(self, values: Iterable[int] = ()) -> None:
        self._buckets = [array("q") for _ in range(_BUCKETS)]  # each sorted
        self._bulk = 0  # entries in the buckets
        self._recent: set[int] = set()
        self.update(values)

    def __contains__(self, value: int) -> bool:
        if value in self._recent:
            return True
        bucket = self._buckets[(value >> _SHIFT) + _OFFSET]
        at = bisect_left(bucket, value)
        return at < len(bucket) and bucket[at] == value

    def __len__(self) -> int:
        return self._bulk + len(self._recent)

    def add(self, value: int) -> None:
        if value in self:
            return
        recent = self._recent
        recent.add(value)
        size = len(recent)
        if size >= MIN_RECENT and (size >= self._bulk >> 3 or size >= MAX_RECENT):
            self._merge()

    def update(self, values: Iterable[int]) -> None:
        for value in values:
            self.add(value)

    def _merge(self) -> None:
        """Fold the recent values into their buckets, one bucket at a time (slices copied in C)."""
        values = sorted(self._recent)
        self._recent = set()
        buckets = self._buckets
        start = 0
        while start < len(values):
            index = (values[start] >> _SHIFT) + _OFFSET
            end = bisect_left(values, (index - _OFFSET + 1) << _SHIFT, start)
            buckets[index] = _merged(buckets[index], values, start, end)  # (the old one is freed)
            start = end
        self._bulk += len(values)


def _merged(bucket: array[int], values: list[int], start: int, end: int) -> array[int]:
    """`bucket` with `values[start:end]` (sorted, none in `bucket`) merged in order."""
    merged = array("q")
    at = 0
    for position in range(start, end):
        value = values[position]
        until = bisect_left(bucket, value, at)
        merged.extend(bucket[at:until])
        merged.append(value)
        at = until
    merged.extend(bucket[at:])
    return merged
