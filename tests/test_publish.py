"""The published archive, through Datasette's own in-process client.

A small archive of two crawls is built with sqlite-utils inserts into the real schema
(`db.archive.open_archive`): tools on several pages, quotes reused across pages, a
price change between the crawls, a page that failed and one that came back
incomplete, and a quote that contains markup. Every test reads it through
`db.publish.make_datasette`, the same object `verdicts serve` runs.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from datasette.app import Datasette

from db.archive import open_archive
from db.changes import Change
from db.identity import comparison_id, page_id, pair_key, text_key, tool_id, verdict_id
from db.publish import (
    ALLOWED_PLUGINS,
    DATABASE_NAME,
    OUR_PLUGINS,
    ArchiveNotFound,
    disable_unlisted_plugins,
    load_metadata,
    make_datasette,
    metadata_for,
)
from db.publish_stream import whole_relation_request
from db.views import COUNT_AS, VIEWS

CRAWL_1 = "2026-11-20T03:00:00+00:00"
CRAWL_2 = "2026-11-23T03:00:00+00:00"
SITE = "https://verdicts.example"
CHANGE_COLUMNS = ("id", "crawl_id", "observed_at", "comparison_id", "tool_id", "kind", "field", "old", "new")
CHANGE_COLUMNS += ("detail",)
SCRIPT_QUOTE = 'Ships fast. <script>alert("owned")</script> <b>bold</b> claims aside, it works.'

# name, category, tagline, (price text, usd, kind) at crawl 1, same at crawl 2
TOOLS: dict[str, tuple[str, str, tuple[str, float, str], tuple[str, float, str]]] = {
    "SmolVLM2 Turbo": (
        "Developer Tools",
        "Sub-2B vision-language model that actually runs on your phone",
        ("Free", 0.0, "free"),
        ("Free", 0.0, "free"),
    ),
    "Mistral-Next 22B": (
        "Developer Tools",
        "Apache 2.0 open weights at sub-30B that actually compete",
        ("Free", 0.0, "free"),
        ("Free", 0.0, "free"),
    ),
    "Mistral 3 Small (24B)": (
        "Developer Tools",
        "Open weights for the edge",
        ("Free", 0.0, "free"),
        ("Free", 0.0, "free"),
    ),
    "Cursor": (
        "Coding Assistants",
        "The AI code editor",
        ("$20/mo", 20.0, "paid"),
        ("$25/mo", 25.0, "paid"),
    ),
    "Windsurf": (
        "Coding Assistants",
        "Agentic IDE with a free tier",
        ("Free + $15/mo", 15.0, "freemium"),
        ("Free + $15/mo", 15.0, "freemium"),
    ),
    "Copilot": (
        "Coding Assistants",
        "Pair programmer in your editor",
        ("$10/mo", 10.0, "paid"),
        ("$10/mo", 10.0, "paid"),
    ),
    "Zed AI": (
        "Coding Assistants",
        "A fast editor with an assistant",
        ("Contact sales", 0.0, "contact"),
        ("Contact sales", 0.0, "contact"),
    ),
}
PAIRS = [
    ("SmolVLM2 Turbo", "Mistral-Next 22B"),
    ("SmolVLM2 Turbo", "Mistral 3 Small (24B)"),
    ("Cursor", "Windsurf"),
    ("Windsurf", "Cursor"),
    ("Cursor", "Copilot"),
    ("Copilot", "Zed AI"),
]
SEATS = (1, 2, 3, 4)
PANEL = {"SmolVLM2 Turbo": 100, "Mistral-Next 22B": 100, "Cursor": 75, "Windsurf": 50}


def quote(tool: str, seat: int, crawl: int) -> str:
    """The quote a tool's reviewer seat gives; the same on every page (as the site does)."""
    if tool == "Zed AI" and seat == 1:
        return SCRIPT_QUOTE
    if tool == "Cursor" and seat == 1 and crawl == 2:
        return "The primitive here is clean: rewritten after the price rise, and still a ship."
    return f"The primitive here is clean: {tool} earns seat {seat}'s ship for its own reasons."


def slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


