"""Paged canned queries (db/publish_paging.py): pages add up to the whole answer, CSV is whole.

The big canned queries show PAGE_SIZE rows a page (HTML and JSON) with next/previous
links; `.csv?_stream=on` and the page's CSV link give every row, past max_returned_rows.
Checked against the same SQL run straight on SQLite with blank page parameters.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from datasette.app import Datasette

from db.publish import DATABASE_NAME, load_metadata, make_datasette
from db.publish_paging import PAGE_SIZE, BlankParameters, is_paged, page_offset, page_size
from tests.test_publish import build_sample_archive

QUERIES = {
    name: query["sql"]
    for name, query in load_metadata()["databases"]["archive"]["queries"].items()
    if is_paged(query["sql"])
}
#: The queries that showed 1,000-2,000 rows a page at 100,000 pages (docs/scale.md).
FORMERLY_SLOW = {
    "changes_in_a_crawl",
    "price_moves",
    "new_verdicts_by_crawl",
    "changes_of_a_tool",
    "entry_price_changes",
    "tool_overview",
}
SMALL = {"max_returned_rows": 5}


@pytest.fixture(scope="module")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("paging") / "archive.db"
    build_sample_archive(path)
    make_datasette(path)  # brings the summaries up to date, as serve does
    return path


@pytest.fixture(scope="module")
def ds(sample_path: Path) -> Datasette:
    return make_datasette(sample_path, settings=SMALL)


def unpaged(path: Path, name: str, **params: str) -> list[list[Any]]:
    """The query's whole answer, its SQL run on SQLite with blank page parameters."""
    conn = sqlite3.connect(path)
    try:
        return [list(row) for row in conn.execute(QUERIES[name], BlankParameters(params))]
    finally:
        conn.close()


def columns(path: Path, name: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [column[0] for column in conn.execute(QUERIES[name], BlankParameters()).description]
    finally:
        conn.close()


def test_the_big_queries_are_paged() -> None:
    assert set(QUERIES) >= FORMERLY_SLOW
    for sql in QUERIES.values():
        assert ":_page_offset" in sql


def test_page_parameters() -> None:
    assert page_size({}, None, 1000) == PAGE_SIZE
    assert page_size({"_size": "7"}, "json", 1000) == 7
    assert page_size({"_size": "max"}, None, 1000) == -1  # Datasette cuts at 1,000 and says so
    assert page_size({"_size": "5000"}, None, 1000) == -1
    assert page_size({"_size": "nonsense"}, None, 1000) == PAGE_SIZE
    assert page_size({"_size": "7"}, "csv", 1000) == -1
    assert page_offset({"_next": "200"}, None) == 200
    assert page_offset({"_next": "200"}, "csv") == 0
    assert page_offset({"_next": "-3"}, "json") == 0


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_json_pages_add_up_to_the_whole_answer(ds: Datasette, sample_path: Path, name: str) -> None:
    whole = unpaged(sample_path, name)
    assert whole, f"{name}: the sample archive gives no rows"
    size = 2
    pages: list[list[Any]] = []
    offset = 0
    while True:
        response = await ds.client.get(f"/{DATABASE_NAME}/{name}.json?_size={size}&_next={offset}")
        assert response.status_code == 200, response.text[:300]
        rows = response.json()["rows"]
        assert len(rows) <= size
        pages.append(rows)
        if len(rows) < size:
            break
        offset += size
    assert [row for page in pages for row in page] == whole
    assert len(pages) == len(whole) // size + 1


async def test_default_page_is_page_size_rows(sample_path: Path) -> None:
    name = "most_repeated_verdicts"
    whole = unpaged(sample_path, name)
    assert len(whole) > 3
    small_pages = make_datasette(sample_path)
    data = (await small_pages.client.get(f"/{DATABASE_NAME}/{name}.json")).json()
    assert data["rows"] == whole[:PAGE_SIZE]


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_streamed_csv_has_every_row(ds: Datasette, sample_path: Path, name: str) -> None:
    whole = unpaged(sample_path, name)
    response = await ds.client.get(f"/{DATABASE_NAME}/{name}.csv?_stream=on&_next=2&_size=1")
    assert response.status_code == 200
    header, *rows = list(csv.reader(io.StringIO(response.text)))
    assert header == columns(sample_path, name)
    expected = [["" if value is None else str(value) for value in row] for row in whole]
    assert rows == expected
    plain = await ds.client.get(f"/{DATABASE_NAME}/{name}.csv")
    plain_rows = list(csv.reader(io.StringIO(plain.text)))[1:]
    assert plain_rows == expected[: SMALL["max_returned_rows"]]  # Datasette's own CSV stops there


async def test_stream_goes_past_max_returned_rows(ds: Datasette, sample_path: Path) -> None:
    whole = unpaged(sample_path, "most_repeated_verdicts")
    assert len(whole) > SMALL["max_returned_rows"]
    response = await ds.client.get(f"/{DATABASE_NAME}/most_repeated_verdicts.csv?_stream=on&_dl=1")
    assert len(list(csv.reader(io.StringIO(response.text)))) == len(whole) + 1
    assert response.headers["content-disposition"] == 'attachment; filename="most_repeated_verdicts.csv"'


async def test_parameters_of_saved_urls_still_choose_the_answer(ds: Datasette, sample_path: Path) -> None:
    name = "most_repeated_verdicts"
    whole = unpaged(sample_path, name, min_pages="2")
    assert SMALL["max_returned_rows"] < len(whole) < len(unpaged(sample_path, name))
    data = (await ds.client.get(f"/{DATABASE_NAME}/{name}.json?min_pages=2&_size=max")).json()
    assert data["rows"] == whole[: SMALL["max_returned_rows"]]
    assert data["truncated"]  # `max` is Datasette's limit, and the answer says it was cut
    data = (await ds.client.get(f"/{DATABASE_NAME}/{name}.json?min_pages=2&_size=3&_next=3")).json()
    assert data["rows"] == whole[3:6]
    response = await ds.client.get(f"/{DATABASE_NAME}/{name}.csv?min_pages=2&_stream=on")
    assert len(list(csv.reader(io.StringIO(response.text)))) == len(whole) + 1


def _links(body: str) -> dict[str, str]:
    return {rel: unescape(href) for href, rel in re.findall(r'<a href="([^"]+)" rel="(next|prev)"', body)}


async def test_html_pages_link_to_the_next_until_the_last(ds: Datasette, sample_path: Path) -> None:
    name = "most_repeated_verdicts"
    whole = unpaged(sample_path, name)
    url: str | None = f"/{DATABASE_NAME}/{name}?_size=4"
    seen = 0
    visited = 0
    while url:
        response = await ds.client.get(url)
        assert response.status_code == 200
        body = response.text
        rows = body.count("<tr>") - 1  # the heading row
        links = _links(body)
        assert ("prev" in links) == (visited > 0)
        assert f"/{DATABASE_NAME}/{name}.csv?_stream=on" in unescape(body)  # every row, from any page
        seen += rows
        visited += 1
        url = links.get("next")
        assert url is None or "_size=4" in url
    assert seen == len(whole)
    assert visited == len(whole) // 4 + 1


async def test_unpaged_queries_have_no_page_links(ds: Datasette) -> None:
    body = (await ds.client.get(f"/{DATABASE_NAME}/crawl_summary")).text
    assert 'class="paging"' not in body
    assert 'rel="next"' not in body
