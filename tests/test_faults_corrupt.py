"""A file damaged past its header: SQLite finds the damage only when a command reads the
damaged page, so the open-time check (tests/test_archive_open.py) cannot refuse it. Each
command that meets it must still stop with one sentence naming the file, not a traceback.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from crawler.cli import cli
from db.archive import open_archive


def damaged_archive(path: Path) -> Path:
    """An archive whose `tools` table has its root page overwritten with noise."""
    db = open_archive(path)
    db["tools"].insert_all(
        {"id": f"t{n}", "name": f"tool {n}", "first_seen": "2026", "last_seen": "2026"} for n in range(500)
    )
    db.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=DELETE")  # everything in the one file
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'tools'").fetchone()
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    data = bytearray(path.read_bytes())
    data[(root - 1) * page_size : root * page_size] = bytes(range(256)) * (page_size // 256)
    path.write_bytes(bytes(data))
    return path


def test_export_of_a_damaged_table_names_the_file(tmp_path: Path) -> None:
    path = damaged_archive(tmp_path / "archive.db")
    result = CliRunner().invoke(cli, ["export", "tools", "--db", str(path)])
    assert result.exit_code == 1
    assert str(path) in result.output and "malformed" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_reparse_of_a_damaged_archive_names_the_file(tmp_path: Path) -> None:
    path = damaged_archive(tmp_path / "archive.db")
    result = CliRunner().invoke(cli, ["reparse", "--db", str(path), "--workers", "1"])
    assert result.exit_code != 0
    assert str(path) in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