def build_sample_archive(path: Path) -> None:
    """Two crawls of a small site, inserted into the real schema."""
    db = open_archive(path)
    with db.conn:
        db["crawls"].insert_all(
            [
                {
                    "id": number,
                    "site": "verdicts.example",
                    "start_urls": json.dumps([SITE + "/"]),
                    "started_at": started,
                    "finished_at": started.replace("03:00:00", "03:10:00"),
                    "status": status,
                    "pages_fetched": 7,
                    "pages_failed": number - 1,
                }
                for number, started, status in ((1, CRAWL_1, "completed"), (2, CRAWL_2, "degraded"))
            ]
        )
        for name, (category, tagline, _, _) in TOOLS.items():
            db["tools"].insert(
                {
                    "id": tool_id(name),
                    "name": name,
                    "category": category,
                    "tagline": tagline,
                    "description": f"{name} is a tool in {category.lower()}.",
                    "first_seen": CRAWL_1,
                    "last_seen": CRAWL_2,
                }
            )
        snapshot = 0
        for left, right in PAIRS:
            url = f"{SITE}/compare/{slug(left)}-vs-{slug(right)}"
            cid = comparison_id(url)
            incomplete = (left, right) == ("Copilot", "Zed AI")
            changed = "Cursor" in (left, right) or incomplete
            db["pages"].insert(
                {
                    "id": page_id(url),
                    "url": url,
                    "host": "verdicts.example",
                    "first_seen": CRAWL_1,
                    "last_seen": CRAWL_2,
                    "last_crawl_id": 2,
                    "status": "ok",
                    "http_status": 200,
                    "content_type": "text/html; charset=utf-8",
                    "body_sha256": f"{snapshot:064x}",
                }
            )
            snapshot_ids = {}
            for crawl, at in ((1, CRAWL_1), (2, CRAWL_2)):
                if crawl == 2 and not changed:
                    continue
                snapshot += 1
                sha = f"{snapshot:064x}"
                db["bodies"].insert({"sha256": sha, "size": 10, "compression": "zlib", "data": b"x"})
                status = "incomplete" if crawl == 2 and incomplete else "ok"
                db["snapshots"].insert(
                    {
                        "id": snapshot,
                        "page_id": page_id(url),
                        "url": url,
                        "crawl_id": crawl,
                        "fetched_at": at,
                        "http_status": 200,
                        "content_type": "text/html; charset=utf-8",
                        "body_sha256": sha,
                        "parse_status": status,
                        "parse_problems": json.dumps(
                            ["entry_price: missing for Zed AI"] if status == "incomplete" else []
                        ),
                        "parser": "generic",
                        "parser_version": "1",
                        "last_seen": CRAWL_2 if crawl == 2 or not changed else CRAWL_1,
                        "last_crawl_id": 2 if crawl == 2 or not changed else 1,
                    }
                )
                snapshot_ids[crawl] = snapshot
            db["comparisons"].insert(
                {
                    "id": cid,
                    "url": url,
                    "title": f"{left} vs {right}",
                    "tool1_id": tool_id(left),
                    "tool2_id": tool_id(right),
                    "pair_key": pair_key(left, right),
                    "complete": 0 if incomplete else 1,
                    "first_seen": CRAWL_1,
                    "last_seen": CRAWL_2,
                    "snapshot_id": snapshot_ids.get(2, snapshot_ids[1]),
                    "first_crawl_id": 1,
                    "last_crawl_id": 2,
                }
            )
            for position, name in enumerate((left, right), start=1):
                add_listing_history(db, cid, name, position, snapshot_ids)
                for seat in SEATS:
                    for crawl in (1, 2):
                        text = quote(name, seat, crawl)
                        vid = verdict_id(tool_id(name), text)
                        first = CRAWL_1 if quote(name, seat, 1) == text else CRAWL_2
                        last = CRAWL_2 if quote(name, seat, 2) == text else CRAWL_1
                        db["verdicts"].upsert(
                            {
                                "id": vid,
                                "tool_id": tool_id(name),
                                "reviewer_seat": seat,
                                "text": text,
                                "text_key": text_key(text),
                                "first_seen": first,
                                "last_seen": last,
                            },
                            pk="id",
                        )
                        db["verdict_appearances"].upsert(
                            {
                                "verdict_id": vid,
                                "comparison_id": cid,
                                "reviewer_seat": seat,
                                "position": position,
                                "first_seen": first,
                                "last_seen": last,
                                "first_crawl_id": 1 if first == CRAWL_1 else 2,
                                "last_crawl_id": 2 if last == CRAWL_2 else 1,
                                "snapshot_id": snapshot_ids.get(crawl, snapshot_ids[1]),
                            },
                            pk=("verdict_id", "comparison_id"),
                        )
            if "Cursor" in (left, right):  # the change log the writer would have kept
                cursor = tool_id("Cursor")
                logged = [
                    Change("price_changed", cursor, "entry_price_usd", 20.0, 25.0, {"pct": 25.0}),
                    Change("verdict_edited", cursor, "text", quote("Cursor", 1, 1), quote("Cursor", 1, 2)),
                ]
                db["changes"].insert_all(
                    [dict(zip(CHANGE_COLUMNS, c.row(2, CRAWL_2, cid), strict=True)) for c in logged]
                )
        failed = f"{SITE}/compare/zed-ai-vs-cursor"
        db["pages"].insert(
            {
                "id": page_id(failed),
                "url": failed,
                "host": "verdicts.example",
                "first_seen": CRAWL_2,
                "last_seen": CRAWL_2,
                "last_crawl_id": 2,
                "status": "failed",
                "http_status": 503,
                "last_error": "HTTP 503 after 4 attempts",
            }
        )
    db.close()


