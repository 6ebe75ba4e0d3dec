"""`verdicts check`: every page and every reference of the archive, read-only.

Damage past the header is what the open-time check cannot see (tests/test_faults_corrupt.py
builds such a file); `check` finds it at once, names the file and exits 1, and writes nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from db.archive import open_archive
from db.integrity import check_integrity
from tests.test_faults_corrupt import damaged_archive


def small_archive(path: Path) -> Path:
    db = open_archive(path)
    db["tools"].insert_all(
        {"id": f"t{n}", "name": f"tool {n}", "first_seen": "2026", "last_seen": "2026"} for n in range(50)
    )
    db.close()
    return path


def run_check(path: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check", "--db", str(path), *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("quick", [False, True])
def test_an_intact_archive_passes(tmp_path: Path, quick: bool) -> None:
    path = small_archive(tmp_path / "archive.db")
    code, output = run_check(path, *(["--quick"] if quick else []))
    assert code == 0, output
    assert f"{path}: intact" in output


@pytest.mark.parametrize("quick", [False, True])
def test_a_page_damaged_past_the_header_is_found_and_the_file_named(tmp_path: Path, quick: bool) -> None:
    path = damaged_archive(tmp_path / "archive.db")
    before, files = path.read_bytes(), sorted(tmp_path.iterdir())
    code, output = run_check(path, *(["--quick"] if quick else []))
    assert code == 1
    assert f"Error: {path} is damaged (" in output
    assert path.read_bytes() == before  # nothing written, nothing created beside it
    assert sorted(tmp_path.iterdir()) == files


def test_a_row_referring_to_a_missing_row_is_found(tmp_path: Path) -> None:
    path = small_archive(tmp_path / "archive.db")
    conn = sqlite3.connect(path)  # foreign keys off: nothing stops the orphan row
    columns = {row[1]: row for row in conn.execute("PRAGMA table_info(comparisons)")}
    assert "tool1_id" in columns
    required = [name for name, row in columns.items() if (row[3] and row[4] is None) or row[5]]
    values = {name: "x" for name in required} | {"tool1_id": "no-such-tool"}
    conn.execute(
        f"INSERT INTO comparisons ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
        list(values.values()),
    )
    conn.commit()
    conn.close()
    result = check_integrity(path)
    assert not result.problems
    assert result.foreign_keys == ["comparisons row 1 refers to a missing tools row"]
    code, output = run_check(path)
    assert code == 1
    assert "1 rows referring to missing rows" in output
    assert "comparisons row 1 refers to a missing tools row" in output


def test_a_file_that_is_not_an_archive_is_refused_in_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"not a database at all, " * 100)
    code, output = run_check(path)
    assert code == 1
    assert f"Error: {path} is not an SQLite archive" in output


def test_help_says_what_is_checked() -> None:
    result = CliRunner().invoke(cli, ["check", "--help"])
    assert result.exit_code == 0
    assert "integrity_check" in result.output and "--quick" in result.output
