"""docs/merge.sql: two archives built on two machines merge into one on their content ids."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from db import summaries
from db.archive import connect_sqlite, open_archive
from db.snapshots import read_body
from db.store import ArchiveWriter
from tests.archive_factory import at, comparison, fetched, listing, new_crawl

MERGE_SQL = Path(__file__).resolve().parent.parent / "docs" / "merge.sql"
#: Tables the recipe leaves out: a crawl's work queue, bookkeeping, and what is recomputed.
NOT_MERGED = {"frontier", "archive_state", "_sqlite_migrations"}
A = "https://a.example/compare/alpha-vs-beta"
B = "https://b.example/compare/alpha-vs-gamma"
SHARED = "https://shared.example/compare/alpha-vs-delta"


def build(path: Path, url: str, day: int, price: str) -> None:
    db = open_archive(path)
    crawl = new_crawl(db, day, url)
    parse = comparison("Alpha", url.rsplit("-", 1)[1].rstrip("/").title())
    shared = comparison(
        "Alpha", "Delta", listings=[listing(1, "Alpha", price, float(price[1:3])), listing(2, "Delta")]
    )
    ArchiveWriter(db, crawl).store(
        [
            (fetched(url, f"<p>{url}</p>", at(day)), parse),
            (fetched(SHARED, f"<p>{price}</p>", at(day)), shared),
        ]
    )
    db.close()


def merge(into: Path, other: Path) -> None:
    conn = sqlite3.connect(into)
    conn.execute("ATTACH ? AS other", [str(other)])
    conn.executescript(MERGE_SQL.read_text(encoding="utf-8"))
    conn.close()


def test_two_archives_merge_on_their_content_ids(tmp_path: Path) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    build(first, A, 1, "$20/mo")
    build(second, B, 2, "$25/mo")
    counts = {}
    for path in (first, second):
        conn = connect_sqlite(path)
        counts[path] = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("crawls", "snapshots", "fetch_log")
        }
        conn.close()

    merge(first, second)

    conn = connect_sqlite(first)
    try:
        one = lambda sql: conn.execute(sql).fetchone()  # noqa: E731
        # Numbered rows add up; content rows meet on their ids.
        assert one("SELECT count(*) FROM crawls")[0] == counts[first]["crawls"] + counts[second]["crawls"]
        assert (
            one("SELECT count(*) FROM snapshots")[0]
            == counts[first]["snapshots"] + counts[second]["snapshots"]
        )
        assert (
            one("SELECT count(*) FROM fetch_log")[0]
            == counts[first]["fetch_log"] + counts[second]["fetch_log"]
        )
        orphans = (
            "SELECT count(*) FROM fetch_log f LEFT JOIN fetch_heads h ON h.id = f.heads_id WHERE h.id IS NULL"
        )
        assert one(orphans)[0] == 0
        assert one("SELECT count(*) FROM comparisons")[0] == 3
        assert one("SELECT count(*) FROM tools WHERE name = 'Alpha'")[0] == 1
        alpha_quote = "Seat 1 says Alpha is clean: the primitive holds up well under load."
        row = one(f"SELECT pages, first_seen, last_seen FROM verdict_reuse WHERE text = '{alpha_quote}'")
        assert row == (2, at(1), at(2))  # counts as of the last refresh: a's two pages
        assert one("SELECT count(*) FROM summary_dirty")[0] > 0  # the merged rows are marked
        summaries.refresh(conn, tools=True)
        assert one(f"SELECT pages, current_pages FROM verdict_reuse WHERE text = '{alpha_quote}'") == (3, 3)
        # The page both machines crawled: one comparison, both prices in its history.
        shared = conn.execute(
            "SELECT entry_price, previous_entry_price FROM price_changes WHERE url = ? ORDER BY first_seen",
            [SHARED],
        ).fetchall()
        assert shared == [("$20/mo", None), ("$25/mo", "$20/mo")]
        assert one(f"SELECT first_seen, last_seen FROM comparisons WHERE url = '{SHARED}'") == (at(1), at(2))
        # Every snapshot still points at its own crawl and body.
        for crawl_id, body_sha, url in conn.execute("SELECT crawl_id, body_sha256, url FROM snapshots"):
            site = one(f"SELECT site FROM crawls WHERE id = {crawl_id}")[0]
            assert url in (site, SHARED)
            assert read_body(conn, body_sha).decode() in (f"<p>{url}</p>", "<p>$20/mo</p>", "<p>$25/mo</p>")
        kept = summaries.snapshot(conn)
        conn.execute("BEGIN")
        summaries.rebuild(conn)
        assert summaries.snapshot(conn) == kept
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_the_recipe_names_every_column_of_every_table_it_merges(tmp_path: Path) -> None:
    """A column added to the schema must be added to docs/merge.sql (or the merge drops it)."""
    path = tmp_path / "a.db"
    open_archive(path).close()
    recipe = MERGE_SQL.read_text(encoding="utf-8")
    merged = set(re.findall(r"INSERT (?:OR IGNORE )?INTO main\.(\w+)", recipe))
    conn = sqlite3.connect(path)
    tables = [
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith(("summary_", "sqlite_")) and "_fts" not in name and name not in NOT_MERGED
    ]
    assert set(tables) == merged
    for table in tables:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        statement = re.search(rf"INSERT (?:OR IGNORE )?INTO main\.{table} \(([^)]*)\)", recipe)
        named = [c.strip() for c in statement[1].split(",")] if statement else []
        renumbered = [c for c in columns if c != "id"]  # an INTEGER PRIMARY KEY given anew
        assert named in (columns, renumbered), table
    conn.close()
