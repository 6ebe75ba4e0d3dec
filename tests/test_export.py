"""`verdicts export`: tables, views and read-only queries as CSV, JSON and JSON lines."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from db.archive import open_archive
from db.store import ArchiveWriter
from tests.archive_factory import at, comparison, fetched

URL = "https://example.test/compare/alpha-vs-beta"


@pytest.fixture
def archive(archive_path: Path) -> Path:
    db = open_archive(archive_path)
    ArchiveWriter(db, None).store([(fetched(URL, "<p>1</p>", at(1)), comparison())])
    db.close()
    return archive_path


def export(archive: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["export", *args, "--db", str(archive)])
    return result.exit_code, result.output


def test_csv_of_a_table(archive: Path) -> None:
    code, out = export(archive, "verdicts")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 8
    assert {r["text"] for r in rows} >= {
        "Seat 1 says Alpha is clean: the primitive holds up well under load."
    }


def test_json_and_jsonl_of_a_view(archive: Path, tmp_path: Path) -> None:
    code, out = export(archive, "current_comparisons", "--format", "json")
    assert code == 0
    (row,) = json.loads(out)
    assert (row["url"], row["tool1_name"], row["tool2_entry_price_usd"]) == (URL, "Alpha", 20.0)
    target = tmp_path / "out.jsonl"
    code, out = export(archive, "verdict_reuse", "--format", "jsonl", "--output", str(target))
    assert code == 0 and out == ""
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8 and all(json.loads(line)["pages"] == 1 for line in lines)


def test_sql_query_and_blobs(archive: Path) -> None:
    code, out = export(archive, "--sql", "SELECT sha256, data FROM bodies", "--format", "jsonl")
    assert code == 0
    record = json.loads(out)
    assert record["data"]["$base64"] is True


def test_unknown_name_is_a_clear_error(archive: Path) -> None:
    code, out = export(archive, "verdictz")
    assert code == 1
    assert "No table or view named 'verdictz'" in out and "verdicts" in out


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM verdicts",
        "UPDATE tools SET name = 'x'",
        "DROP TABLE verdicts",
        "ATTACH DATABASE ':memory:' AS other",
        "PRAGMA journal_mode = DELETE",
    ],
)
def test_writes_are_rejected(archive: Path, sql: str) -> None:
    code, out = export(archive, "--sql", sql)
    assert code == 1 and "read-only" in out
    db = open_archive(archive)
    assert db.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 8
    assert db.execute("SELECT count(*) FROM tools WHERE name = 'x'").fetchone()[0] == 0


def test_empty_result_is_valid_json(archive: Path) -> None:
    code, out = export(archive, "--sql", "SELECT * FROM tools WHERE 0", "--format", "json")
    assert code == 0 and json.loads(out) == []
