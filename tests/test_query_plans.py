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
from tests.archive_factory import at, comparison, fetched

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
