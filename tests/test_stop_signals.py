"""SIGTERM at any moment of a crawl stops it cleanly: the exit code says what the archive says.

Each test runs `verdicts crawl` as a real process in its own process group and sends
SIGTERM to the whole group (as a service stop or Ctrl+C does) at one phase: while it
waits for the archive lock, while its writer process starts, mid-crawl, once every page
is fetched but the writer still holds the last ones, and after the summary is printed.
The contract: exit 130 with the crawl `interrupted` (the next crawl resumes it), or 0
with it `completed`; never killed by the signal (-15), never `failed`; the archive
intact and the next crawl completing the site.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.demo import DEMO_SITE
from crawler.static_server import StaticServer
from db.lock import ArchiveLock
from tests.archive_compare import integrity_problems
from tests.test_resume import FIXTURES, children, query, verdicts, wait_for

EXIT_FOR = {"interrupted": 130, "completed": 0}


@pytest.fixture(scope="module")
def server() -> Iterator[StaticServer]:
    with StaticServer(DEMO_SITE) as running:
        yield running


def start(origin: str, db_path: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "crawler.cli", "crawl", f"{origin}/", "--db", str(db_path), *extra]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def terminate_group(process: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM to the crawl's whole process group, then its output once it has exited."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def first_child(pid: int) -> int:
    """The crawl's writer: its first child process, as soon as it is forked."""
    found: list[int] = []

    def forked() -> bool:
        found[:] = sorted(children(pid))
        return bool(found)

    wait_for(forked, timeout=60, every=0.001)
    return found[0]


def statuses(db_path: Path) -> list[str]:
    return [status for (status,) in query(db_path, "SELECT status FROM crawls ORDER BY id")]


def assert_stopped_cleanly(process: subprocess.Popen[str], out: str, err: str, db_path: Path) -> str:
    """The exit code matches the crawl's row, the archive is intact; returns the status."""
    assert process.returncode in (0, 130), f"exit {process.returncode}: {err[-2000:]}"
    assert "Traceback" not in err
    (status,) = statuses(db_path)
    assert process.returncode == EXIT_FOR[status], (status, out)
    assert not integrity_problems(db_path)
    return status


def assert_next_crawl_completes(origin: str, db_path: Path, resumes: bool | None) -> None:
    """`resumes`: whether it must say it resumed crawl 1 (None: either)."""
    again = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", f"{origin}/", "--db", str(db_path), "--delay", "0"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    if resumes is not None:
        assert ("(resumed crawl 1)" in again.stdout) is resumes, again.stdout
    site = json.loads((FIXTURES / "expected" / "site.json").read_text(encoding="utf-8"))
    assert query(db_path, "SELECT count(*) FROM comparisons")[0][0] == site["counts"]["comparisons"]


def test_sigterm_while_waiting_for_the_lock_stops_at_once_and_writes_nothing(
    server: StaticServer, archive_path: Path
) -> None:
    with ArchiveLock(archive_path, purpose="reparse"):
        crawl = start(server.origin, archive_path, "--lock-timeout", "600")
        assert crawl.stderr is not None
        assert "Waiting up to 600 s: another reparse is running" in crawl.stderr.readline()
        _out, err = terminate_group(crawl)
    assert crawl.returncode == 130, err
    assert "Stopped by a signal while waiting for the archive lock" in err
    assert "Traceback" not in err
    assert not archive_path.exists()  # nothing written, not even an empty archive


def test_sigterm_while_the_writer_starts_is_a_clean_stop(server: StaticServer, archive_path: Path) -> None:
    crawl = start(server.origin, archive_path, "--delay", "0.2", "--per-host", "1")
    first_child(crawl.pid)  # the writer's interpreter is starting: the group's SIGTERM reaches it
    out, err = terminate_group(crawl)
    assert assert_stopped_cleanly(crawl, out, err, archive_path) == "interrupted"
    assert_next_crawl_completes(server.origin, archive_path, resumes=None)


def test_sigterm_mid_crawl_stops_after_the_pages_in_flight(server: StaticServer, archive_path: Path) -> None:
    crawl = start(server.origin, archive_path, "--delay", "0.2", "--per-host", "1")
    done = "SELECT count(*) FROM frontier WHERE state = 'done'"
    wait_for(lambda: bool(query(archive_path, done)) and query(archive_path, done)[0][0] > 0, timeout=120)
    out, err = terminate_group(crawl)
    assert assert_stopped_cleanly(crawl, out, err, archive_path) == "interrupted"
    assert "interrupted" in out
    assert_next_crawl_completes(server.origin, archive_path, resumes=True)


def test_sigterm_once_every_page_is_fetched_keeps_the_last_pages(
    server: StaticServer, archive_path: Path, tmp_path: Path
) -> None:
    asked = len(server.requests)
    reference = subprocess.run(
        verdicts("crawl", f"{server.origin}/", "--db", str(tmp_path / "ref.db"), "--delay", "0"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert reference.returncode == 0, reference.stderr
    requests = len(server.requests) - asked  # what one whole crawl of the site asks
    asked = len(server.requests)
    crawl = start(server.origin, archive_path, "--delay", "0")
    writer = first_child(crawl.pid)
    # once its first frontier is committed, the writer is stopped: every page fetched from
    # then on waits for it in the pipe (the site fits in its buffers)
    wait_for(lambda: bool(query(archive_path, "SELECT 1 FROM frontier LIMIT 1")), timeout=120)
    os.kill(writer, signal.SIGSTOP)
    try:
        wait_for(lambda: len(server.requests) - asked >= requests, timeout=120)
        os.killpg(crawl.pid, signal.SIGTERM)
    finally:
        os.kill(writer, signal.SIGCONT)
    out, err = terminate_group(crawl)  # a second SIGTERM changes nothing either
    status = assert_stopped_cleanly(crawl, out, err, archive_path)
    if status == "completed":  # the loop had seen its last page before the signal: all stored
        site = json.loads((FIXTURES / "expected" / "site.json").read_text(encoding="utf-8"))
        assert query(archive_path, "SELECT count(*) FROM comparisons")[0][0] == site["counts"]["comparisons"]
    assert_next_crawl_completes(server.origin, archive_path, resumes=status == "interrupted")


def test_sigterm_after_the_summary_still_exits_with_the_crawls_code(
    server: StaticServer, archive_path: Path
) -> None:
    crawl = start(server.origin, archive_path, "--delay", "0")
    assert crawl.stdout is not None
    line = crawl.stdout.readline()
    while line and not line.startswith("Crawl 1 of"):
        line = crawl.stdout.readline()
    assert line.startswith("Crawl 1 of command line: completed"), line
    _out, err = terminate_group(crawl)  # the process is shutting down
    assert crawl.returncode == 0, err
    assert statuses(archive_path) == ["completed"]
