"""Kill and resume: a SIGKILLed crawl leaves no lock and no writer, and the next one picks up.

Crawls run as real `verdicts crawl` subprocesses against the bundled site on loopback;
the static server's request log proves which pages the resumed crawl asked for again.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from crawler.static_server import StaticServer
from db.lock import DEFAULT_TIMEOUT, ArchiveLock, lock_path_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def verdicts(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", *args]


def crawl(origin: str, db_path: Path, *options: str) -> list[str]:
    """The `verdicts crawl` command of `origin`'s site into `db_path`."""
    return verdicts("crawl", f"{origin}/", "--db", str(db_path), *options)


def slow_crawl(origin: str, db_path: Path, delay: float = 0.2) -> subprocess.Popen[str]:
    """A crawl slowed by its politeness delay, so it can be caught mid-way."""
    command = crawl(origin, db_path, "--delay", str(delay), "--per-host", "1")
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextmanager
def killed_crawl(origin: str, db_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A slow crawl, SIGKILLed (no cleanup of any kind) when the block ends."""
    first = slow_crawl(origin, db_path)
    try:
        yield first
        first.kill()
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        first.stdout.close()  # type: ignore[union-attr]
        first.stderr.close()  # type: ignore[union-attr]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every)


def query(db_path: Path, sql: str, *params: object) -> list[tuple]:
    if not db_path.exists():
        return []
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # schema not created yet
        return []
    finally:
        conn.close()


def done_pages(db_path: Path, crawl_id: int) -> set[str]:
    rows = query(
        db_path,
        "SELECT url FROM frontier WHERE crawl_id = ? AND state = 'done' AND kind = 'html'",
        crawl_id,
    )
    return {url for (url,) in rows}


def assert_resumed_crawl_1(out: str, db_path: Path) -> None:
    """The second crawl said it resumed the killed one, which the archive holds as interrupted."""
    assert "Crawl 2 of command line: completed (resumed crawl 1)" in out
    assert query(db_path, "SELECT id, status FROM crawls ORDER BY id") == [
        (1, "interrupted"),
        (2, "completed"),
    ]


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(child) for child in text)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"


def test_killed_crawl_resumes_without_refetching_finished_pages(
    server: StaticServer, archive_path: Path
) -> None:
    with killed_crawl(server.origin, archive_path) as first:
        wait_for(lambda: len(done_pages(archive_path, 1)) >= 6)
        helpers = children(first.pid)
        assert helpers, "the writer runs in a child process"
    # The orphaned writer stores what it received, then exits; the lock is held until then
    # (and until the kernel has closed its descriptors, a moment after /proc shows it gone),
    # so the next command waits for it, as a crawl does for --lock-timeout.
    with ArchiveLock(archive_path, timeout=DEFAULT_TIMEOUT):
        assert not any(alive(pid) for pid in helpers), "the lock is free only once the writer is gone"
    assert query(archive_path, "SELECT status FROM crawls") == [("running",)]
    finished = done_pages(archive_path, 1)
    queued = query(archive_path, "SELECT count(*) FROM frontier WHERE state = 'queued'")[0][0]
    assert finished and queued, "the kill should land mid-crawl"
    asked_before = len(server.requests)

    second = subprocess.run(
        crawl(server.origin, archive_path, "--delay", "0"), capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    assert_resumed_crawl_1(second.stdout, archive_path)
    unconditional = {server.origin + r.path for r in server.requests[asked_before:] if not r.conditional}
    assert not finished & unconditional
    # and nothing was lost: every comparison the site holds is in the archive
    comparisons = query(archive_path, "SELECT count(*) FROM comparisons")[0][0]
    site = json.loads((FIXTURES / "expected" / "site.json").read_text(encoding="utf-8"))
    assert comparisons == site["counts"]["comparisons"]


def test_a_second_crawl_on_the_same_archive_is_refused_and_sigterm_stops_cleanly(
    server: StaticServer, archive_path: Path
) -> None:
    # slow enough (~45 s for the site) that the signal lands mid-crawl however long the
    # second command takes to start on a loaded machine (tests/test_stop_signals.py: the
    # other moments a signal may come)
    first = slow_crawl(server.origin, archive_path, delay=1.0)
    lock_file = lock_path_for(archive_path)
    try:
        wait_for(lambda: lock_file.exists() and lock_file.read_text().startswith(f"{first.pid} crawl\n"))
        wait_for(lambda: bool(done_pages(archive_path, 1)))
        second = subprocess.run(
            crawl(server.origin, archive_path, "--lock-timeout", "0"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        message = f"another crawl is running on {archive_path} (pid {first.pid})"
        assert message in second.stderr
        assert "Traceback" not in second.stderr

        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 130, err
    assert "interrupted" in out
    assert query(archive_path, "SELECT status FROM crawls") == [("interrupted",)]
    with ArchiveLock(archive_path):
        pass


def test_the_next_crawl_waits_for_the_orphaned_writer_of_a_killed_crawl(
    server: StaticServer, archive_path: Path
) -> None:
    """The crawl dies (SIGKILL) while its writer still has pages to store: the next crawl
    waits for that writer, saying so, then resumes what it committed."""
    with killed_crawl(server.origin, archive_path) as first:
        wait_for(lambda: bool(done_pages(archive_path, 1)))
        (writer,) = children(first.pid)
        os.kill(writer, signal.SIGSTOP)  # a writer slow to store its last batch
    second = subprocess.Popen(
        crawl(server.origin, archive_path, "--delay", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert second.stderr is not None
        said = second.stderr.readline()
        assert said.startswith(f"Waiting up to 60 s: the writer of a crawl that ended (pid {writer})"), said
        assert second.poll() is None and alive(writer)
    finally:
        os.kill(writer, signal.SIGCONT)  # it sees the end of its pipe, commits and exits
    out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err
    assert not alive(writer)
    assert_resumed_crawl_1(out, archive_path)
