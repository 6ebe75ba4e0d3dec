"""Nothing counted twice: one verdict per (tool, normalised text), one appearance per page."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from db.archive import open_archive
from db.identity import pair_key, tool_id
from db.store import ArchiveWriter
from parsers.model import Quote
from tests.archive_factory import at, comparison, fetched, listing, quotes_for, with_quote
from tests.conftest import FIXTURES

A_B = "https://example.test/compare/alpha-vs-beta"
A_C = "https://example.test/compare/alpha-vs-gamma"
B_A = "https://example.test/compare/beta-vs-alpha"


@pytest.fixture
def db(archive_path: Path) -> Database:
    return open_archive(archive_path)


def scalar(db: Database, sql: str, params: list[object] | None = None) -> object:
    return db.execute(sql, params or []).fetchone()[0]


def test_the_same_quote_on_many_pages_is_one_verdict_with_one_appearance_per_page(
    db: Database,
) -> None:
    writer = ArchiveWriter(db, None)
    alpha_quotes = [q for q in quotes_for("Alpha", "Beta") if q.position == 1]
    gamma_quotes = [Quote(2, q.reviewer_seat, f"Gamma {q.reviewer_seat}") for q in alpha_quotes]
    stats = writer.store(
        [
            (fetched(A_B, "<p>ab</p>", at(1)), comparison("Alpha", "Beta")),
            (
                fetched(A_C, "<p>ac</p>", at(1)),
                comparison("Alpha", "Gamma", quotes=[*alpha_quotes, *gamma_quotes]),
            ),
        ]
    )
    assert stats.verdicts_new == 4 + 4 + 4
    alpha = tool_id("Alpha")
    assert scalar(db, "SELECT count(*) FROM verdicts WHERE tool_id = ?", [alpha]) == 4
    assert (
        scalar(
            db,
            "SELECT count(*) FROM verdict_appearances a JOIN verdicts v "
            "ON v.id = a.verdict_id WHERE v.tool_id = ?",
            [alpha],
        )
        == 8
    )
    # Re-crawling both pages (changed chrome, same content) adds nothing.
    again = writer.store(
        [
            (fetched(A_B, "<p>ab v2</p>", at(2)), comparison("Alpha", "Beta")),
            (
                fetched(A_C, "<p>ac v2</p>", at(2)),
                comparison("Alpha", "Gamma", quotes=[*alpha_quotes, *gamma_quotes]),
            ),
        ]
    )
    assert again.verdicts_new == 0 and again.comparisons_changed == 0
    assert scalar(db, "SELECT count(*) FROM verdict_appearances") == 16
    assert scalar(db, "SELECT count(DISTINCT last_seen) FROM verdict_appearances") == 1
    reuse = db.execute(
        "SELECT pages FROM verdict_reuse WHERE tool_id = ? ORDER BY reviewer_seat", [alpha]
    ).fetchall()
    assert reuse == [(2,)] * 4


def test_texts_are_compared_after_nfkc_quote_folding_and_whitespace(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    base = comparison("Alpha", "Beta")
    curly = with_quote(base, 0, "It\u2019s the \ufb01rst \u201creal\u201d  tool.")
    straight = with_quote(base, 0, 'It\'s the first "real" tool.\n')
    writer.store([(fetched(A_B, "<p>1</p>", at(1)), curly)])
    writer.store([(fetched(A_C, "<p>2</p>", at(1)), straight)])
    rows = db.execute(
        "SELECT text FROM verdicts WHERE text_key = (SELECT text_key FROM verdicts WHERE text LIKE 'It%')"
    ).fetchall()
    assert rows == [("It\u2019s the \ufb01rst \u201creal\u201d  tool.",)]  # as first seen
    assert (
        scalar(
            db,
            "SELECT count(*) FROM verdict_appearances a JOIN verdicts v ON v.id = "
            "a.verdict_id WHERE v.text LIKE 'It%'",
        )
        == 2
    )


def test_a_tool_is_one_row_by_normalised_name(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    writer.store(
        [
            (fetched(A_B, "<p>1</p>", at(1)), comparison("Alpha", "Beta")),
            (
                fetched(A_C, "<p>2</p>", at(1)),
                comparison("ALPHA ", "Gamma", listings=[listing(1, " ALPHA\u00a0"), listing(2, "Gamma")]),
            ),
        ]
    )
    assert scalar(db, "SELECT count(*) FROM tools") == 3
    assert scalar(db, "SELECT name FROM tools WHERE id = ?", [tool_id("alpha")]) == "Alpha"


def test_a_vs_b_and_b_vs_a_share_a_pair_key(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    writer.store(
        [
            (fetched(A_B, "<p>1</p>", at(1)), comparison("Alpha", "Beta")),
            (fetched(B_A, "<p>2</p>", at(1)), comparison("Beta", "Alpha")),
        ]
    )
    keys = db.execute("SELECT DISTINCT pair_key FROM comparisons").fetchall()
    assert keys == [(pair_key(tool_id("Alpha"), tool_id("Beta")),)]
    assert scalar(db, "SELECT count(*) FROM comparisons") == 2


def test_attribution_conflicts_are_kept_as_the_pages_say_and_listed(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    shared = "A quote the site credits to two tools."
    ab = with_quote(comparison("Alpha", "Beta"), 0, shared)  # Alpha, seat 1
    ac = with_quote(comparison("Alpha", "Gamma"), 3, shared)  # Gamma, seat 2
    moved = "Alpha in seat one on one page, seat four on another."
    ab = with_quote(ab, 2, moved)  # Alpha, seat 2
    ac = with_quote(ac, 6, moved)  # Alpha, seat 4
    writer.store([(fetched(A_B, "<p>1</p>", at(1)), ab), (fetched(A_C, "<p>2</p>", at(1)), ac)])
    assert scalar(db, "SELECT count(*) FROM verdicts WHERE text = ?", [shared]) == 2
    conflicts = db.execute(
        "SELECT conflict, tool_name, reviewer_seat, url FROM verdict_conflicts "
        "ORDER BY conflict, reviewer_seat"
    ).fetchall()
    assert conflicts == [
        ("different seats", "Alpha", 2, A_B),
        ("different seats", "Alpha", 4, A_C),
        ("different tools", "Alpha", 1, A_B),
        ("different tools", "Gamma", 2, A_C),
    ]


VARIANTS = FIXTURES / "variants"


def test_the_same_quote_in_two_markups_is_one_verdict(db: Database) -> None:
    from parsers import parse_page

    divs = (VARIANTS / "seed_000_divs.html").read_bytes()
    tables = (VARIANTS / "seed_000_tables.html").read_bytes()
    first, second = parse_page(divs, A_B), parse_page(tables, A_C)
    assert first.status == second.status == "ok"
    writer = ArchiveWriter(db, None)
    writer.store([(fetched(A_B, divs, at(1)), first), (fetched(A_C, tables, at(1)), second)])
    assert scalar(db, "SELECT count(*) FROM bodies") == 2
    assert scalar(db, "SELECT count(*) FROM verdicts") == 8
    assert scalar(db, "SELECT count(*) FROM verdict_appearances") == 16
    assert scalar(db, "SELECT count(*) FROM tools") == 2
