"""The change log as the writer stores it and `reparse` rebuilds it (db/change_log.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlite_utils import Database

from crawler.demo import DEMO_SITE
from db.archive import open_archive
from db.identity import comparison_id, tool_id
from db.reparse import run_reparse
from db.store import ArchiveWriter
from tests.archive_factory import at, comparison, fetched, listing, new_crawl, other, with_quote

URL = "https://example.test/compare/alpha-vs-beta"
URL2 = "https://example.test/compare/gamma-vs-delta"
URL3 = "https://example.test/compare/alpha-vs-delta"
COLUMNS = "crawl_id, observed_at, comparison_id, tool_id, kind, field, old, new"


@pytest.fixture
def db(archive_path: Path) -> Database:
    return open_archive(archive_path)


def crawl(db: Database, day: int) -> int:
    return new_crawl(db, day)


def changes(db: Database, crawl_id: int | None = None) -> list[tuple[object, ...]]:
    where = "" if crawl_id is None else f"WHERE crawl_id = {int(crawl_id)}"
    return db.execute(f"SELECT kind, tool_id, field, old, new FROM changes {where} ORDER BY rowid").fetchall()


def test_the_first_crawl_is_the_baseline(db: Database) -> None:
    first = crawl(db, 1)
    stats = ArchiveWriter(db, first).store(
        [
            (fetched(URL, "v1", at(1)), comparison()),
            (fetched(URL2, "w1", at(1)), comparison("Gamma", "Delta")),
        ]
    )
    assert stats.changes == 0 and changes(db) == []
    assert db.execute("SELECT count(*) FROM change_states").fetchone()[0] == 2


def test_a_second_crawl_logs_exactly_what_changed(db: Database) -> None:
    first, second = crawl(db, 1), crawl(db, 2)
    before = comparison()
    other_page = comparison("Gamma", "Delta")
    ArchiveWriter(db, first).store(
        [(fetched(URL, "v1", at(1)), before), (fetched(URL2, "w1", at(1)), other_page)]
    )
    edited = before.quotes[0].text.replace("is clean", "is tidy")
    after = with_quote(before, 0, edited)
    after = with_quote(after, 3, "Beta's billing page finally explains the seat pricing in plain words.")
    after = replace(
        after, listings=[listing(1, "Alpha", price="$25/mo", usd=25.0), listing(2, "Beta", panel_ship_pct=60)]
    )
    new_page = comparison("Alpha", "Delta")
    stats = ArchiveWriter(db, second).store(
        [
            (fetched(URL, "v2", at(2)), after),
            (other(URL2, "gone", at(2), 404), None),
            (fetched(URL3, "x1", at(2)), new_page),
        ]
    )
    alpha, beta = tool_id("Alpha"), tool_id("Beta")
    assert sorted(changes(db, second), key=repr) == sorted(
        [
            ("price_changed", alpha, "entry_price_usd", "20", "25"),
            ("score_changed", beta, "panel_ship_pct", "80", "60"),
            ("verdict_edited", alpha, "text", before.quotes[0].text, edited),
            ("verdict_added", beta, "text", None, after.quotes[3].text),
            ("verdict_removed", beta, "text", before.quotes[3].text, None),
            ("page_gone", None, None, None, None),
            ("page_new", None, "title", None, "Alpha vs Delta"),
        ],
        key=repr,
    )
    assert stats.changes == 7
    pct = db.execute("SELECT price_move_pct FROM change_log WHERE kind = 'price_changed'").fetchone()[0]
    assert pct == 25.0
    by_page = dict(db.execute("SELECT kind, comparison_id FROM changes WHERE kind LIKE 'page_%'").fetchall())
    assert by_page == {"page_gone": comparison_id(URL2), "page_new": comparison_id(URL3)}


def test_unchanged_and_reordered_pages_log_nothing(db: Database) -> None:
    first, second, third = crawl(db, 1), crawl(db, 2), crawl(db, 3)
    page = comparison()
    ArchiveWriter(db, first).store([(fetched(URL, "v1", at(1)), page)])
    ArchiveWriter(db, second).store([(fetched(URL, "v1", at(2)), page)])  # same body
    shuffled = replace(page, quotes=list(reversed(page.quotes)))
    ArchiveWriter(db, third).store([(fetched(URL, "v1 shuffled", at(3)), shuffled)])
    assert changes(db) == []


def test_an_incomplete_parse_never_produces_changes(db: Database) -> None:
    first, second, third = crawl(db, 1), crawl(db, 2), crawl(db, 3)
    page = comparison()
    ArchiveWriter(db, first).store([(fetched(URL, "v1", at(1)), page)])
    broken = replace(
        comparison(listings=[listing(1, "Alpha", price="$99/mo", usd=99.0)]), status="incomplete"
    )
    ArchiveWriter(db, second).store([(fetched(URL, "v2", at(2)), broken)])
    assert changes(db) == []
    # The next complete state is compared with the last complete one, not the broken one.
    ArchiveWriter(db, third).store([(fetched(URL, "v3", at(3)), page)])
    assert changes(db) == []


def test_gone_then_back(db: Database) -> None:
    first, second, third, fourth = (crawl(db, day) for day in (1, 2, 3, 4))
    page = comparison()
    ArchiveWriter(db, first).store([(fetched(URL, "v1", at(1)), page)])
    ArchiveWriter(db, second).store([(other(URL, "gone", at(2), 410), None)])
    ArchiveWriter(db, third).store([(other(URL, "gone", at(3), 410), None)])  # still gone: one row
    assert changes(db) == [("page_gone", None, None, None, None)]
    moved = replace(page, listings=[page.listings[0], listing(2, "Beta", price="$10/mo", usd=10.0)])
    ArchiveWriter(db, fourth).store([(fetched(URL, "v2", at(4)), moved)])
    assert changes(db, fourth) == [
        ("page_back", None, None, None, None),
        ("price_changed", tool_id("Beta"), "entry_price_usd", "20", "10"),
    ]


def test_a_page_back_with_its_old_body_is_page_back_alone(db: Database) -> None:
    first, second, third = crawl(db, 1), crawl(db, 2), crawl(db, 3)
    ArchiveWriter(db, first).store([(fetched(URL, "v1", at(1)), comparison())])
    ArchiveWriter(db, second).store([(other(URL, "gone", at(2), 404), None)])
    ArchiveWriter(db, third).store([(fetched(URL, "v1", at(3)), comparison())])  # same sha256
    assert [row[0] for row in changes(db)] == ["page_gone", "page_back"]


def test_an_archive_older_than_the_change_log_gets_states_not_page_new(db: Database) -> None:
    first, second = crawl(db, 1), crawl(db, 2)
    ArchiveWriter(db, first).store([(fetched(URL, "v1", at(1)), comparison())])
    db.execute("DELETE FROM change_states")  # as an archive upgraded from before 0060 has
    ArchiveWriter(db, second).store([(fetched(URL, "v2", at(2)), comparison(listings=None))])
    assert changes(db) == []
    assert db.execute("SELECT count(*) FROM change_states").fetchone()[0] == 1


def test_reparse_rebuilds_the_same_log(db: Database, archive_path: Path) -> None:
    """Rebuilt from the stored bodies: the crawl writes real HTML, reparse reads it again."""

    site = DEMO_SITE / "compare"
    page = site / "cellwise-vs-querypilot"
    html = (page / "index.html").read_text(encoding="utf-8")
    from parsers import parse_page

    url = f"https://example.test/compare/{page.name}/"
    v1 = parse_page(html, url)
    assert v1.status == "ok"
    moved = html.replace("profile the dataset", "profile the whole dataset", 1)
    v2 = parse_page(moved, url)
    assert v2.status == "ok" and v2.quotes[0].text != v1.quotes[0].text
    first, second = crawl(db, 1), crawl(db, 2)
    ArchiveWriter(db, first).store([(fetched(url, html, at(1)), v1)])
    ArchiveWriter(db, second).store([(fetched(url, moved, at(2)), v2)])
    logged = db.execute(f"SELECT id, {COLUMNS}, detail FROM changes ORDER BY id").fetchall()
    assert [row[5] for row in logged] == ["verdict_edited"]
    db.close()
    assert run_reparse(archive_path, force=True, workers=1) == 0
    again = open_archive(archive_path)
    assert again.execute(f"SELECT id, {COLUMNS}, detail FROM changes ORDER BY id").fetchall() == logged
    again.execute("DELETE FROM changes")
    again.conn.commit()
    again.close()
    assert run_reparse(archive_path, force=True, workers=1) == 0
    rebuilt = open_archive(archive_path)
    assert rebuilt.execute(f"SELECT id, {COLUMNS}, detail FROM changes ORDER BY id").fetchall() == logged
