"""No view, canned query or chart reads a whole big table: at 100,000 pages that is seconds a click.

`verdict_appearances` (8 rows a page), `listings` (2+ a page) and `snapshots` (1+ a page)
grow with the site; every published question must reach them through an index (or read
the summary tables of db/summaries.py instead). SQLite's EXPLAIN QUERY PLAN says "SCAN t"
for a full pass over t (its rows or one of its indexes), "SEARCH t" for an indexed lookup.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from db.archive import open_archive
from db.publish import load_metadata
from db.store import ArchiveWriter
from db.views import VIEWS
from tests.archive_factory import at, comparison, fetched, listing

BIG_TABLES = ("verdict_appearances", "listings", "snapshots")
#: Relations whose answer is one row per row of a big table: reading it whole is the answer,
#: not a detour (Datasette pages them LIMIT 101 at a time and counts them once).
ONE_ROW_PER_ROW = {"view parse_health": "snapshots"}

_METADATA = load_metadata()


def statements() -> dict[str, str]:
    """Every view, canned query and dashboard chart query, by a readable name."""
    found = {f"view {name}": f"SELECT * FROM [{name}]" for name in VIEWS}
    for name, query in _METADATA["databases"]["archive"]["queries"].items():
        found[f"query {name}"] = query["sql"]
    for dashboard in _METADATA["plugins"]["datasette-dashboards"].values():
        for name, chart in dashboard["charts"].items():
            found[f"chart {name}"] = chart["query"]
        for name, chart in dashboard.get("filters", {}).items():
            if "query" in chart:
                found[f"filter {name}"] = chart["query"]
    return found


def aliases(sql: str) -> dict[str, str]:
    """Name or alias in a plan -> big table, for `sql` and the views it reads."""
    texts = [sql] + [VIEWS[name] for name in VIEWS if re.search(rf"\b{name}\b", sql)]
    names = {table: table for table in BIG_TABLES}
    pattern = re.compile(rf"\b({'|'.join(BIG_TABLES)})\s+(?:AS\s+)?(\w+)", re.IGNORECASE)
    keywords = {"on", "where", "join", "left", "cross", "group", "order", "limit", "union", "using"}
    for text in texts:
        for table, alias in pattern.findall(text):
            if alias.lower() not in keywords:
                names[alias] = table.lower()
    return names


def full_scans(conn: sqlite3.Connection, sql: str) -> list[str]:
    """Plan lines that read a big table whole."""
    params = dict.fromkeys(re.findall(r"(?<!:):(\w+)", sql), "")
    names = aliases(sql)
    scans = []
    for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params):
        detail = row[3]
        # a full pass: SCAN, or an automatic index SQLite builds by reading the whole table
        match = re.match(r"SCAN (\w+)", detail) or re.match(r"SEARCH (\w+) USING AUTOMATIC", detail)
        if match and match[1] in names:
            scans.append(f"{detail} ({names[match[1]]})")
    return scans


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    path: Path = tmp_path_factory.mktemp("plans") / "archive.db"
    db = open_archive(path)
    for n in range(3):
        url = f"https://example.test/compare/tool-{n}-vs-other"
        parse = comparison(f"Tool {n}", "Other")
        ArchiveWriter(db, None).store([(fetched(url, f"<p>{n}</p>", at(1)), parse)])
    db.close()
    connection = sqlite3.connect(path)
    from datasette.utils import escape_fts

    connection.create_function("escape_fts", 1, escape_fts)  # Datasette's, used by search_verdicts
    return connection


def test_every_published_statement_is_checked() -> None:
    found = statements()
    assert {f"view {name}" for name in VIEWS} <= set(found)
    assert "query entry_price_changes" in found and "chart panel-scores" in found


@pytest.mark.parametrize("name", sorted(statements()))
def test_no_full_scan_of_a_big_table(conn: sqlite3.Connection, name: str) -> None:
    scans = full_scans(conn, statements()[name])
    allowed = ONE_ROW_PER_ROW.get(name)
    scans = [line for line in scans if not (allowed and line.endswith(f"({allowed})"))]
    assert not scans, f"{name} reads a whole big table: {scans}"


def test_the_check_sees_a_full_scan(conn: sqlite3.Connection) -> None:
    """The detector itself: the old reuse view's GROUP BY over every appearance is caught."""
    old_reuse = "SELECT verdict_id, count(*) FROM verdict_appearances a GROUP BY verdict_id"
    assert full_scans(conn, old_reuse)
    assert not full_scans(conn, "SELECT * FROM verdict_appearances a WHERE a.verdict_id = 'x'")


#: Tables a site's end may read whole: one row per crawl (or per field and crawl), never per page.
_PER_CRAWL = {"crawls", "crawl_field_stats", "archive_state", "sqlite_master"}


def test_a_sites_end_of_crawl_steps_read_only_its_own_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concluding a site (quality gate, change counts, crawls row: crawler/engine.py
    `_conclude_sites`) reaches the crawl's own rows through indexes: twenty sites ending
    together must not cost twenty passes over the archive (the summaries, which do read
    whole tables, are refreshed once per run)."""
    import threading
    from types import SimpleNamespace

    import db.archive
    from crawler import engine
    from crawler.config import Settings
    from crawler.writer import WriterReport
    from db import crawl_log

    path = tmp_path / "archive.db"
    archive = open_archive(path)
    for day in (1, 2):  # a previous crawl of the site, then the one to conclude
        crawl_id = crawl_log.begin(archive, "https://example.test/", ["https://example.test/"]).crawl_id
        for n in range(3):
            url = f"https://example.test/compare/tool-{n}-vs-other"
            parse = comparison(
                listings=[listing(1, f"Tool {n}", price=f"${9 + day}/mo"), listing(2, "Other")]
            )
            ArchiveWriter(archive, crawl_id).store([(fetched(url, f"<p>{n} {day}</p>", at(day)), parse)])
        if day == 1:
            crawl_log.finish(archive, crawl_id, "completed")
    archive.close()
    statements: list[str] = []
    connect = db.archive.connect_sqlite

    def traced(*args: object, **kwargs: object) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)  # type: ignore[arg-type]
        connection.set_trace_callback(statements.append)
        return connection

    monkeypatch.setattr(db.archive, "connect_sqlite", traced)
    report = engine.CrawlReport("site", crawl_id=crawl_id, requests=3, outcomes={"fetched": 3})
    loop = SimpleNamespace(error=None, finished=True, capped=False)
    reply = ("finished", WriterReport(crawl_id=crawl_id))
    engine._conclude_sites(Settings(db_path=path), [(report, reply, loop)], threading.Event())  # type: ignore[list-item]
    monkeypatch.undo()
    assert report.status == "completed", report.reasons
    reads = [s for s in statements if re.match(r"\s*(SELECT|WITH|UPDATE|DELETE|INSERT)", s, re.IGNORECASE)]
    assert len(reads) >= 5
    plans = sqlite3.connect(path)
    try:
        for sql in reads:
            for row in plans.execute(f"EXPLAIN QUERY PLAN {sql}"):
                match = re.match(r"(?:SCAN|SEARCH) (\w+)(?: AS \w+)?( USING AUTOMATIC)?", row[3])
                whole = match and (row[3].startswith("SCAN") or match[2])
                assert not (whole and match[1] not in _PER_CRAWL), f"{row[3]} in: {sql}"
    finally:
        plans.close()
