"""`verdicts reparse`: archived bodies re-parsed with the current parser heal the archive."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from db import parse_record
from db.archive import open_archive
from db.identity import tool_id
from db.reparse import run_reparse
from db.store import ArchiveWriter
from parsers import parse_page
from parsers.layouts import comparison
from parsers.model import Listing, ParseResult, Quote
from tests.archive_factory import at, fetched, other
from tests.conftest import FIXTURES

VARIANTS = FIXTURES / "variants"
URL = "https://example.test/compare/smolvlm2-turbo-vs-mistral-next-22b"
URL2 = "https://example.test/compare/smolvlm2-turbo-vs-mistral-8x24b"


def buggy(parse: ParseResult) -> ParseResult:
    """What an older, broken parser made of the page: a wrong price and a garbled quote (a
    copy: no longer noted as read by the current parser code)."""
    first = parse.listings[0]
    listings: list[Listing] = [replace(first, entry_price="Fre", entry_price_usd=None), *parse.listings[1:]]
    quotes: list[Quote] = [replace(parse.quotes[0], text="garbled"), *parse.quotes[1:]]
    return replace(parse, parser_version="0.0.1", listings=listings, quotes=quotes)


@pytest.fixture
def archive(archive_path: Path) -> Path:
    db = open_archive(archive_path)
    writer = ArchiveWriter(db, None)
    page1 = (VARIANTS / "seed_000_divs.html").read_bytes()
    page1_v2 = (VARIANTS / "seed_000_nested.html").read_bytes()
    page2 = (VARIANTS / "seed_004_tables.html").read_bytes()
    writer.store(
        [
            (fetched(URL, page1, at(1)), buggy(parse_page(page1, URL))),
            (fetched(URL2, page2, at(1)), parse_page(page2, URL2)),
        ]
    )
    writer.store([(other(URL, "not_modified", at(2), 304), None)])
    writer.store([(fetched(URL, page1_v2, at(3)), buggy(parse_page(page1_v2, URL)))])
    db.close()
    return archive_path


def test_reparse_heals_the_archive_and_keeps_history(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_reparse(archive, workers=1) == 0
    # page 2 was stored as the current parser code reads it: only page 1 is read again
    assert (
        "Re-parsed 2 of 3 snapshots (1 already read by this parser code) of 2 pages"
        in capsys.readouterr().err
    )
    db = open_archive(archive)
    assert db.execute("SELECT DISTINCT parser_version FROM snapshots").fetchall() == [(comparison.VERSION,)]
    assert db.execute("SELECT count(*) FROM verdicts WHERE text = 'garbled'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM listings WHERE entry_price = 'Fre'").fetchone()[0] == 0
    # Both markups of page 1 read the same: one listing row spanning both snapshots' windows.
    smol = db.execute(
        "SELECT entry_price, l.first_seen, l.last_seen FROM listings l JOIN comparisons c "
        "ON c.id = l.comparison_id WHERE c.url = ? AND l.tool_id = ?",
        [URL, tool_id("SmolVLM2 Turbo")],
    ).fetchall()
    assert smol == [("Free", at(1), at(3))]
    appearances = db.execute(
        "SELECT count(*), min(a.first_seen), max(a.last_seen) FROM verdict_appearances a "
        "JOIN comparisons c ON c.id = a.comparison_id WHERE c.url = ?",
        [URL],
    ).fetchone()
    assert appearances == (8, at(1), at(3))
    assert db.execute("SELECT count(*) FROM current_comparisons").fetchone()[0] == 2


def test_only_changed_outcomes_are_rewritten_unless_forced(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_reparse(archive, workers=1)
    capsys.readouterr()
    assert run_reparse(archive, workers=1) == 0
    assert "0 changed outcomes, 0 pages rebuilt" in capsys.readouterr().err
    # --force reads every page again and builds its rows, but the archive holds them already
    assert run_reparse(archive, force=True, workers=1) == 0
    assert "Re-parsed 3 of 3 snapshots of 2 pages with 1 worker(s)" in (err := capsys.readouterr().err)
    assert "0 changed outcomes, 0 pages rebuilt" in err


def test_reparse_in_worker_processes_through_the_cli(archive: Path) -> None:
    result = CliRunner().invoke(cli, ["reparse", "--workers", "2", "--db", str(archive)])
    assert result.exit_code == 0, result.output
    db = open_archive(archive)
    assert db.execute("SELECT count(*) FROM verdicts WHERE text = 'garbled'").fetchone()[0] == 0


def test_a_regressed_parser_exits_2_and_a_fixed_one_restores(
    archive: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import parsers

    run_reparse(archive, workers=1)

    def regressed(html: str | bytes, url: str | None = None, was_comparison: bool = False) -> ParseResult:
        return ParseResult(status="not_comparison", parser="comparison", parser_version="9")

    monkeypatch.setattr(parsers, "parse_page", regressed)
    monkeypatch.setattr(parse_record, "parser_fingerprint", lambda: "changed-parser-code")
    capsys.readouterr()
    assert run_reparse(archive, workers=1) == 2
    assert "2 comparison page(s) no longer parse complete" in capsys.readouterr().err
    db = open_archive(archive)
    assert db.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 3
    db.close()
    monkeypatch.undo()
    assert run_reparse(archive, workers=1) == 0
    db = open_archive(archive)
    assert db.execute("SELECT count(*) FROM current_comparisons").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM verdict_appearances").fetchone()[0] == 16


def test_force_rebuilds_tampered_rows_and_rewrites_no_unchanged_one(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_reparse(archive, workers=1)
    capsys.readouterr()
    db = open_archive(archive)
    tables = {"comparisons": "id", "listings": "id", "verdict_appearances": "verdict_id, comparison_id"}

    def derived() -> dict[str, list[tuple[object, ...]]]:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY {key}").fetchall() for t, key in tables.items()}

    healed = derived()
    rowids = db.execute("SELECT rowid, id FROM listings ORDER BY rowid").fetchall()
    db.execute("PRAGMA foreign_keys = OFF")
    with db.atomic():
        db.execute("UPDATE comparisons SET title = 'tampered' WHERE url = ?", [URL2])
        db.execute(
            "DELETE FROM verdict_appearances WHERE rowid IN (SELECT min(rowid) FROM verdict_appearances)"
        )
        db.execute(
            "INSERT INTO listings (id, comparison_id, tool_id, position, complete, first_seen, last_seen) "
            "SELECT 'stray', comparison_id, tool_id, 9, 1, first_seen, last_seen FROM listings LIMIT 1"
        )
    db.execute("PRAGMA foreign_keys = ON")
    db.close()
    assert run_reparse(archive, force=True, workers=1) == 0
    assert "0 changed outcomes, 2 pages rebuilt" in capsys.readouterr().err  # both were tampered with
    db = open_archive(archive)
    assert derived() == healed
    # Rows the rebuild found identical were left in place, not deleted and inserted again.
    assert db.execute("SELECT rowid, id FROM listings ORDER BY rowid").fetchall() == rowids


def test_reparse_hands_the_pool_tasks_with_back_pressure(archive_path: Path) -> None:
    """`_map` never reads more than TASKS_AHEAD tasks per worker ahead of the results taken."""
    from db import reparse

    open_archive(archive_path).close()
    read: list[int] = []

    def tasks() -> Iterator[tuple[str, list[str], bool]]:
        for n in range(40):
            read.append(n)
            yield (str(archive_path), [], False)

    taken = 0
    for parsed, results, fresh in reparse._map(tasks(), 2):
        taken += 1
        assert (parsed, results, fresh) == (0, [], [])
        assert len(read) - taken <= reparse.TASKS_AHEAD * 2
    assert taken == 40
