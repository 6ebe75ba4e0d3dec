"""The quality gate: a drop of more than 10 points in any field's share degrades a crawl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlite_utils import Database

from db.archive import open_archive
from db.quality import assess_crawl
from db.store import ArchiveWriter
from parsers.model import ParseResult, Quote
from tests.archive_factory import at, comparison, fetched, listing, new_crawl, other

PAGES = 20


@pytest.fixture
def db(archive_path: Path) -> Database:
    return open_archive(archive_path)


def url(i: int) -> str:
    return f"https://example.test/compare/t{i}-vs-u{i}"


def crawl(db: Database, day: int, site: str = "example") -> int:
    return new_crawl(db, day, site, status="running")


def good(i: int) -> ParseResult:
    return comparison(f"T{i}", f"U{i}")


def no_price(i: int) -> ParseResult:
    return comparison(
        f"T{i}",
        f"U{i}",
        listings=[listing(1, f"T{i}", price=None, usd=None), listing(2, f"U{i}")],  # type: ignore[arg-type]
        status="incomplete",
        problems=["entry_price: no value before the Entry label"],
    )


def run(db: Database, day: int, pages: dict[int, ParseResult], site: str = "example") -> int:
    crawl_id = crawl(db, day, site)
    batch = [
        (fetched(url(i), f"<p>{i} {parse.status} {day}</p>", at(day)), parse) for i, parse in pages.items()
    ]
    ArchiveWriter(db, crawl_id).store(batch)
    return crawl_id


def test_a_field_dropping_more_than_ten_points_degrades_the_crawl(db: Database) -> None:
    first = run(db, 1, {i: good(i) for i in range(PAGES)})
    report = assess_crawl(db, first)
    assert not report.degraded and report.previous_crawl_id is None
    assert report.field_counts["entry_price"] == (PAGES, PAGES)
    broken = {i: (no_price(i) if i < 3 else good(i)) for i in range(PAGES)}
    second = run(db, 2, broken)
    report = assess_crawl(db, second)
    assert report.degraded and report.previous_crawl_id == first
    assert report.field_counts["entry_price"] == (PAGES - 3, PAGES)
    assert report.field_counts["tagline"] == (PAGES, PAGES)
    by_field = {reason.split(":")[0]: reason for reason in report.reasons}
    assert set(by_field) == {"complete comparison pages", "comparison pages with entry_price"}
    assert all(url(i) in by_field["comparison pages with entry_price"] for i in range(3))
    assert "100.0% -> 85.0%" in by_field["comparison pages with entry_price"]
    stored = db.execute(
        "SELECT share, previous_share, pages_missing FROM crawl_field_stats "
        "WHERE crawl_id = ? AND field = 'entry_price'",
        [second],
    ).fetchone()
    assert stored[:2] == (85.0, 100.0)
    assert sorted(json.loads(stored[2])) == sorted(url(i) for i in range(3))


def test_a_small_drop_or_an_unchanged_recrawl_is_not_degraded(db: Database) -> None:
    first = run(db, 1, {i: good(i) for i in range(PAGES)})
    assess_crawl(db, first)
    second = run(db, 2, {i: (no_price(i) if i < 2 else good(i)) for i in range(PAGES)})  # -10 points
    assert not assess_crawl(db, second).degraded
    third = crawl(db, 3)
    ArchiveWriter(db, third).store([(other(url(i), "not_modified", at(3), 304), None) for i in range(PAGES)])
    report = assess_crawl(db, third)
    assert not report.degraded
    assert report.field_counts["entry_price"] == (PAGES - 2, PAGES)  # current snapshots count


def test_pages_no_longer_recognised_as_comparisons_degrade(db: Database) -> None:
    first = run(db, 1, {i: good(i) for i in range(PAGES)})
    assess_crawl(db, first)
    lost = ParseResult(status="not_comparison", parser="test", parser_version="1")
    second = run(db, 2, {i: (lost if i < 5 else good(i)) for i in range(PAGES)})
    report = assess_crawl(db, second)
    assert report.degraded
    assert report.reasons[0].startswith("known comparison pages still recognised: 100.0% -> 75.0%")


def test_the_previous_crawl_is_of_the_same_site(db: Database) -> None:
    first = run(db, 1, {i: good(i) for i in range(PAGES)}, site="example")
    assess_crawl(db, first)
    other_site = run(db, 2, {i: no_price(i) for i in range(PAGES, PAGES + 5)}, site="elsewhere")
    report = assess_crawl(db, other_site)
    assert report.previous_crawl_id is None and not report.degraded


def test_the_end_of_crawl_step_marks_near_duplicates(db: Database) -> None:
    text = " ".join(f"word{i}" for i in range(40))
    first = run(db, 1, {0: comparison("T0", "U0", quotes=[Quote(1, 1, text)])})
    assert assess_crawl(db, first).near_duplicates == 0
    edited = text.replace("word7", "seven")
    second = run(db, 2, {0: comparison("T0", "U0", quotes=[Quote(1, 1, edited)])})
    assert assess_crawl(db, second).near_duplicates == 1


def test_an_unreadable_candidate_degrades_even_the_first_crawl(db: Database) -> None:
    unreadable = ParseResult(
        status="unreadable", parser="none", parser_version="1", problems=["page: candidate comparison"]
    )
    first = run(db, 1, {i: (unreadable if i < 12 else good(i)) for i in range(PAGES)})
    report = assess_crawl(db, first)
    assert report.degraded and report.previous_crawl_id is None
    assert report.unreadable_count == 12
    assert report.unreadable == sorted(url(i) for i in range(12))[:10]
    assert report.reasons == [
        "12 candidate comparison page(s) unreadable (parse_status 'unreadable'; silence a known "
        f"non-comparison with an exclude pattern): {', '.join(report.unreadable)} (+2 more)"
    ]
    row = db.execute(
        "SELECT pages_unreadable, parse_errors, unreadable_urls FROM crawls WHERE id = ?", [first]
    ).fetchone()
    assert row == (12, 0, json.dumps(report.unreadable))
    # unreadable pages are not comparisons: the field statistics count the readable ones only
    assert report.field_counts["complete"] == (PAGES - 12, PAGES - 12)


def test_a_parse_error_degrades_and_drift_is_named(db: Database) -> None:
    first = run(db, 1, {i: good(i) for i in range(PAGES)})
    assert not assess_crawl(db, first).degraded
    error = ParseResult(
        status="error", parser="comparison", parser_version="1", problems=["page: parser error in x (E: y)"]
    )
    second = run(db, 2, {i: (error if i == 4 else good(i)) for i in range(PAGES)})
    report = assess_crawl(db, second)
    assert report.degraded
    assert (report.parse_error_count, report.parse_errors) == (1, [url(4)])
    assert report.drifted == [url(4)]
    assert f"layout drift: 1 page(s) were comparisons and now are not: {url(4)}" in report.reasons
    assert f"the parser raised on 1 page(s) (parse_status 'error'): {url(4)}" in report.reasons
    assert db.execute("SELECT parse_errors FROM crawls WHERE id = ?", [second]).fetchone() == (1,)
