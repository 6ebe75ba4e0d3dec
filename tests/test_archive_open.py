"""Opening an archive: quoted SQLite URIs, and corrupt or newer archives refused by every command."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from db.archive import (
    ArchiveError,
    check_archive,
    connect_read_only,
    connect_sqlite,
    open_archive,
    sqlite_uri,
)
from db.publish import make_datasette

AWKWARD_NAMES = ["a#b.db", "a?b.db", "a%23b.db", "a b.db", "a?mode=rwc#x.db", "100%.db"]


def make_archive(path: Path) -> None:
    """A real, current archive (every migration applied), checkpointed into its file."""
    db = open_archive(path)
    db.execute("INSERT INTO crawls (site, start_urls, started_at, status) VALUES ('s', '[]', 'now', 'x')")
    db.conn.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


# ---- URIs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_read_only_connection_opens_the_named_file_and_only_it(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    plain = sqlite3.connect(str(path))  # the plain API takes a name, not a URI
    plain.execute("CREATE TABLE t (x)")
    plain.execute("INSERT INTO t VALUES ('in the right file')")
    plain.commit()
    plain.close()
    before = sorted(p.name for p in tmp_path.iterdir())

    conn = connect_read_only(path)
    try:
        assert conn.execute("SELECT x FROM t").fetchall() == [("in the right file",)]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("INSERT INTO t VALUES ('written')")
    finally:
        conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no `a` created beside it


def test_uri_quotes_what_sqlite_would_read_as_syntax(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "a#b?c%d e.db", mode="ro")
    assert uri == f"file://{tmp_path}/a%23b%3Fc%25d%20e.db?mode=ro"
    assert sqlite_uri("rel.db", immutable="1").endswith("/rel.db?immutable=1")


def test_no_module_builds_a_file_uri_by_hand() -> None:
    root = Path(__file__).resolve().parent.parent
    offenders = [
        str(path.relative_to(root))
        for folder in ("crawler", "db", "parsers", "bench")
        for path in (root / folder).rglob("*.py")
        if 'f"file:' in path.read_text() or "'file:" in path.read_text()
    ]
    assert offenders == ["db/archive.py"]  # sqlite_uri, the one place


@pytest.mark.parametrize("name", ["a#b.db", "a?b.db"])
def test_commands_work_on_an_archive_with_an_awkward_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    make_archive(path)
    result = CliRunner().invoke(cli, ["export", "crawls", "--db", str(path), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert '"site": "s"' in result.output
    assert all(p.name.startswith(name) for p in tmp_path.iterdir())  # (WAL's -wal/-shm beside it)


async def test_datasette_serves_an_archive_with_an_awkward_name(tmp_path: Path) -> None:
    path = tmp_path / "a#b.db"
    make_archive(path)
    ds = make_datasette(path)
    response = await ds.client.get("/archive/crawls.json?_shape=array")
    assert response.status_code == 200
    assert [row["site"] for row in response.json()] == ["s"]
    assert not (tmp_path / "a").exists()


# ---- corrupt and newer archives -----------------------------------------------------------------


def truncated(path: Path) -> Path:
    make_archive(path)
    data = path.read_bytes()
    assert len(data) > 8192
    path.write_bytes(data[: len(data) // 2])
    return path


def not_sqlite(path: Path) -> Path:
    path.write_bytes(b"PK\x03\x04 this is a zip file, or anything but an archive\n" * 100)
    return path


def tiny(path: Path) -> Path:
    path.write_bytes(b"SQLite format 3\x00\x10\x00")
    return path


def from_the_future(path: Path) -> Path:
    make_archive(path)
    conn = sqlite3.connect(str(path))
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('verdict-archive', '9999_from_a_newer_version', 'later')"
    )
    conn.commit()
    conn.close()
    return path


BROKEN = {
    "truncated": (truncated, "is truncated"),
    "not SQLite": (not_sqlite, "is not an SQLite archive"),
    "shorter than a header": (tiny, "is truncated"),
    "newer schema": (from_the_future, "newer verdict-archive"),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_check_archive_names_the_file_and_what_is_wrong(tmp_path: Path, kind: str) -> None:
    make, message = BROKEN[kind]
    path = make(tmp_path / "archive.db")
    with pytest.raises(ArchiveError, match=message) as raised:
        check_archive(path)
    assert str(path) in str(raised.value)
    for opener in (connect_sqlite, connect_read_only, open_archive):
        with pytest.raises(ArchiveError):
            opener(path)


def test_a_missing_or_empty_file_is_a_new_archive(tmp_path: Path) -> None:
    check_archive(tmp_path / "nothing.db")
    (tmp_path / "empty.db").write_bytes(b"")
    check_archive(tmp_path / "empty.db")
    make_archive(tmp_path / "good.db")
    check_archive(tmp_path / "good.db")
    # the lock file is the one made by creating good.db (db/lock.py)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "good.db", "good.db.lock"]


COMMANDS = {
    "crawl": ["crawl", "http://127.0.0.1:9/"],
    "reparse": ["reparse", "--workers", "1"],
    "serve": ["serve", "--port", "0"],
    "export": ["export", "pages"],
    "export --sql": ["export", "--sql", "select 1"],
    "snapshot": ["snapshot", "http://127.0.0.1:9/"],
    "demo": ["demo", "--no-serve", "--site-port", "0"],
    "warc export": ["warc", "export", "--output", "{tmp}/out.warc.gz"],
}


@pytest.mark.parametrize("kind", BROKEN)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_a_broken_archive_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, command: str
) -> None:
    import uvicorn

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a broken archive was served")

    monkeypatch.setattr(uvicorn, "run", never)
    make, message = BROKEN[kind]
    path = make(tmp_path / "archive.db")
    before = path.read_bytes()
    args = [arg.format(tmp=tmp_path) for arg in COMMANDS[command]]
    result = CliRunner().invoke(cli, [*args, "--db", str(path)])
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, AssertionError)
    assert message in result.output and str(path) in result.output
    assert "Traceback" not in result.output
    assert path.read_bytes() == before
    sidecars = {p.name for p in tmp_path.iterdir()} - {"archive.db", "archive.db.lock"}
    assert sidecars == set()


# ---- the check keeps this process's SQLite locks -----------------------------------------------


def close_a_writer_elsewhere(path: Path) -> None:
    """Another process writes the archive and closes: the last user of the file would
    checkpoint and delete the WAL."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL');"
        " c.execute('CREATE TABLE IF NOT EXISTS elsewhere (x)');"
        " c.execute('INSERT INTO elsewhere VALUES (1)');"
        " c.commit(); c.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)