def add_listing_history(db: Any, cid: str, name: str, position: int, snapshot_ids: dict[int, int]) -> None:
    """One listing row per distinct set of values, with the period it was published."""
    _, _, before, after = TOOLS[name]
    missing_price = name == "Zed AI" and 2 in snapshot_ids
    values = [(before, 1)]
    if 2 in snapshot_ids and (after != before or missing_price):
        values.append((after, 2))
    for index, ((price, usd, kind), crawl) in enumerate(values):
        last = index == len(values) - 1
        gone = missing_price and crawl == 2
        db["listings"].insert(
            {
                "id": f"{cid[:8]}{position}{crawl}{name[:6]}",
                "comparison_id": cid,
                "tool_id": tool_id(name),
                "position": position,
                "panel_ship_pct": PANEL.get(name, 60),
                "community_pct": None if name.startswith("Smol") else 40 + position,
                "entry_price": None if gone else price,
                "entry_price_usd": None if gone else usd,
                "entry_price_kind": None if gone else kind,
                "complete": 0 if gone else 1,
                "first_seen": CRAWL_1 if crawl == 1 else CRAWL_2,
                "last_seen": CRAWL_2 if last else CRAWL_1,
                "first_crawl_id": crawl,
                "last_crawl_id": 2 if last else 1,
                "snapshot_id": snapshot_ids[crawl],
            }
        )


# --- fixtures -------------------------------------------------------------------------

#: Column names that explain themselves in any table or view.
OBVIOUS_COLUMNS = frozenset(
    {"id", "url", "title", "name", "host", "first_seen", "last_seen", "size", "content_type"}
)


