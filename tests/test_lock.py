"""The archive lock (db/lock.py): one writing command per archive, whatever the path's spelling,
held by the crawl's writer too, waited for or refused by flag."""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.engine import WriterProcess
from db import lock as lock_module
from db.archive import open_archive
from db.lock import ArchiveLock, ArchiveLocked, archive_lock, lock_path_for
from db.publish import make_datasette
from db.reparse import run_reparse


def make_archive(path: Path) -> Path:
    open_archive(path).close()
    return path


def test_a_symlinked_path_shares_the_archives_lock(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    real = make_archive(tmp_path / "real" / "archive.db")
    link = tmp_path / "link.db"
    link.symlink_to(real)
    folder_link = tmp_path / "folder"
    folder_link.symlink_to(tmp_path / "real")
    assert lock_path_for(link) == lock_path_for(real) == lock_path_for(folder_link / "archive.db")
    with ArchiveLock(real, purpose="crawl"):
        for other in (link, folder_link / "archive.db", tmp_path / "real" / ".." / "real" / "archive.db"):
            with pytest.raises(ArchiveLocked, match="another crawl is running"):
                ArchiveLock(other).acquire()
    with ArchiveLock(link):  # released: free again
        pass


@pytest.mark.parametrize("name", ["a#b.db", "a?b.db", "with space%20.db"])
def test_odd_characters_in_the_path_lock_that_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with ArchiveLock(path):
        assert (tmp_path / f"{name}.lock").is_file()
        with pytest.raises(ArchiveLocked):
            ArchiveLock(path).acquire()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.lock"]


def test_a_read_only_folder_locks_the_database_file_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "archive.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    real_open = os.open

    def no_lock_file(target: str | Path, flags: int, mode: int = 0o777) -> int:
        if str(target).endswith(".lock"):  # what a read-only folder answers (root ignores chmod)
            raise PermissionError(errno.EACCES, "Permission denied", str(target))
        return real_open(target, flags, mode)

    monkeypatch.setattr(lock_module.os, "open", no_lock_file)
    first = ArchiveLock(path)
    first.acquire()
    with pytest.raises(ArchiveLocked, match=f"writing to {path}"):
        ArchiveLock(tmp_path / "." / "archive.db").acquire()
    # SQLite still works in this process: the database's descriptor was not closed
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    first.release()
    with ArchiveLock(path):
        pass
    assert not (tmp_path / "archive.db.lock").exists()
    with pytest.raises(PermissionError):  # nothing to lock and nowhere to write: a clear OSError
        ArchiveLock(tmp_path / "missing.db").acquire()


def test_a_held_lock_is_waited_for_then_refused(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    said: list[str] = []
    with ArchiveLock(path, purpose="reparse"):
        started = time.monotonic()
        with pytest.raises(ArchiveLocked) as caught:
            ArchiveLock(path, timeout=0.4, notify=said.append).acquire()
        assert time.monotonic() - started >= 0.4
        assert str(caught.value) == f"another reparse is running on {path} (pid {os.getpid()})"
        assert said == [f"Waiting up to 0.4 s: another reparse is running on {path} (pid {os.getpid()})."]
        said.clear()
        with pytest.raises(ArchiveLocked):
            ArchiveLock(path, timeout=0, notify=said.append).acquire()
        assert said == []  # 0: refused at once, no waiting message


def test_a_waiting_command_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    holder = ArchiveLock(path)
    holder.acquire()
    threading.Timer(0.3, holder.release).start()
    said: list[str] = []
    with ArchiveLock(path, timeout=30, notify=said.append) as waited:
        assert waited.held
    assert len(said) == 1


_HOLD = (
    "import sys; from db.lock import ArchiveLock; lock = ArchiveLock(sys.argv[1], purpose='crawl'); "
    "lock.acquire(); print('ready', flush=True); sys.stdin.read()"
)


@contextlib.contextmanager
def held_elsewhere(path: Path) -> Iterator[subprocess.Popen[str]]:
    """The archive lock held by another process for the block (it lets go at end of stdin)."""
    root = str(Path(__file__).resolve().parent.parent)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        yield holder
    finally:
        holder.kill()
        holder.wait(10)
        for stream in (holder.stdin, holder.stdout):
            if stream is not None:
                stream.close()


def test_the_lock_of_a_dead_process_is_free_at_once(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    with held_elsewhere(path) as holder:
        with pytest.raises(ArchiveLocked, match=rf"another crawl is running on .* \(pid {holder.pid}\)"):
            ArchiveLock(path).acquire()
        holder.kill()  # SIGKILL: no cleanup
        holder.wait(10)
        with ArchiveLock(path):
            pass


def test_the_crawls_writer_holds_the_lock_until_it_exits(tmp_path: Path) -> None:
    """A crawl that died leaves its writer storing: the next crawl must not start before it ends."""
    path = make_archive(tmp_path / "archive.db")
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO crawls (site, start_urls, started_at, status) VALUES ('s', '[]', 'now', 'running')"
    )
    db.commit()
    db.close()
    lock = ArchiveLock(path, purpose="crawl")
    lock.acquire()
    ours, theirs = multiprocessing.Pipe(duplex=True)
    writer = WriterProcess(theirs, str(path), 1, lock)
    theirs.close()
    try:
        lock.release()  # as if the crawl process had died: only the writer holds it now
        with pytest.raises(ArchiveLocked, match=f"another crawl is running on {path}"):
            ArchiveLock(path, timeout=0).acquire()
        ours.close()  # end of file: the writer stores what it has and exits
        writer.join(30)
        assert not writer.is_alive()
        with ArchiveLock(path, timeout=5):
            pass
    finally:
        if writer.is_alive():
            writer.kill()


def test_reparse_takes_the_lock(tmp_path: Path) -> None:
    path = make_archive(tmp_path / "archive.db")
    with ArchiveLock(path, purpose="crawl"):
        with pytest.raises(ArchiveLocked, match="another crawl is running"):
            run_reparse(path, workers=1, lock_timeout=0)
        result = CliRunner().invoke(cli, ["reparse", "--db", str(path), "--lock-timeout", "0"])
        assert result.exit_code == 1
        assert f"Error: another crawl is running on {path} (pid {os.getpid()})." in result.output
        assert "Traceback" not in result.output
    assert run_reparse(path, workers=1, lock_timeout=0) == 0


def test_serve_upgrades_an_old_archive_only_under_the_lock(tmp_path: Path) -> None:
    path = make_archive(tmp_path / "archive.db")
    has_view = "SELECT count(*) FROM sqlite_master WHERE name = 'parse_health'"
    with held_elsewhere(path):
        make_datasette(path)  # current: served at once while a crawl writes
        db = sqlite3.connect(path)
        db.execute("DROP VIEW parse_health")  # an older archive: its upgrade writes
        db.commit()
        db.close()
        with pytest.raises(ArchiveLocked):
            make_datasette(path, lock_timeout=0)
        assert sqlite3.connect(path).execute(has_view).fetchone() == (0,)
    make_datasette(path, lock_timeout=0)
    assert sqlite3.connect(path).execute(has_view).fetchone() == (1,)


def test_a_nested_upgrade_inside_a_held_lock_does_not_wait(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    with archive_lock(path, timeout=0, purpose="crawl"):
        open_archive(path, lock_timeout=0).close()  # the schema upgrade reuses this process's lock


def test_an_orphan_writer_is_named_while_it_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    holder = ArchiveLock(path, purpose="crawl")
    holder.acquire()
    try:
        os.ftruncate(holder.fileno(), 0)  # what the file says once the crawl (dead_pid) died
        holder.note(dead_pid, "crawl")
        holder.note(os.getpid(), "writer")
        with pytest.raises(ArchiveLocked) as caught:
            ArchiveLock(path).acquire()
        assert str(caught.value) == (
            f"the writer of a crawl that ended (pid {os.getpid()}) is still writing to {path}"
        )
    finally:
        holder.release()