def test_checking_an_archive_this_process_reads_keeps_its_wal(tmp_path: Path) -> None:
    """A reader here holds its lock through the check: a writer closing elsewhere is not the
    last user, so the WAL stays, and the reader (and the next connection) read on."""
    path = tmp_path / "archive.db"
    make_archive(path)
    reader = connect_read_only(path)
    assert reader.execute("SELECT count(*) FROM crawls").fetchone() == (1,)
    for _ in range(3):
        check_archive(path)  # as each streamed download of `serve` does
        close_a_writer_elsewhere(path)
        assert Path(f"{path}-wal").exists()
        assert reader.execute("SELECT count(*) FROM crawls").fetchone() == (1,)
        assert reader.execute("SELECT count(*) FROM elsewhere").fetchone()[0] >= 1
    second = connect_read_only(path)
    assert second.execute("SELECT count(*) FROM elsewhere").fetchone() == (3,)
    second.close()
    reader.close()


def descriptors_of(path: Path) -> int:
    target = path.stat()
    count = 0
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            info = os.stat(f"/proc/self/fd/{name}")
            count += (info.st_dev, info.st_ino) == (target.st_dev, target.st_ino)
    return count


def test_the_check_keeps_no_descriptor_of_a_file_nobody_here_has_open(tmp_path: Path) -> None:
    paths = [tmp_path / f"a{n}.db" for n in range(5)]
    for path in paths:
        make_archive(path)
        check_archive(path)
        assert descriptors_of(path) == 0
    conn = connect_read_only(paths[0])
    check_archive(paths[0])  # kept now (closing it would drop the connection's locks)...
    kept = descriptors_of(paths[0])
    for _ in range(5):
        check_archive(paths[0])
    assert descriptors_of(paths[0]) == kept  # ...and reused, never one more per check
    conn.close()