@pytest.fixture(scope="module")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample archive under a file name that is not 'archive'."""
    path = tmp_path_factory.mktemp("publish") / "nightly-2026.db"
    build_sample_archive(path)
    return path


@pytest.fixture(scope="module")
def ds(sample_path: Path) -> Datasette:
    return make_datasette(sample_path)


def sql_rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


async def get_json(ds: Datasette, path: str) -> Any:
    response = await ds.client.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    return response.json()


async def public_relations(ds: Datasette) -> dict[str, list[str]]:
    """Every table and view Datasette lists (FTS index internals excluded) -> its columns."""
    data = await get_json(ds, f"/{DATABASE_NAME}.json")
    shadow = {t["name"] for t in data["tables"] if t.get("fts_table") or "_fts" in t["name"]}
    relations = {t["name"]: t["columns"] for t in data["tables"] if t["name"] not in shadow}
    for view in data["views"]:
        info = await get_json(ds, f"/{DATABASE_NAME}/{view['name']}.json?_size=0")
        relations[view["name"]] = info["columns"]
    return relations


# --- metadata -------------------------------------------------------------------------


async def test_served_as_archive_whatever_the_file_is_called(ds: Datasette) -> None:
    databases = await get_json(ds, "/-/databases.json")
    assert [d["name"] for d in databases] == [DATABASE_NAME]
    assert (await ds.client.get("/nightly-2026")).status_code == 404


async def test_metadata_names_title_source_license_and_about(ds: Datasette) -> None:
    metadata = await get_json(ds, "/-/metadata.json")
    for key in ("title", "source", "source_url", "license", "license_url", "about", "about_url"):
        assert metadata.get(key), key
    home = (await ds.client.get("/")).text
    assert "Verdict archive" in home
    assert "Start here" in home


async def test_every_table_view_and_column_is_described(ds: Datasette) -> None:
    tables = (await get_json(ds, "/-/metadata.json"))["databases"][DATABASE_NAME]["tables"]
    undescribed = []
    for relation, columns in (await public_relations(ds)).items():
        described = tables.get(relation, {})
        if not described.get("description"):
            undescribed.append(relation)
        for column in columns:
            if column not in OBVIOUS_COLUMNS and column not in described.get("columns", {}):
                undescribed.append(f"{relation}.{column}")
    assert not undescribed, f"not described in db/metadata.yml: {undescribed}"


async def test_foreign_keys_show_names(ds: Datasette) -> None:
    verdicts = await get_json(ds, f"/{DATABASE_NAME}/verdicts.json?_labels=on&_shape=objects")
    labels = {row["tool_id"]["label"] for row in verdicts["rows"]}
    assert "Zed AI" in labels
    listings = await get_json(ds, f"/{DATABASE_NAME}/listings.json?_labels=on&_shape=objects")
    assert {row["comparison_id"]["label"] for row in listings["rows"]} >= {"Cursor vs Windsurf"}


async def test_page_counts_of_one_row_per_row_views_come_from_their_table(sample_path: Path) -> None:
    """Datasette counts a view page's rows by running the view whole; for the views of
    COUNT_AS it counts their table instead (exact: one row per row), and says the same."""
    traced = make_datasette(sample_path, settings={"trace_debug": True})
    for view, table in COUNT_AS.items():
        data = await get_json(traced, f"/{DATABASE_NAME}/{view}.json?_trace=1")
        (expected,) = sql_rows(sample_path, f"select count(*) from [{view}]")[0]
        assert (
            data["filtered_table_rows_count"]
            == expected
            == sql_rows(sample_path, f"select count(*) from {table}")[0][0]
        )
        sqls = [trace["sql"] for trace in data["_trace"]["traces"]]
        assert f"select count(*) from [{table}]" in sqls
        assert not any(sql.startswith(f"select count(*) from {view}") for sql in sqls)
        filtered = await get_json(traced, f"/{DATABASE_NAME}/{view}.json?complete=1")
        (expected,) = sql_rows(sample_path, f"select count(*) from [{view}] where complete = 1")[0]
        assert filtered["filtered_table_rows_count"] == expected  # a filtered count runs the view


def test_count_as_views_have_one_row_per_row_of_their_table() -> None:
    """The table drives the view and every join is a LEFT JOIN on a unique key (the shape
    that makes the counts equal); tests/test_summaries.py checks the counts on an archive."""
    for view, table in COUNT_AS.items():
        sql = VIEWS[view]
        assert re.search(rf"\bFROM {table} \w+\s", sql)
        joins = re.findall(r"(\w+)\s+JOIN\b", sql)
        assert joins and all(word.upper() == "LEFT" for word in joins), (view, joins)
        assert "GROUP BY" not in sql.upper() and "WHERE" not in sql.upper()


@pytest.mark.parametrize(("table", "facets"), [("tools", {"category"}), ("crawls", {"status"})])
async def test_default_facets(ds: Datasette, table: str, facets: set[str]) -> None:
    data = await get_json(ds, f"/{DATABASE_NAME}/{table}.json")
    assert facets <= set(data["facet_results"])
    assert not any(result["truncated"] for result in data["facet_results"].values())


#: Relations that stay small whatever the site's size: the only ones with default facets.
SMALL_RELATIONS = {"tools", "crawls", "crawl_field_stats", "notifications", "changes_per_crawl"}


def test_only_small_relations_have_default_facets() -> None:
    """A default facet groups its whole table or view on every visit: seconds at 100,000 pages."""
    tables = load_metadata()["databases"]["archive"]["tables"]
    assert {name for name, table in tables.items() if table.get("facets")} <= SMALL_RELATIONS


@pytest.mark.parametrize(("table", "facet"), [("verdicts", "tool_id"), ("listings", "entry_price_kind")])
async def test_big_tables_facet_on_request(ds: Datasette, sample_path: Path, table: str, facet: str) -> None:
    plain = await get_json(ds, f"/{DATABASE_NAME}/{table}.json")
    assert not plain["facet_results"]
    data = await get_json(ds, f"/{DATABASE_NAME}/{table}.json?_facet={facet}")
    counts = {row["value"]: row["count"] for row in data["facet_results"][facet]["results"]}
    expected = sql_rows(
        sample_path, f"select {facet}, count(*) from {table} where {facet} is not null group by 1"
    )
    assert counts == dict(expected) and counts


# --- canned queries ---------------------------------------------------------------------


def canned_query_names() -> list[str]:
    (database,) = load_metadata()["databases"].values()
    return list(database["queries"])


def test_at_least_six_canned_queries_none_shadowing_a_table(sample_path: Path) -> None:
    names = canned_query_names()
    assert len(names) >= 6
    relations = {name for (name,) in sql_rows(sample_path, "select name from sqlite_master")}
    assert not relations & set(names)


@pytest.mark.parametrize("name", canned_query_names())
async def test_canned_query_returns_rows_with_its_defaults(ds: Datasette, name: str) -> None:
    page = await ds.client.get(f"/{DATABASE_NAME}/{name}")
    assert page.status_code == 200
    data = await get_json(ds, f"/{DATABASE_NAME}/{name}.json?_shape=objects")
    assert data["rows"], f"{name} returned no rows with its default parameters"


async def test_most_repeated_verdicts_counts_pages(ds: Datasette, sample_path: Path) -> None:
    data = await get_json(ds, f"/{DATABASE_NAME}/most_repeated_verdicts.json?_shape=objects")
    top = data["rows"][0]
    ((most,),) = sql_rows(
        sample_path,
        "select count(*) from verdict_appearances group by verdict_id order by 1 desc limit 1",
    )
    assert top["pages"] == most == 3
    at_least_three = await get_json(
        ds, f"/{DATABASE_NAME}/most_repeated_verdicts.json?_shape=objects&min_pages=3"
    )
    assert {row["pages"] for row in at_least_three["rows"]} == {3}


async def test_verdicts_about_a_tool(ds: Datasette, sample_path: Path) -> None:
    data = await get_json(ds, f"/{DATABASE_NAME}/verdicts_about_a_tool.json?_shape=objects&tool=zed")
    ((count,),) = sql_rows(
        sample_path, "select count(*) from verdicts where tool_id = ?", (tool_id("Zed AI"),)
    )
    assert [row["tool"] for row in data["rows"]] == ["Zed AI"] * count
    assert SCRIPT_QUOTE in [row["text"] for row in data["rows"]]


async def test_comparisons_of_a_tool_has_rival_and_both_scores(ds: Datasette) -> None:
    data = await get_json(ds, f"/{DATABASE_NAME}/comparisons_of_a_tool.json?_shape=objects&tool=Cursor")
    rows = sorted(data["rows"], key=lambda row: row["comparison"])
    assert [(r["comparison"], r["rival"]) for r in rows] == [
        ("Cursor vs Copilot", "Copilot"),
        ("Cursor vs Windsurf", "Windsurf"),
        ("Windsurf vs Cursor", "Windsurf"),
    ]
    assert {(r["tool_panel_ship_pct"], r["rival_panel_ship_pct"]) for r in rows} == {
        (75, 60),
        (75, 50),
    }
    assert {r["tool_entry_price"] for r in rows} == {"$25/mo"}  # the current price


async def test_entry_price_changes(ds: Datasette) -> None:
    data = await get_json(ds, f"/{DATABASE_NAME}/entry_price_changes.json?_shape=objects")
    # Zed AI's price went missing on an incomplete page: not a price change.
    assert [
        (r["tool"], r["previous_price"], r["entry_price"], r["change_usd"], r["pages"]) for r in data["rows"]
    ] == [("Cursor", "$20/mo", "$25/mo", 5.0, 3)]
    # A tool whose price never changed: its price as published, so the page is never empty.
    copilot = await get_json(ds, f"/{DATABASE_NAME}/entry_price_changes.json?_shape=objects&tool=copi")
    assert [(r["tool"], r["previous_price"], r["entry_price"], r["pages"]) for r in copilot["rows"]] == [
        ("Copilot", None, "$10/mo", 2)
    ]


async def test_new_verdicts_by_crawl(ds: Datasette, sample_path: Path) -> None:
    latest = await get_json(ds, f"/{DATABASE_NAME}/new_verdicts_by_crawl.json?_shape=objects")
    assert [(r["crawl_id"], r["tool"], r["text"]) for r in latest["rows"]] == [
        (2, "Cursor", quote("Cursor", 1, 2))
    ]
    first = await get_json(ds, f"/{DATABASE_NAME}/new_verdicts_by_crawl.json?crawl=1")
    ((count,),) = sql_rows(sample_path, "select count(*) from verdicts where first_seen = ?", (CRAWL_1,))
    assert len(first["rows"]) == count


async def test_problem_pages_by_crawl(ds: Datasette) -> None:
    data = await get_json(ds, f"/{DATABASE_NAME}/problem_pages_by_crawl.json?_shape=objects")
    assert [(r["crawl_id"], r["outcome"], r["url"].rsplit("/", 1)[1]) for r in data["rows"]] == [
        (2, "fetch failed", "zed-ai-vs-cursor"),
        (2, "parsed incomplete", "copilot-vs-zed-ai"),
    ]
    assert "entry_price" in data["rows"][1]["detail"]
    first = await get_json(ds, f"/{DATABASE_NAME}/problem_pages_by_crawl.json?crawl=1")
    assert first["rows"] == []


# --- search, CSV, charts ----------------------------------------------------------------


async def test_ids_in_canned_queries_and_views_link_to_their_rows(ds: Datasette) -> None:
    data = await get_json(ds, f"/{DATABASE_NAME}/most_repeated_verdicts.json?_shape=objects")
    top = data["rows"][0]["verdict_id"]
    page = (await ds.client.get(f"/{DATABASE_NAME}/most_repeated_verdicts")).text
    assert f'<a href="/{DATABASE_NAME}/verdicts/{top}">{top}</a>' in page
    # the row it links to exists
    assert (await ds.client.get(f"/{DATABASE_NAME}/verdicts/{top}")).status_code == 200

    view = (await ds.client.get(f"/{DATABASE_NAME}/current_comparisons")).text
    cursor = tool_id("Cursor")
    assert f'<a href="/{DATABASE_NAME}/tools/{cursor}">{cursor}</a>' in view


@pytest.mark.parametrize("value", ["0f3a9c", 42, 'a b/<c>&"d.e~f', "ünï"])
def test_id_links_are_what_datasette_would_build(ds: Datasette, value: object) -> None:
    """The links are joined by hand for speed: the same HTML as Markup.format of Datasette's parts."""
    import markupsafe
    from datasette.utils import tilde_encode

    from db.publish_links import ID_LINKS

    got = ID_LINKS.render_cell(None, value, "verdict_id", None, DATABASE_NAME, ds)
    href = f"{ds.urls.table(DATABASE_NAME, 'verdicts')}/{tilde_encode(str(value))}"
    assert got == markupsafe.Markup('<a href="{}">{}</a>').format(href, value)


