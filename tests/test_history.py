"""History: a page that changes between two crawls keeps both states, with first/last seen."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from db.archive import open_archive
from db.identity import tool_id
from db.store import ArchiveWriter
from tests.archive_factory import at, comparison, fetched, listing, new_crawl, other, with_quote

URL = "https://example.test/compare/alpha-vs-beta"
URL2 = "https://example.test/compare/alpha-vs-gamma"


@pytest.fixture
def db(archive_path: Path) -> Database:
    return open_archive(archive_path)


def crawl(db: Database, day: int, site: str = "example") -> int:
    return new_crawl(db, day, site)


def test_a_page_that_changes_between_two_crawls(db: Database) -> None:
    first, second = crawl(db, 1), crawl(db, 2)
    before = comparison("Alpha", "Beta")
    after = with_quote(before, 0, "Alpha's primitive was rewritten entirely for version two.")
    after.listings = [listing(1, "Alpha", price="$25/mo", usd=25.0), before.listings[1]]
    ArchiveWriter(db, first).store([(fetched(URL, "<p>v1</p>", at(1)), before)])
    stats = ArchiveWriter(db, second).store([(fetched(URL, "<p>v2</p>", at(2)), after)])
    assert (stats.comparisons_changed, stats.comparisons_new, stats.verdicts_new) == (1, 0, 1)

    prices = db.execute(
        "SELECT entry_price, first_seen, last_seen FROM listings WHERE position = 1 ORDER BY first_seen"
    ).fetchall()
    assert prices == [("$20/mo", at(1), at(1)), ("$25/mo", at(2), at(2))]
    # The unchanged right-hand listing is one row seen twice.
    assert db.execute("SELECT first_seen, last_seen FROM listings WHERE position = 2").fetchall() == [
        (at(1), at(2))
    ]
    current = db.execute(
        "SELECT tool1_name, tool1_entry_price, tool1_entry_price_usd, tool2_entry_price "
        "FROM current_comparisons"
    ).fetchall()
    assert current == [("Alpha", "$25/mo", 25.0, "$20/mo")]
    changes = db.execute(
        "SELECT tool_name, entry_price, previous_entry_price, first_seen FROM price_changes "
        "ORDER BY first_seen"
    ).fetchall()
    assert changes == [("Alpha", "$20/mo", None, at(1)), ("Alpha", "$25/mo", "$20/mo", at(2))]

    old = db.execute(
        "SELECT a.last_seen FROM verdict_appearances a JOIN verdicts v ON v.id = a.verdict_id "
        "WHERE v.text LIKE 'Seat 1 says Alpha%'"
    ).fetchall()
    assert old == [(at(1),)]
    new = db.execute(
        "SELECT crawl_id, tool_name, text, new_verdict FROM verdicts_new_since_previous_crawl"
    ).fetchall()
    assert new == [(second, "Alpha", after.quotes[0].text, 1)]
    vanished = db.execute(
        "SELECT crawl_id, previous_crawl_id, text, reason FROM verdicts_vanished_since_previous_crawl"
    ).fetchall()
    assert vanished == [(second, first, before.quotes[0].text, "removed from page")]


def test_a_gone_page_vanishes_its_verdicts_but_keeps_every_row(db: Database) -> None:
    first, second = crawl(db, 1), crawl(db, 2)
    ArchiveWriter(db, first).store([(fetched(URL, "<p>v1</p>", at(1)), comparison())])
    ArchiveWriter(db, second).store([(other(URL, "gone", at(2), status=410), None)])
    reasons = db.execute(
        "SELECT DISTINCT crawl_id, reason FROM verdicts_vanished_since_previous_crawl"
    ).fetchall()
    assert reasons == [(second, "page gone")]
    assert db.execute("SELECT count(*) FROM verdict_appearances").fetchone()[0] == 8
    assert db.execute("SELECT gone_at FROM current_comparisons").fetchone()[0] == at(2)


def test_an_unchanged_recrawl_vanishes_and_adds_nothing(db: Database) -> None:
    first, second = crawl(db, 1), crawl(db, 2)
    ArchiveWriter(db, first).store([(fetched(URL, "<p>v1</p>", at(1)), comparison())])
    ArchiveWriter(db, second).store([(other(URL, "not_modified", at(2), status=304), None)])
    for view in ("verdicts_new_since_previous_crawl", "verdicts_vanished_since_previous_crawl"):
        assert db.execute(f"SELECT count(*) FROM {view}").fetchone()[0] == 0, view
    assert db.execute("SELECT DISTINCT last_crawl_id FROM verdict_appearances").fetchall() == [(second,)]


def test_an_incomplete_parse_is_flagged_and_never_becomes_current(db: Database) -> None:
    writer = ArchiveWriter(db, None)
    writer.store([(fetched(URL, "<p>v1</p>", at(1)), comparison())])
    truncated = comparison(
        listings=[
            listing(1, "Alpha", price="$99/mo", usd=99.0, tagline=None, description=None),
            listing(2, "Beta", category=None),
        ],
        status="incomplete",
        problems=["tagline: missing for Alpha", "description: missing for Alpha"],
    )
    stats = writer.store([(fetched(URL, "<p>v2 trunc</p>", at(2)), truncated)])
    assert stats.comparisons_changed == 0
    flagged = db.execute("SELECT entry_price, complete FROM listings WHERE position = 1 ORDER BY first_seen")
    assert flagged.fetchall() == [("$20/mo", 1), ("$99/mo", 0)]
    current = db.execute("SELECT complete, tool1_entry_price FROM current_comparisons").fetchone()
    assert current == (1, "$20/mo")
    tools = db.execute("SELECT tagline, description FROM tools WHERE id = ?", [tool_id("Alpha")])
    assert tools.fetchone() == ("Alpha tagline", "Alpha is a tool.")
    assert db.execute("SELECT parse_status FROM parse_health ORDER BY fetched_at").fetchall() == [
        ("ok",),
        ("incomplete",),
    ]
    # A later complete parse with new details does become current.
    fixed = comparison(listings=[listing(1, "Alpha", tagline="New tagline"), listing(2, "Beta")])
    writer.store([(fetched(URL, "<p>v3</p>", at(3)), fixed)])
    assert db.execute("SELECT tagline FROM tools WHERE id = ?", [tool_id("Alpha")]).fetchone() == (
        "New tagline",
    )


def test_incomplete_first_sight_is_stored_flagged(db: Database) -> None:
    partial = comparison(quotes=[], status="incomplete", problems=["quotes: scorecard missing"])
    ArchiveWriter(db, None).store([(fetched(URL2, "<p>x</p>", at(1)), partial)])
    assert db.execute("SELECT complete FROM comparisons").fetchall() == [(0,)]
    assert db.execute("SELECT DISTINCT complete FROM listings").fetchall() == [(0,)]
    assert db.execute("SELECT parse_missing FROM snapshots").fetchone()[0] == '["quotes"]'
