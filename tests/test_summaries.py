"""The summary tables agree with the base tables: increments equal a from-scratch rebuild,
and the views over them answer exactly what the old whole-archive aggregates answered."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crawler.config import Settings, Site
from crawler.engine import crawl
from crawler.static_server import StaticServer
from db import summaries
from db.archive import connect_sqlite, open_archive
from db.publish import load_metadata, make_datasette
from db.reparse import run_reparse
from db.store import ArchiveWriter
from parsers import parse_page
from parsers.model import ParseResult
from tests.archive_factory import at, comparison, fetched, listing, other, with_quote
from tests.conftest import FIXTURES

URLS = [f"https://example.test/compare/alpha-vs-{name}" for name in ("beta", "gamma", "delta")]

#: The views as they were before the summaries: whole-archive aggregates over the base tables.
FROM_SCRATCH = {
    "verdict_reuse": """
        SELECT v.id, v.tool_id, t.name, v.reviewer_seat, v.text, count(a.comparison_id),
            coalesce(sum(a.last_seen >= c.last_seen AND c.gone_at IS NULL), 0),
            v.near_duplicate_of, v.first_seen, v.last_seen
        FROM verdicts v JOIN tools t ON t.id = v.tool_id
        LEFT JOIN verdict_appearances a ON a.verdict_id = v.id
        LEFT JOIN comparisons c ON c.id = a.comparison_id
        GROUP BY v.id""",
    "current_comparisons": """
        SELECT c.id, l1.tool_id, l1.panel_ship_pct, l1.community_pct, l1.entry_price,
            l1.entry_price_usd, l1.entry_price_kind, l2.tool_id, l2.entry_price
        FROM comparisons c
        LEFT JOIN listings l1 ON l1.rowid = (SELECT rowid FROM listings WHERE comparison_id = c.id
            AND position = 1 ORDER BY complete DESC, last_seen DESC, rowid DESC LIMIT 1)
        LEFT JOIN listings l2 ON l2.rowid = (SELECT rowid FROM listings WHERE comparison_id = c.id
            AND position = 2 ORDER BY complete DESC, last_seen DESC, rowid DESC LIMIT 1)""",
    "price_changes": """
        WITH periods AS (
            SELECT comparison_id, tool_id, entry_price, entry_price_usd, entry_price_kind,
                min(first_seen) AS first_seen, max(last_seen) AS last_seen
            FROM listings WHERE complete = 1
            GROUP BY comparison_id, tool_id, entry_price, entry_price_usd, entry_price_kind),
        ordered AS (
            SELECT periods.*, count(*) OVER (PARTITION BY comparison_id, tool_id) AS prices,
                lag(entry_price) OVER w AS previous
            FROM periods WINDOW w AS (PARTITION BY comparison_id, tool_id ORDER BY first_seen))
        SELECT tool_id, comparison_id, entry_price, previous, first_seen, last_seen
        FROM ordered WHERE prices > 1""",
    "verdict_conflicts": """
        SELECT verdict_id FROM verdict_appearances GROUP BY verdict_id
        HAVING count(DISTINCT reviewer_seat) > 1""",
}
#: The same columns from the views as they are now.
NOW = {
    "verdict_reuse": "SELECT * FROM verdict_reuse",
    "current_comparisons": """SELECT comparison_id, tool1_id, tool1_panel_ship_pct,
        tool1_community_pct, tool1_entry_price, tool1_entry_price_usd, tool1_entry_price_kind,
        tool2_id, tool2_entry_price FROM current_comparisons""",
    "price_changes": """SELECT tool_id, comparison_id, entry_price, previous_entry_price, first_seen,
        last_seen FROM price_changes""",
    "verdict_conflicts": """SELECT DISTINCT verdict_id FROM verdict_conflicts
        WHERE conflict = 'different seats'""",
}


#: Views as they were before a rewrite, on the base tables alone, whole rows: each view must
#: answer exactly these rows (analysts' saved SQL reads them).
OLD_VIEWS = {
    "verdict_conflicts": """
        WITH conflicts AS MATERIALIZED (
            SELECT 'different tools' AS conflict, v.id AS verdict_id
            FROM verdicts v
            WHERE v.text_key IN (
                SELECT text_key FROM verdicts GROUP BY text_key HAVING count(DISTINCT tool_id) > 1
            )
            UNION ALL
            SELECT 'different seats', verdict_id
            FROM verdict_appearances
            GROUP BY verdict_id
            HAVING count(DISTINCT reviewer_seat) > 1
        )
        SELECT v.text_key, k.conflict, v.id AS verdict_id, v.tool_id, t.name AS tool_name,
            a.reviewer_seat, a.comparison_id, c.url, v.text, a.first_seen, a.last_seen
        FROM conflicts k
        CROSS JOIN verdicts v ON v.id = k.verdict_id
        JOIN tools t ON t.id = v.tool_id
        CROSS JOIN verdict_appearances a ON a.verdict_id = v.id
        JOIN comparisons c ON c.id = a.comparison_id""",
}


#: Dashboard charts rewritten over the summaries, as they were on the base tables.
OLD_CHARTS = {
    "verdicts-by-category": """
        select coalesce(t.category, 'not stated') as category, count(*) as verdicts
        from verdicts v join tools t on t.id = v.tool_id
        group by 1 order by verdicts desc limit 20""",
}
CHARTS = {
    name: chart["query"]
    for dashboard in load_metadata()["plugins"]["datasette-dashboards"].values()
    for name, chart in dashboard["charts"].items()
}


def rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    return sorted(conn.execute(sql).fetchall(), key=repr)


def assert_consistent(conn: sqlite3.Connection) -> None:
    """What the increments left equals a rebuild, and the views equal the old aggregates."""
    assert conn.execute("SELECT count(*) FROM summary_dirty").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM summary_dirty_tools").fetchone()[0] == 0
    kept = summaries.snapshot(conn)
    conn.execute("SAVEPOINT scratch")
    try:
        summaries.rebuild(conn)
        rebuilt = summaries.snapshot(conn)
    finally:
        conn.execute("ROLLBACK TO scratch")
        conn.execute("RELEASE scratch")
    assert kept == rebuilt
    for name, sql in FROM_SCRATCH.items():
        assert rows(conn, NOW[name]) == rows(conn, sql), name
    for name, sql in OLD_VIEWS.items():
        assert rows(conn, f"SELECT * FROM [{name}]") == rows(conn, sql), name
    for name, sql in OLD_CHARTS.items():
        assert rows(conn, CHARTS[name]) == rows(conn, sql), name


def crawl_row(conn: sqlite3.Connection, day: int) -> int:
    cursor = conn.execute(
        "INSERT INTO crawls (site, start_urls, started_at, status) VALUES ('s', '[]', ?, 'completed')",
        [at(day, 0)],
    )
    return int(cursor.lastrowid or 0)


def store(conn: sqlite3.Connection, day: int, batch: list[Any]) -> None:
    """One crawl as the engine runs it: batches without summaries, one refresh at the end."""
    ArchiveWriter(conn, crawl_row(conn, day), summaries=False).store(batch)
    summaries.refresh(conn)


@pytest.fixture
def conn(archive_path: Path) -> Iterator[sqlite3.Connection]:
    open_archive(archive_path).close()
    connection = connect_sqlite(archive_path)
    yield connection
    connection.close()


def test_crawls_that_change_remove_and_revisit_pages_keep_summaries_exact(conn: sqlite3.Connection) -> None:
    first = [comparison("Alpha", name.title()) for name in ("beta", "gamma", "delta")]
    store(
        conn,
        1,
        [(fetched(url, f"<p>{url} 1</p>", at(1)), parse) for url, parse in zip(URLS, first, strict=True)],
    )
    assert_consistent(conn)
    assert conn.execute("SELECT count(*) FROM summary_verdicts").fetchone()[0] > 0

    repriced = replace(first[0], listings=[listing(1, "Alpha", "$25/mo", 25.0), first[0].listings[1]])
    reworded = with_quote(first[1], 2, "Seat 2 now says Alpha is merely fine under load.")
    store(
        conn,
        2,
        [
            (fetched(URLS[0], "<p>beta 2</p>", at(2)), repriced),
            (fetched(URLS[1], "<p>gamma 2</p>", at(2)), reworded),
            (other(URLS[2], "gone", at(2), status=410), None),
        ],
    )
    assert_consistent(conn)
    assert conn.execute("SELECT count(*) FROM price_changes").fetchone()[0] == 2
    reuse = dict(conn.execute("SELECT text, current_pages FROM verdict_reuse").fetchall())
    assert reuse["Seat 2 now says Alpha is merely fine under load."] == 1
    assert reuse[first[1].quotes[2].text] == 1  # on beta still; gone from gamma; delta is gone

    # Unchanged re-crawl: 304s move last_seen only; nothing is dirty, every count stays.
    before = summaries.snapshot(conn)
    ArchiveWriter(conn, crawl_row(conn, 3), summaries=False).store(
        [(other(url, "not_modified", at(3), status=304), None) for url in URLS[:2]]
    )
    assert conn.execute("SELECT count(*) FROM summary_dirty").fetchone()[0] == 0
    summaries.refresh(conn)
    assert summaries.snapshot(conn)["summary_verdicts"] == before["summary_verdicts"]
    assert_consistent(conn)

    # The gone page comes back with its old body: current again.
    store(conn, 4, [(fetched(URLS[2], f"<p>{URLS[2]} 1</p>", at(4)), first[2])])
    assert_consistent(conn)


def test_an_incomplete_parse_keeps_summaries_exact(conn: sqlite3.Connection) -> None:
    store(conn, 1, [(fetched(URLS[0], "<p>1</p>", at(1)), comparison())])
    broken = comparison(status="incomplete", problems=["entry_price: missing"])
    broken.listings = [listing(1, "Alpha", None, None, entry_price_kind=None), broken.listings[1]]
    store(conn, 2, [(fetched(URLS[0], "<p>2</p>", at(2)), broken)])
    assert_consistent(conn)
    assert conn.execute("SELECT tool1_entry_price FROM current_comparisons").fetchone()[0] == "$20/mo"


def test_a_writer_outside_a_crawl_refreshes_at_every_store(conn: sqlite3.Connection) -> None:
    ArchiveWriter(conn, None).store([(fetched(URLS[0], "<p>1</p>", at(1)), comparison())])
    assert conn.execute("SELECT count(*) FROM summary_dirty").fetchone()[0] == 0
    assert conn.execute("SELECT max(pages) FROM verdict_reuse").fetchone()[0] == 1
    assert_consistent(conn)


def test_reparse_leaves_summaries_exact(archive_path: Path) -> None:
    variants = FIXTURES / "variants"
    db = open_archive(archive_path)
    page = (variants / "seed_000_divs.html").read_bytes()
    other_page = (variants / "seed_004_tables.html").read_bytes()
    good = parse_page(page, URLS[0])
    wrong = replace(
        good,
        parser_version="0.0.1",
        listings=[replace(good.listings[0], entry_price="Fre", entry_price_usd=None), *good.listings[1:]],
        quotes=[replace(good.quotes[0], text="garbled"), *good.quotes[1:]],
    )
    writer = ArchiveWriter(db, None, summaries=False)
    writer.store([(fetched(URLS[0], page, at(1)), wrong), (fetched(URLS[1], other_page, at(1)), None)])
    db.close()
    assert run_reparse(archive_path, workers=1) == 0
    conn = connect_sqlite(archive_path)
    try:
        assert_consistent(conn)
        texts = [t for (t,) in conn.execute("SELECT text FROM verdict_reuse")]
        assert "garbled" not in texts and texts
    finally:
        conn.close()


def test_a_real_crawl_ends_with_summaries_exact(
    archive_path: Path, site_dir: Path, server: StaticServer
) -> None:
    settings = Settings(
        db_path=archive_path, sites=(Site(name="fixture", start_urls=(f"{server.origin}/",)),), delay=0.0
    )
    assert crawl(settings).status == "completed"
    comparisons = sorted(site_dir.glob("compare/*/index.html"))
    page = next(p for p in comparisons if b'stat__value">$' in p.read_bytes())
    text = page.read_text(encoding="utf-8")
    page.write_text(re.sub(r'(stat__value">\$)(\d)', r"\g<1>9\g<2>", text, count=1), encoding="utf-8")
    assert crawl(settings).status == "completed"
    conn = connect_sqlite(archive_path)
    try:
        assert_consistent(conn)
        assert conn.execute("SELECT count(*) FROM price_changes").fetchone()[0] >= 2
        state = conn.execute("SELECT value FROM archive_state WHERE key = 'summaries.last_refresh'")
        assert state.fetchone()[0].split()[0] == "1"  # one comparison recomputed at the second crawl's end
    finally:
        conn.close()


def store_conflicts(conn: sqlite3.Connection) -> ParseResult:
    """Crawl 1: one page; crawl 2: Alpha's seat-1 words credited to Gamma on a second page, and
    Alpha's seat-2 quote in seat 3 on a third: conflicts of both kinds. Returns crawl 1's parse."""
    first = comparison("Alpha", "Beta")
    store(conn, 1, [(fetched(URLS[0], "<p>1</p>", at(1)), first)])
    borrowed = with_quote(comparison("Gamma", "Delta"), 0, first.quotes[0].text)
    moved = comparison("Alpha", "Epsilon")
    quotes = list(moved.quotes)
    quotes[4] = replace(first.quotes[2], reviewer_seat=3)
    moved = replace(moved, quotes=quotes)
    store(
        conn,
        2,
        [(fetched(URLS[1], "<p>2</p>", at(2)), borrowed), (fetched(URLS[2], "<p>3</p>", at(2)), moved)],
    )
    return first


def test_conflicts_of_both_kinds_keep_the_old_answer(conn: sqlite3.Connection) -> None:
    """The same words about two tools, and one verdict in two reviewer rows: verdict_conflicts
    answers the rows of its old whole-archive definition, after every crawl."""
    store(conn, 1, [(fetched(URLS[0], "<p>1</p>", at(1)), comparison("Alpha", "Beta"))])
    assert_consistent(conn)
    assert conn.execute("SELECT count(*) FROM verdict_conflicts").fetchone()[0] == 0

    store_conflicts(conn)
    assert_consistent(conn)
    kinds = dict(
        conn.execute("SELECT conflict, count(*) FROM verdict_conflicts GROUP BY conflict").fetchall()
    )
    assert set(kinds) == {"different tools", "different seats"}
    assert conn.execute("SELECT count(*) FROM summary_text_conflicts").fetchone()[0] == 1

    # A merge or a hand edit that removes the borrowed verdict: its text conflicts no more.
    conn.execute(
        "DELETE FROM verdict_appearances WHERE comparison_id IN (SELECT id FROM comparisons WHERE url = ?)",
        [URLS[1]],
    )
    conn.execute("DELETE FROM verdicts WHERE tool_id = (SELECT id FROM tools WHERE name = 'Gamma')")
    summaries.refresh(conn)
    assert_consistent(conn)
    assert conn.execute("SELECT count(*) FROM summary_text_conflicts").fetchone()[0] == 0


async def test_published_conflicts_are_the_archives(conn: sqlite3.Connection, archive_path: Path) -> None:
    """Through Datasette (whose visitors read only public tables, db/publish_access.py) the
    view answers the same rows as on the archive itself."""
    store_conflicts(conn)
    expected = rows(conn, "SELECT conflict, verdict_id, comparison_id, reviewer_seat FROM verdict_conflicts")
    ds = make_datasette(archive_path)
    response = await ds.client.get("/archive/verdict_conflicts.json?_shape=array&_size=max")
    assert response.status_code == 200
    served = [
        (r["conflict"], r["verdict_id"], r["comparison_id"], r["reviewer_seat"]) for r in response.json()
    ]
    assert sorted(served, key=repr) == expected
    assert {row[0] for row in expected} == {"different tools", "different seats"}


def test_few_changed_pages_recount_their_verdicts_many_recount_all(conn: sqlite3.Connection) -> None:
    """A crawl that changes most pages counts every verdict in one pass, one that changes a few
    looks up the verdicts on them: both leave the summaries as a rebuild would."""
    pages = [(f"https://example.test/compare/t{n}-vs-u{n}", comparison(f"T{n}", f"U{n}")) for n in range(8)]
    ArchiveWriter(conn, crawl_row(conn, 1), summaries=False).store(
        [(fetched(url, f"<p>{url}</p>", at(1)), parse) for url, parse in pages]
    )
    assert summaries.whole_verdicts(conn)
    summaries.refresh(conn, tools=True)
    assert_consistent(conn)

    url, parse = pages[0]
    reworded = with_quote(parse, 1, "Seat 1 says U0 is slower than it looks.")
    ArchiveWriter(conn, crawl_row(conn, 2), summaries=False).store(
        [(fetched(url, "<p>new</p>", at(2)), reworded)]
    )
    assert not summaries.whole_verdicts(conn)
    summaries.refresh(conn, tools=True)
    assert_consistent(conn)
    assert conn.execute("SELECT count(*) FROM verdict_reuse WHERE current_pages = 0").fetchone()[0] == 1


def refreshed_tools(conn: sqlite3.Connection) -> int:
    """How many tools the last refresh recomputed (archive_state, for bench/crawl.py)."""
    state = conn.execute("SELECT value FROM archive_state WHERE key = 'summaries.last_refresh'")
    return int(state.fetchone()[0].split()[2])


def test_per_tool_figures_recompute_the_changed_tools_only(conn: sqlite3.Connection) -> None:
    """A re-crawl that revisits one page (304) recomputes that page's two tools, and the
    revisit alone can change a tool's latest price: equal to a rebuild after every step."""
    cheap = comparison("Alpha", "Beta", listings=[listing(1, "Alpha", "$20/mo", 20.0), listing(2, "Beta")])
    dear = comparison("Alpha", "Gamma", listings=[listing(1, "Alpha", "$25/mo", 25.0), listing(2, "Gamma")])
    others = [(f"https://example.test/compare/t{n}-vs-u{n}", comparison(f"T{n}", f"U{n}")) for n in range(6)]
    store(
        conn,
        1,
        [
            (fetched(URLS[0], "<p>cheap</p>", at(1, 10)), cheap),
            (fetched(URLS[1], "<p>dear</p>", at(1, 11)), dear),
            *[(fetched(url, f"<p>{url}</p>", at(1)), parse) for url, parse in others],
        ],
    )
    tools = conn.execute("SELECT count(*) FROM tools").fetchone()[0]
    assert refreshed_tools(conn) == tools == 15
    assert_consistent(conn)
    latest = (
        "SELECT s.entry_price FROM summary_tools s JOIN tools t ON t.id = s.tool_id WHERE t.name = 'Alpha'"
    )
    assert conn.execute(latest).fetchone()[0] == "$25/mo"  # the page seen last

    ArchiveWriter(conn, crawl_row(conn, 2), summaries=False).store(
        [(other(URLS[0], "not_modified", at(2), status=304), None)]
    )
    assert conn.execute("SELECT count(*) FROM summary_dirty").fetchone()[0] == 0
    summaries.refresh(conn)
    assert refreshed_tools(conn) == 2  # Alpha and Beta, through their listings
    assert conn.execute(latest).fetchone()[0] == "$20/mo"  # the cheap page is now the latest seen
    assert_consistent(conn)

    summaries.refresh(conn)
    assert refreshed_tools(conn) == 0  # nothing changed since

    # A reworded quote on one page: a new verdict for T0 (and T0's listing row seen again).
    url, parse = others[0]
    store(conn, 3, [(fetched(url, "<p>reworded</p>", at(3)), with_quote(parse, 0, "Seat 1 says T0 stalls."))])
    assert refreshed_tools(conn) == 2
    assert_consistent(conn)

    # A tool removed by hand (a merge gone wrong, say): its row goes too.
    conn.execute(
        "INSERT INTO tools (id, name, first_seen, last_seen) VALUES ('lonely', 'Lonely', ?, ?)",
        [at(4), at(4)],
    )
    summaries.refresh(conn)
    assert conn.execute("SELECT pages FROM summary_tools WHERE tool_id = 'lonely'").fetchone() == (0,)
    conn.execute("DELETE FROM tools WHERE id = 'lonely'")
    summaries.refresh(conn)
    assert conn.execute("SELECT count(*) FROM summary_tools WHERE tool_id = 'lonely'").fetchone()[0] == 0
    assert_consistent(conn)


def test_triggers_come_from_one_template() -> None:
    """The generated triggers mark each dirty table the same way (the old hand-written text)."""
    sql = summaries.trigger_sql(
        "summary_dirty_listing_gone", "listings", "DELETE", (), (("summary_dirty", "old.comparison_id"),)
    )
    assert sql == (
        "CREATE TRIGGER IF NOT EXISTS summary_dirty_listing_gone AFTER DELETE ON listings BEGIN\n"
        "    INSERT INTO summary_dirty SELECT old.comparison_id\n"
        "        WHERE NOT EXISTS (SELECT 1 FROM summary_dirty WHERE comparison_id = old.comparison_id);\n"
        "END;\n"
    )
    assert sql in summaries.SCHEMA