def test_table_permission_answers_are_datasettes() -> None:
    """ArchiveDatasette keeps each table's `allow` rules instead of working them out per check."""
    from datasette.app import Datasette as Plain

    from db.publish import ArchiveDatasette

    tables = {"open": {}, "closed": {"allow": {"id": "root"}}, "Mixed": {"allow": False}}
    metadata = {"databases": {DATABASE_NAME: {"tables": tables}}}
    ours, theirs = ArchiveDatasette(memory=False, metadata=metadata), Plain(memory=False, metadata=metadata)
    for _ in range(2):  # the second round answers from what the first kept
        for table in ["open", "closed", "mixed", "MIXED", "absent"]:
            mine = ours._table_permission_allows(DATABASE_NAME, table)
            assert mine == theirs._table_permission_allows(DATABASE_NAME, table), table
            mine.append("changed by a caller")  # a caller's change never reaches the kept answer


async def test_table_pages_keep_datasettes_foreign_key_links(ds: Datasette) -> None:
    page = (await ds.client.get(f"/{DATABASE_NAME}/verdicts?tool_id={tool_id('Cursor')}")).text
    # Datasette shows the tool's name as the link text, not the bare id
    assert f'<a href="/{DATABASE_NAME}/tools/{tool_id("Cursor")}">Cursor</a>' in page


