"""A full disk: a crawl under a file-size limit (RLIMIT_FSIZE) stops with a clear error, the
archive stays intact, and the next run completes it to what one clean crawl holds.

The limit is set in the crawl's own process (and so its writer's), never in the test's:
SQLite then sees EFBIG on the write that crosses it, as it sees ENOSPC on a full disk.
"""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.demo import DEMO_SITE
from crawler.static_server import StaticServer
from db.archive import open_archive
from tests.archive_compare import archive_content, differences, integrity_problems


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    with StaticServer(DEMO_SITE) as server:
        yield server.origin


def verdicts(*args: str, file_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """`verdicts ARGS` in a child process, its files capped at `file_limit` bytes if given."""

    def limit() -> None:
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    command = [sys.executable, "-m", "crawler.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, preexec_fn=limit, timeout=300)


@pytest.fixture(scope="module")
def clean(origin: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, set]:
    path = tmp_path_factory.mktemp("clean") / "archive.db"
    assert verdicts("crawl", f"{origin}/", "--db", str(path), "--delay", "0").returncode == 0
    return archive_content(path)


@pytest.fixture(scope="module")
def stopped(
    origin: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess]:
    """An archive whose crawl ran out of room: created first, then crawled with 64 KB to spare."""
    path = tmp_path_factory.mktemp("full") / "archive.db"
    open_archive(path).close()
    room = path.stat().st_size + 64 * 1024
    run = verdicts("crawl", f"{origin}/", "--db", str(path), "--delay", "0", file_limit=room)
    return path, run


def test_a_crawl_out_of_room_stops_with_a_clear_error(
    stopped: tuple[Path, subprocess.CompletedProcess],
) -> None:
    path, run = stopped
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "disk full or file-size limit" in output and str(path) in output
    assert "Traceback" not in output
    conn = sqlite3.connect(path)
    status, error = conn.execute("SELECT status, error FROM crawls ORDER BY id DESC LIMIT 1").fetchone()
    conn.close()
    assert status == "failed" and "disk full or file-size limit" in error


def test_the_archive_out_of_room_stays_intact_and_the_next_run_completes_it(
    origin: str, stopped: tuple[Path, subprocess.CompletedProcess], clean: dict[str, set]
) -> None:
    path, _ = stopped
    assert integrity_problems(path) == []
    run = verdicts("crawl", f"{origin}/", "--db", str(path), "--delay", "0")
    assert run.returncode == 0, run.stdout + run.stderr
    assert integrity_problems(path) == []
    assert differences(archive_content(path), clean) == {}


@pytest.mark.parametrize("spare_kb", [0, 64])
def test_the_run_after_a_full_disk_resumes_the_stopped_crawl(
    origin: str, tmp_path: Path, clean: dict[str, set], spare_kb: int
) -> None:
    """The first transaction of pages does not fit: the crawl's frontier, committed before
    any page, does; so the next run resumes the failed crawl and completes it."""
    path = tmp_path / "archive.db"
    open_archive(path).close()
    room = path.stat().st_size + spare_kb * 1024
    assert verdicts("crawl", f"{origin}/", "--db", str(path), "--delay", "0", file_limit=room).returncode == 1
    conn = sqlite3.connect(path)
    status, resumable = conn.execute("SELECT status, resumable FROM crawls WHERE id = 1").fetchone()
    queued = conn.execute("SELECT count(*) FROM frontier WHERE crawl_id = 1 AND state = 'queued'").fetchone()
    conn.close()
    assert (status, resumable) == ("failed", 1) and queued[0] > 0
    run = verdicts("crawl", f"{origin}/", "--db", str(path), "--delay", "0")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "completed (resumed crawl 1)" in run.stdout
    assert integrity_problems(path) == []
    assert differences(archive_content(path), clean) == {}


def test_a_checkpoint_cut_short_by_a_full_disk_is_not_taken_for_truncation(tmp_path: Path) -> None:
    """A checkpoint that could not grow the file leaves page 1 counting more pages than the
    file holds, while the WAL still holds them: the archive is intact and must open."""
    from db.archive import check_archive

    path = tmp_path / "archive.db"
    open_archive(path).close()
    keep = sqlite3.connect(path)  # holds the WAL open: closing would checkpoint it
    keep.execute("PRAGMA wal_autocheckpoint=0")
    keep.execute("CREATE TABLE filler (x BLOB)")
    keep.executemany("INSERT INTO filler VALUES (?)", [(bytes(4000),)] * 200)
    keep.commit()
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[28:32] = (len(data) // page_size + 50).to_bytes(4, "big")  # as a cut-short checkpoint leaves it
    data[92:96] = data[24:28]
    path.write_bytes(bytes(data))
    check_archive(path)  # no "is truncated"
    assert integrity_problems(path) == []
    keep.close()
