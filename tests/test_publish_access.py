"""What the published archive exposes: private tables stay private, whatever SQL a visitor sends."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path
from urllib.parse import urlencode

import pytest
from datasette.app import Datasette

from db.publish import DATABASE_NAME, load_metadata, make_datasette
from db.publish_access import read_unrestricted
from tests.test_publish import build_sample_archive

SECRET = "SECRET-BODY-7f3a"
PRIVATE = ["bodies", "frontier", "archive_state", "verdict_signatures", "_sqlite_migrations", "scratch"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("access") / "archive.db"
    build_sample_archive(path)
    conn = sqlite3.connect(path)
    with conn:
        body = f"<html>{SECRET}</html>".encode()
        conn.execute(
            "INSERT INTO bodies (sha256, size, compression, data) VALUES (?, ?, 'zlib', ?)",
            [SECRET, len(body), zlib.compress(body)],
        )
        conn.execute("INSERT INTO archive_state (key, value) VALUES (?, ?)", [SECRET, SECRET])
        # a table a later migration might add before metadata describes it: private by default
        conn.execute("CREATE TABLE scratch (note TEXT)")
        conn.execute("INSERT INTO scratch VALUES (?)", [SECRET])
    conn.close()
    return path


@pytest.fixture(scope="module")
def ds(archive: Path) -> Datasette:
    return make_datasette(archive)


async def run_sql(ds: Datasette, sql: str) -> tuple[int, str]:
    response = await ds.client.get(f"/{DATABASE_NAME}.json?" + urlencode({"sql": sql, "_shape": "array"}))
    return response.status_code, response.text


@pytest.mark.parametrize("table", PRIVATE)
@pytest.mark.parametrize(
    "sql",
    [
        "select * from {t}",
        "select * from [{t}] limit 1",
        "select (select group_concat(quote(x.*)) from {t} x)",
        "with c as (select * from {t}) select * from c",
        "with parse_health as (select * from {t}) select * from parse_health",  # a view's name
        "select * from tools where exists (select 1 from {t} where rowid > 0)",
        "select id from tools union all select rowid from {t}",
        "select count(*) from {t} where rowid > 1",
    ],
)
async def test_private_tables_cannot_be_read_with_sql(ds: Datasette, table: str, sql: str) -> None:
    status, text = await run_sql(ds, sql.format(t=table))
    assert status in (200, 400, 403), text[:300]
    assert SECRET not in text


@pytest.mark.parametrize(
    "sql",
    [
        "select * from bodies",
        "select sha256, data, size from bodies where sha256 is not null or 1",
        "select b.* from snapshots s join bodies b on b.sha256 = s.body_sha256",
    ],
)
async def test_private_columns_read_as_null(ds: Datasette, sql: str) -> None:
    response = await ds.client.get(f"/{DATABASE_NAME}.json?" + urlencode({"sql": sql, "_shape": "array"}))
    rows = response.json()
    assert all(value is None for row in rows for value in row.values()), rows[:3]


async def test_the_restriction_is_what_hides_them(archive: Path) -> None:
    conn = sqlite3.connect(archive)
    assert conn.execute("select count(*) from bodies where sha256 = ?", [SECRET]).fetchone() == (1,)
    conn.close()


@pytest.mark.parametrize("table", PRIVATE)
@pytest.mark.parametrize("suffix", ["", ".json", ".csv", ".csv?_stream=on", ".json?_shape=array&_stream=on"])
async def test_private_table_pages_are_forbidden(ds: Datasette, table: str, suffix: str) -> None:
    response = await ds.client.get(f"/{DATABASE_NAME}/{table}{suffix}")
    assert response.status_code == 403
    assert SECRET not in response.text


async def test_a_private_row_page_is_forbidden(ds: Datasette) -> None:
    response = await ds.client.get(f"/{DATABASE_NAME}/bodies/{SECRET}")
    assert response.status_code == 403
    assert SECRET not in response.text


async def test_counting_rows_is_all_sql_learns_of_a_private_table(ds: Datasette) -> None:
    status, text = await run_sql(ds, "select count(*) as n from bodies")
    assert status == 200 and '"n": ' in text


async def test_every_public_table_and_view_reads_through_sql_and_pages(ds: Datasette, archive: Path) -> None:
    conn = sqlite3.connect(archive)
    relations = dict(conn.execute("select name, type from sqlite_master where type in ('table', 'view')"))
    conn.close()
    tables = load_metadata()["databases"]
    (described,) = tables.values()
    public = [
        name
        for name, kind in relations.items()
        if kind == "view" or (name in described["tables"] and not described["tables"][name].get("hidden"))
    ]
    assert {"tools", "verdicts", "snapshots", "current_comparisons", "parse_health"} <= set(public)
    for name in public:
        status, text = await run_sql(ds, f"select * from [{name}] limit 5")
        assert status == 200, (name, text[:300])
        assert (await ds.client.get(f"/{DATABASE_NAME}/{name}.json")).status_code == 200, name
    private = set(relations) - set(public) - {n for n in relations if "_fts" in n}
    hidden = {name for name, table in described["tables"].items() if table.get("hidden")}
    assert private == (hidden & set(relations)) | {"scratch"}
    assert set(PRIVATE) <= private


async def test_search_and_table_valued_functions_still_work(ds: Datasette) -> None:
    assert (await ds.client.get(f"/{DATABASE_NAME}/verdicts.json?_search=clean")).json()["rows"]
    status, text = await run_sql(ds, "select value from json_each('[1, 2]')")
    assert (status, text.count("value")) == (200, 2)
    status, text = await run_sql(ds, "select name from pragma_table_info('bodies')")
    assert status == 200 and "sha256" in text  # the schema is public, the rows are not


async def test_row_pages_of_public_tables_work(ds: Datasette, archive: Path) -> None:
    conn = sqlite3.connect(archive)
    (verdict,) = conn.execute("select id from verdicts limit 1").fetchone()
    conn.close()
    for path in (f"/verdicts/{verdict}", "/crawls/1"):
        assert (await ds.client.get(f"/{DATABASE_NAME}{path}")).status_code == 200, path


async def test_read_unrestricted_reads_bodies_and_restores_the_limit(ds: Datasette) -> None:
    def body(conn: sqlite3.Connection) -> bytes:
        (data,) = conn.execute("SELECT data FROM bodies WHERE sha256 = ?", [SECRET]).fetchone()
        return zlib.decompress(data)

    assert SECRET.encode() in await read_unrestricted(ds, body)
    with pytest.raises(sqlite3.DatabaseError):
        await read_unrestricted(ds, lambda conn: conn.execute("DELETE FROM bodies"))  # still read-only
    for _ in range(3):  # whichever pooled connection answers, the visitor's limit is back
        status, text = await run_sql(ds, "select data from bodies where data is not null")
        assert (status, text.strip()) == (200, "[]")