async def test_search_finds_a_verdict_and_a_tool(ds: Datasette) -> None:
    verdicts = await get_json(ds, f"/{DATABASE_NAME}/verdicts.json?_search=rewritten&_shape=objects")
    assert [row["text"] for row in verdicts["rows"]] == [quote("Cursor", 1, 2)]
    tools = await get_json(ds, f"/{DATABASE_NAME}/tools.json?_search=agentic&_shape=objects")
    assert [row["name"] for row in tools["rows"]] == ["Windsurf"]
    page = await ds.client.get(f"/{DATABASE_NAME}/tools")
    assert 'name="_search"' in page.text


async def test_search_verdicts_ranks_matches_by_relevance(ds: Datasette, sample_path: Path) -> None:
    params = urlencode({"q": "Cursor ship", "_shape": "objects"})
    rows = (await get_json(ds, f"/{DATABASE_NAME}/search_verdicts.json?{params}"))["rows"]
    every = sql_rows(sample_path, "select id, text from verdicts")
    wanted = {vid for vid, text in every if {"cursor", "ship"} <= set(re.findall(r"\w+", text.lower()))}
    assert wanted and {row["verdict_id"] for row in rows} == wanted
    relevance = [row["relevance"] for row in rows]
    assert relevance == sorted(relevance)  # bm25: lower is a better match
    phrase = urlencode({"q": '"still a ship"', "_shape": "objects"})
    rows = (await get_json(ds, f"/{DATABASE_NAME}/search_verdicts.json?{phrase}"))["rows"]
    assert [row["text"] for row in rows] == [quote("Cursor", 1, 2)]


def test_search_box_only_where_the_index_exists() -> None:
    metadata = metadata_for(existing={"verdicts", "tools", "tools_fts"})
    tables = metadata["databases"][DATABASE_NAME]["tables"]
    assert tables["tools"]["fts_table"] == "tools_fts"
    assert "fts_table" not in tables["verdicts"]


