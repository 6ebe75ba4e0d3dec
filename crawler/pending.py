"""The crawl's queue of URLs still to fetch: a bounded window in memory, the rest on disk.

A sitemap can name every page of a site at once; held as queued objects, a 30,000-page
site cost the fetch process ~20 MB more than a 3,000-page one (issue 8: memory flat with
site size). `PendingQueue` keeps at most `window` entries in an `asyncio.Queue` (what
the workers take from) and appends the excess to an anonymous temporary file, a few
bytes a URL; it refills the window from the file, oldest first, as the workers drain it,
so the order is the same first-in first-out order as one unbounded queue. The file has
no name on disk and disappears when it is closed or the process ends (even by SIGKILL);
what survives a crash is the frontier in the archive, which the writer keeps.
"""

from __future__ import annotations

import asyncio
import struct
import tempfile
from collections.abc import Iterable
from typing import IO

from db.frontier import Entry

__all__ = ["WINDOW", "PendingQueue"]

#: Entries held in memory: enough to keep every worker busy between refills.
WINDOW = 2048
_KINDS = ("html", "sitemap")
#: A record: URL length (bytes), depth, kind code; then the URL's UTF-8 bytes.
_HEAD = struct.Struct("<IHB")
_READ_BYTES = 256 * 1024


def _pack(entries: Iterable[Entry]) -> bytes:
    parts = []
    head = _HEAD.pack
    for entry in entries:
        url = entry.url.encode("utf-8", "surrogatepass")
        kind = _KINDS.index(entry.kind) if entry.kind in _KINDS else 255
        parts.append(head(len(url), min(entry.depth, 0xFFFF), kind))
        parts.append(url)
    return b"".join(parts)


class PendingQueue:
    """A FIFO queue of frontier entries whose memory use does not grow with the site.

    The subset of `asyncio.Queue` the crawl needs: `put_nowait`, `get`, `task_done`,
    `join` and `qsize` (which counts the entries on disk too).
    """

    def __init__(self, window: int = WINDOW) -> None:
        if window < 2:
            raise ValueError("the in-memory window must hold at least 2 entries")
        self.window = window
        self._queue: asyncio.Queue[Entry] = asyncio.Queue()
        self._file: IO[bytes] | None = None
        self._read_at = 0  # offset of the oldest record not yet read back
        self._write_at = 0  # end of the last record written
        self._spilled = 0  # entries on disk
        self._buffer: list[Entry] = []  # spilled entries not yet written (one write per batch)
        self.spilled_total = 0  # entries that went through the file (for tests and figures)

    def qsize(self) -> int:
        """Entries waiting: in memory and on disk."""
        return self._queue.qsize() + self._spilled + len(self._buffer)

    def empty(self) -> bool:
        return self.qsize() == 0

    def put_nowait(self, entry: Entry) -> None:
        """Queue one entry (behind every entry queued before it)."""
        if self._spilled or self._buffer or self._queue.qsize() >= self.window:
            self._buffer.append(entry)
            if len(self._buffer) >= 256:
                self._flush()
        else:
            self._queue.put_nowait(entry)

    def extend(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.put_nowait(entry)

    async def get(self) -> Entry:
        """The oldest entry; refills the in-memory window from disk when it runs low."""
        entry = await self._queue.get()
        if (self._spilled or self._buffer) and self._queue.qsize() < self.window // 2:
            self._refill()
        return entry

    def task_done(self) -> None:
        self._queue.task_done()

    async def join(self) -> None:
        """Until every entry (on disk too) has been taken and marked done.

        A worker refills the window in `get`, before it calls `task_done` on the entry
        it took, so the in-memory queue is never finished while the file still holds
        entries.
        """
        await self._queue.join()

    def close(self) -> None:
        """Drop the file (and whatever it still holds)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._buffer.clear()
        self._spilled = self._read_at = self._write_at = 0

    def __enter__(self) -> PendingQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _flush(self) -> None:
        """Write the buffered entries at the end of the file."""
        if not self._buffer:
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="verdicts-pending-")  # noqa: SIM115 (closed by close())
        data = _pack(self._buffer)
        self._file.seek(self._write_at)
        self._file.write(data)
        self._write_at += len(data)
        self._spilled += len(self._buffer)
        self.spilled_total += len(self._buffer)
        self._buffer.clear()

    def _refill(self) -> None:
        """Move the oldest entries from disk (then the write buffer) into memory."""
        room = self.window - self._queue.qsize()
        if self._spilled and self._file is not None:
            self._file.seek(self._read_at)
            data = self._file.read(min(_READ_BYTES, self._write_at - self._read_at))
            at, size, head = 0, len(data), _HEAD.size
            unpack = _HEAD.unpack_from
            put = self._queue.put_nowait
            while room and self._spilled and at + head <= size:
                length, depth, kind = unpack(data, at)
                end = at + head + length
                if end > size:
                    if at:
                        break  # the rest of this record is read next time
                    data += self._file.read(end - size)  # one record longer than a read
                    size = len(data)
                url = data[at + head : end].decode("utf-8", "surrogatepass")
                put(Entry(url, depth, _KINDS[kind] if kind < len(_KINDS) else "other"))
                at = end
                room -= 1
                self._spilled -= 1
            self._read_at += at
            if not self._spilled:  # drained: the file starts again from its beginning
                self._file.truncate(0)
                self._read_at = self._write_at = 0
        if not self._spilled and self._buffer:  # entries newer than the file's, in order
            taken = self._buffer[:room]
            del self._buffer[:room]
            for entry in taken:
                self._queue.put_nowait(entry)
