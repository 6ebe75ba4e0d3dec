"""One writer per archive at a time: an OS file lock every writing command takes.

Two commands writing one archive at once damage each other's work even though SQLite
keeps the file consistent: a reparse judges a snapshot the crawl is committing as
stale, a crawl marks a live crawl's frontier interrupted. So crawl, reparse and any
schema upgrade (`db.archive.open_archive`) hold this lock while they write.

- `fcntl.flock` is released by the kernel when the last descriptor of the lock goes,
  so a SIGKILLed holder never leaves a stale lock.
- The lock follows the archive's resolved path (symlinks followed): two spellings of
  one archive are one lock. It lives in `<resolved archive>.lock`, a plain file path
  (no SQLite URI, so `#` and `?` in a name are just characters). Where that file cannot
  be created (a read-only directory) the database file itself is locked; that
  descriptor (`db.descriptors`) is never closed, only unlocked, because closing any
  descriptor of the database would drop the POSIX locks SQLite holds on it in this process.
- A child that must outlive its parent's death safely (the crawl's writer) inherits
  the descriptor (`fileno`): the lock is then held until both have exited.
- The file names the holders (pid and what they do), only for the waiting message.

A command that finds the lock held waits up to `timeout` seconds, saying so once on
stderr, then raises `ArchiveLocked` (timeout 0: at once; a stop signal ends the wait too).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from db.descriptors import database_descriptor

__all__ = ["DEFAULT_TIMEOUT", "ArchiveLock", "ArchiveLocked", "archive_lock", "held_here", "lock_path_for"]

#: Seconds a command waits for the lock by default: long enough for a crawl's writer to
#: store its last batch after the crawl died (a service restarting on failure), short
#: enough that a stuck command is noticed.
DEFAULT_TIMEOUT = 60.0
POLL_SECONDS = 0.1
_READ_ONLY = (errno.EACCES, errno.EROFS, errno.EPERM)
#: Locks held by this process: resolved lock path -> ArchiveLock.
_HELD: dict[str, ArchiveLock] = {}


class ArchiveLocked(Exception):
    """Another command holds the archive's lock (the message is one sentence)."""


def lock_path_for(db_path: str | Path) -> Path:
    """`<resolved archive path>.lock`: the same for every spelling of one archive."""
    resolved = Path(db_path).resolve()
    return resolved.with_name(resolved.name + ".lock")


def held_here(db_path: str | Path) -> bool:
    """Whether this process holds the lock of `db_path`."""
    return str(lock_path_for(db_path)) in _HELD


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class ArchiveLock:
    """An exclusive lock on one archive; a context manager (`acquire` / `release`)."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        timeout: float = 0.0,
        purpose: str = "crawl",
        notify: Callable[[str], None] = _say,
    ) -> None:
        self.db_path = Path(db_path)
        self.path = lock_path_for(db_path)
        self.timeout = timeout
        self.purpose = purpose
        self.notify = notify
        self._fd: int | None = None
        self._in_place = False  # locking the database file itself (read-only directory)

    def acquire(self, stop: threading.Event | None = None) -> None:
        """Take the lock, waiting up to `timeout` seconds; raises ArchiveLocked or OSError.

        `stop` set (a stop signal) ends the wait at once with ArchiveLocked."""
        fd = self._open()
        deadline = time.monotonic() + self.timeout
        said = False
        try:
            while True:
                try:
                    if self._in_place and str(self.path) in _HELD:
                        raise BlockingIOError  # one shared descriptor: flock alone would say yes
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = self._holder(fd)
                    if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                        raise ArchiveLocked(holder) from None
                    if not said:
                        self.notify(f"Waiting up to {self.timeout:g} s: {holder}.")
                        said = True
                    time.sleep(POLL_SECONDS)
        except BaseException:
            self._close(fd)
            raise
        self._fd = fd
        _HELD[str(self.path)] = self
        if not self._in_place:
            os.ftruncate(fd, 0)
            self.note(os.getpid(), self.purpose)

    def note(self, pid: int, role: str) -> None:
        """Name one more holder (a child that inherited the descriptor) in the lock file."""
        if self._fd is not None and not self._in_place:
            with contextlib.suppress(OSError):
                os.write(self._fd, f"{pid} {role}\n".encode())

    def fileno(self) -> int:
        """The lock's descriptor, for a child process to inherit (it then holds the lock too)."""
        if self._fd is None:
            raise ValueError("the archive lock is not held")
        return self._fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        _HELD.pop(str(self.path), None)
        if self._in_place:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return
        # Not emptied: a child still holding the lock is named there. The lock goes with
        # the last descriptor; the next holder rewrites the file.
        os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> ArchiveLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_APPEND, 0o644)
        except OSError as error:
            if error.errno not in _READ_ONLY:
                raise
            return self._open_database(error)
        self._in_place = False
        return fd

    def _open_database(self, error: OSError) -> int:
        """The database file's own descriptor, when no lock file can be made beside it."""
        try:
            fd = database_descriptor(self.db_path.resolve())
        except FileNotFoundError:
            raise error from None  # nothing to lock, and nothing could be written there
        self._in_place = True
        return fd

    def _close(self, fd: int) -> None:
        if not self._in_place:
            os.close(fd)

    def _holder(self, fd: int) -> str:
        """'another crawl is running on PATH (pid N)', naming a live holder when the file says."""
        holders: list[tuple[int, str]] = []
        if not self._in_place:
            with contextlib.suppress(OSError, ValueError):
                for line in os.pread(fd, 4096, 0).decode("ascii", "replace").splitlines():
                    pid, _, role = line.partition(" ")
                    holders.append((int(pid), role.strip() or "command"))
        if not holders:
            return f"another command is writing to {self.db_path}"
        (first, role), *children = holders
        if _alive(first) or not children:
            return f"another {role} is running on {self.db_path} (pid {first})"
        for pid, child in children:  # the holder died; a child it started still holds the lock
            if _alive(pid):
                return f"the {child} of a {role} that ended (pid {pid}) is still writing to {self.db_path}"
        return f"another {role} is running on {self.db_path} (pid {first})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def archive_lock(
    db_path: str | Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    purpose: str = "command",
    reentrant: bool = False,
) -> Iterator[ArchiveLock | None]:
    """Hold the archive's lock for the block (`reentrant`: a no-op when this process holds it).

    Raises ArchiveLocked when another command keeps it past `timeout` seconds.
    """
    if reentrant and held_here(db_path):
        yield _HELD[str(lock_path_for(db_path))]
        return
    lock = ArchiveLock(db_path, timeout=timeout, purpose=purpose)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