@pytest.mark.parametrize(
    "relation",
    ["verdicts", "verdict_appearances", "listings", "comparisons", "verdict_reuse", "parse_health"],
)
async def test_csv_streams_every_row(sample_path: Path, relation: str) -> None:
    small = make_datasette(sample_path, settings={"max_returned_rows": 5, "default_page_size": 5})
    ((count,),) = sql_rows(sample_path, f"select count(*) from [{relation}]")
    assert count > 5
    one_page = await small.client.get(f"/{DATABASE_NAME}/{relation}.csv")
    assert len(list(csv.DictReader(io.StringIO(one_page.text)))) == 5
    response = await small.client.get(f"/{DATABASE_NAME}/{relation}.csv?_stream=on")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == count


async def test_filtered_csv_streams_every_matching_row(sample_path: Path) -> None:
    small = make_datasette(sample_path, settings={"max_returned_rows": 5, "default_page_size": 5})
    ((count,),) = sql_rows(sample_path, "select count(*) from verdict_appearances where position = 1")
    assert count > 5
    response = await small.client.get(f"/{DATABASE_NAME}/verdict_appearances.csv?position=1&_stream=on")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == count
    assert {row["position"] for row in rows} == {"1"}


async def test_csv_download_names_the_file(ds: Datasette) -> None:
    response = await ds.client.get(f"/{DATABASE_NAME}/tools.csv?_stream=on&_dl=1")
    assert response.headers["content-disposition"] == 'attachment; filename="tools.csv"'
    assert next(csv.reader(io.StringIO(response.text)))[:2] == ["id", "name"]


async def test_private_table_csv_is_forbidden(ds: Datasette) -> None:
    response = await ds.client.get(f"/{DATABASE_NAME}/bodies.csv?_stream=on")
    assert response.status_code == 403  # raw bodies are private (tests/test_publish_access.py)


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/archive/verdicts.csv", b"_stream=on", "verdicts"),
        ("/archive/verdicts.csv", b"_stream=on&_size=max&_dl=1", "verdicts"),
        ("/archive/verdicts.csv", b"", None),
        ("/archive/verdicts.csv", b"_stream=on&tool_id=x", None),
        ("/archive/verdicts.csv", b"_stream=on&_sort=text", None),
        ("/archive/verdicts.json", b"_stream=on", None),
        ("/other/verdicts.csv", b"_stream=on", None),
        ("/archive/bad;name.csv", b"_stream=on", None),
    ],
)
def test_which_requests_stream_a_whole_relation(path: str, query: bytes, expected: str | None) -> None:
    scope = {"type": "http", "path": path, "query_string": query}
    assert whole_relation_request(scope, DATABASE_NAME) == expected


async def test_dashboards_render_and_every_chart_query_has_rows(ds: Datasette) -> None:
    dashboards = ds.plugin_config("datasette-dashboards")
    assert len(dashboards) >= 2
    for slug, dashboard in dashboards.items():
        page = await ds.client.get(f"/-/dashboards/{slug}")
        assert page.status_code == 200
        for chart_slug, chart in dashboard["charts"].items():
            assert chart["db"] == DATABASE_NAME
            data = await get_json(ds, f"/{DATABASE_NAME}.json?" + urlencode({"sql": chart["query"]}))
            assert data["rows"], f"chart {slug}/{chart_slug} has no rows"
            chart_page = await ds.client.get(f"/-/dashboards/{slug}/{chart_slug}")
            assert chart_page.status_code == 200


@pytest.mark.parametrize(
    "path", ["/", f"/{DATABASE_NAME}/verdicts", "/-/dashboards/prices", "/-/dashboards/verdicts"]
)
async def test_pages_load_nothing_from_other_hosts(ds: Datasette, path: str) -> None:
    html = (await ds.client.get(path)).text
    loaded = re.findall(r"<(?:script|img|iframe)[^>]*\ssrc=\"([^\"]+)\"", html)
    links = re.findall(r"<link[^>]*>", html)
    loaded += [
        href
        for link in links
        if 'rel="alternate"' not in link
        for href in re.findall(r"\shref=\"([^\"]+)\"", link)
    ]
    assert loaded, "expected the page to load its own scripts and styles"
    assert [url for url in loaded if re.match(r"(https?:)?//", url)] == []


# --- read-only, escaping ------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM tools",
        "INSERT INTO tools (id, name, first_seen, last_seen) VALUES ('x', 'x', 'x', 'x')",
        "UPDATE tools SET name = 'owned'",
        "DROP TABLE tools",
        "select 1; DELETE FROM tools",
        "PRAGMA journal_mode = DELETE",
    ],
)
async def test_write_sql_is_refused(ds: Datasette, sample_path: Path, sql: str) -> None:
    before = sql_rows(sample_path, "select id, name from tools order by id")
    response = await ds.client.get(f"/{DATABASE_NAME}.json?" + urlencode({"sql": sql}))
    assert response.status_code in (400, 403)
    assert sql_rows(sample_path, "select id, name from tools order by id") == before


