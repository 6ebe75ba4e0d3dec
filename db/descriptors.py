"""Reading a database file outside SQLite without dropping this process's SQLite locks.

SQLite locks a database with POSIX record locks, and the kernel drops every such lock a
process holds on a file as soon as the process closes *any* descriptor of that file. A
plain `open(db).read(100); close()` in a process with SQLite connections to the same
file (the open-time check in `serve`, on every streamed download) released their shared
lock; a crawl's writer, closing, then saw itself as the last user, checkpointed and
deleted the WAL under them, and from then on every read in that process said "database
disk image is malformed".

So a descriptor this project opens on a database file is closed only when no other
descriptor of this process refers to the file (then no SQLite connection here can hold a
lock on it); otherwise it is kept, for the process's life, and reused. The project's
connections are opened under `OPENING` too, so none appears between that look and the close.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

#: Held while a database file is read outside SQLite, and while the project opens an
#: SQLite connection (db.archive), so a connection cannot appear between the look at this
#: process's descriptors and the close of one.
OPENING = threading.RLock()
#: (device, inode) of a database file -> a descriptor kept for the process's life.
_KEPT: dict[tuple[int, int], int] = {}
_FD_DIR = "/proc/self/fd"


def read_start(path: str | Path, size: int) -> tuple[bytes, int]:
    """The first `size` bytes of the file at `path` and its length, read without a close that
    could drop this process's locks on it.

    Raises FileNotFoundError when there is no file, IsADirectoryError for a directory.
    """
    with OPENING:
        fd, kept = _descriptor(path)
        try:
            return os.pread(fd, size, 0), os.fstat(fd).st_size
        finally:
            if not kept:
                os.close(fd)


def database_descriptor(path: str | Path) -> int:
    """A read-only descriptor of the database file at `path`, never to be closed (the lock
    taken in place of a lock file holds it)."""
    with OPENING:
        fd, kept = _descriptor(path)
        if not kept:
            info = os.fstat(fd)
            _KEPT[(info.st_dev, info.st_ino)] = fd
        return fd


def _descriptor(path: str | Path) -> tuple[int, bool]:
    """A descriptor of `path`, and whether it must stay open (kept: never close it)."""
    info = os.stat(path)  # opens nothing
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    kept = _KEPT.get((info.st_dev, info.st_ino))
    if kept is not None:
        return kept, True
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    opened = os.fstat(fd)
    key = (opened.st_dev, opened.st_ino)  # the name may point elsewhere since the stat
    if key in _KEPT or _open_elsewhere(fd, key):
        _KEPT.setdefault(key, fd)
        return fd, True
    return fd, False


def _open_elsewhere(fd: int, key: tuple[int, int]) -> bool:
    """Whether another descriptor of this process refers to the file `key` (True when this
    cannot be known: then keeping the descriptor is the safe side)."""
    try:
        names = os.listdir(_FD_DIR)
    except OSError:
        return True
    for name in names:
        if name == str(fd):
            continue
        try:
            info = os.stat(f"{_FD_DIR}/{name}")
        except OSError:  # closed meanwhile, or the listing's own descriptor
            continue
        if (info.st_dev, info.st_ino) == key:
            return True
    return False