async def test_post_to_a_canned_query_is_refused(ds: Datasette, sample_path: Path) -> None:
    before = sql_rows(sample_path, "select count(*) from tools")
    response = await ds.client.post(f"/{DATABASE_NAME}/tool_overview", data={"tool": "x"})
    assert response.status_code == 405
    assert sql_rows(sample_path, "select count(*) from tools") == before


async def test_plugins_cannot_write(ds: Datasette, sample_path: Path) -> None:
    from datasette.utils.asgi import Forbidden

    before = sql_rows(sample_path, "select count(*) from tools")
    with pytest.raises(Forbidden):
        await ds.get_database(DATABASE_NAME).execute_write("DELETE FROM tools")
    assert sql_rows(sample_path, "select count(*) from tools") == before
    plugins = {p["name"].replace("-", "_") for p in await get_json(ds, "/-/plugins.json")}
    assert plugins <= {*ALLOWED_PLUGINS, *(plugin.__name__ for plugin in OUR_PLUGINS)}


def test_a_disabled_plugin_comes_back_after_the_test(sample_path: Path) -> None:
    from datasette import hookimpl
    from datasette.plugins import pm

    from tests.conftest import restore_datasette_plugins

    class InstalledPlugin:
        __name__ = "datasette_installed_elsewhere"

        @hookimpl
        def extra_css_urls(self) -> list[str]:  # pragma: no cover - never rendered here
            return []

    plugin = InstalledPlugin()
    pm.register(plugin, name=plugin.__name__)
    try:
        before = list(pm.list_name_plugin())
        make_datasette(sample_path)
        assert not pm.is_registered(plugin)  # off for the published archive...
        assert restore_datasette_plugins(before) == [plugin.__name__]
        assert pm.is_registered(plugin)  # ...and back for the rest of the test session
    finally:
        if pm.is_registered(plugin):
            pm.unregister(plugin)


def test_unlisted_plugins_are_disabled() -> None:
    from datasette import hookimpl
    from datasette.plugins import pm

    class WritePlugin:
        __name__ = "datasette_write_for_test"

        @hookimpl
        def startup(self, datasette: Datasette) -> None:  # pragma: no cover - never runs
            raise AssertionError("should have been disabled")

    plugin = WritePlugin()
    pm.register(plugin, name="datasette_write_for_test")
    try:
        assert disable_unlisted_plugins() == ["datasette_write_for_test"]
        assert not pm.is_registered(plugin)
    finally:
        if pm.is_registered(plugin):
            pm.unregister(plugin)


@pytest.mark.parametrize(
    "path",
    [
        f"/{DATABASE_NAME}/verdicts?_search=script",
        f"/{DATABASE_NAME}/verdicts/{verdict_id(tool_id('Zed AI'), SCRIPT_QUOTE)}",
        f"/{DATABASE_NAME}/verdicts_about_a_tool?tool=Zed",
        f"/{DATABASE_NAME}/verdict_appearances?verdict_id={verdict_id(tool_id('Zed AI'), SCRIPT_QUOTE)}",
    ],
)
async def test_markup_in_a_quote_shows_as_text(ds: Datasette, path: str) -> None:
    html = (await ds.client.get(path)).text
    assert "&lt;script&gt;alert(" in html
    assert "<script>alert(" not in html
    assert "<b>bold</b>" not in html


async def test_keeps_serving_while_a_crawl_writes(ds: Datasette, sample_path: Path) -> None:
    writer = open_archive(sample_path)
    try:
        writer.conn.execute("BEGIN IMMEDIATE")
        writer.conn.execute("UPDATE tools SET tagline = 'mid-crawl' WHERE name = 'Copilot'")
        during = await get_json(ds, f"/{DATABASE_NAME}/tools.json?name=Copilot&_shape=objects")
        assert during["rows"][0]["tagline"] == "Pair programmer in your editor"
        writer.conn.execute("ROLLBACK")
    finally:
        writer.close()


async def test_immutable_copy_serves(sample_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "published.db"
    source = open_archive(sample_path)
    source.execute(f"VACUUM INTO '{copy}'")
    source.close()
    immutable = make_datasette(copy, immutable=True)
    data = await get_json(immutable, f"/{DATABASE_NAME}/most_repeated_verdicts.json")
    assert data["rows"]
    assert not immutable.get_database(DATABASE_NAME).is_mutable


def test_missing_archive_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveNotFound, match="No archive at"):
        make_datasette(tmp_path / "nope.db")
