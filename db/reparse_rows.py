"""The rows a reparse rebuilds for some pages, and which of those pages it would change.

`reparse` rebuilds a page's derived rows (comparison, listings, verdict appearances)
from an empty slate in TEMP tables shadowing the archive's (`scratch`, `derive`), then
writes only the rows that differ. The same rebuild runs in the worker processes that
parse the pages (`differing_pages`): on their read-only connection the TEMP tables also
shadow `tools` and `verdicts`, everything a rebuild would write is compared with what is
stored, and only the pages where something differs go to the single writing process.
A `--force` reparse of an intact archive so writes nothing, and its row work runs on
every core instead of in the writer.

What is compared is what `db/reparse.py`'s `_rebuild` writes for a page: the snapshot's
parse columns (but `parsed_with`, a note the caller writes on its own), its embedded
data and disagreements, its derived rows (rows that differ or are gone), the tools and
verdicts its rows merge into (a merge that would change the stored row), and its change
log (change rows, state and stored texts). A page in doubt is rebuilt: that is always
right, only slower.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from db.identity import comparison_id

if TYPE_CHECKING:
    from db.ingest import IngestItem
    from db.reparse import Reparsed

#: The derived rows a page's rebuild replaces: (table, key columns, comparison column).
DERIVED = (
    ("comparisons", ("id",), "id"),
    ("listings", ("id",), "comparison_id"),
    ("verdict_appearances", ("verdict_id", "comparison_id"), "comparison_id"),
)
#: Shadowed too in a worker (merged into the archive by a rebuild, never replaced).
_MERGED = (("tools", ("id",)), ("verdicts", ("id",)))
#: Marks `db.ingest` writes for the next summary refresh: a worker's go to a TEMP shadow
#: (its connection is read-only); the writer's rebuild marks the archive's.
_MARKS = (("summary_dirty_tools", ("tool_id",)),)
_TOOL_COLUMNS = "id, name, category, tagline, description, first_seen, last_seen, details_seen"
_IN = "(SELECT value FROM json_each(?))"


def scratch(conn: sqlite3.Connection, merged: bool = False) -> dict[str, list[str]]:
    """TEMP tables shadowing the derived tables (same columns and keys, no other index, no
    foreign key, no trigger), and `tools`, `verdicts` and `_MARKS` too when `merged`: `derive`
    rebuilds a group of pages into them. Returns each derived table's columns."""
    columns: dict[str, list[str]] = {}
    tables = [(table, key) for table, key, _ in DERIVED] + (list(_MERGED + _MARKS) if merged else [])
    for table, key in tables:
        conn.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM main.{table} WHERE 0")
        conn.execute(f"CREATE UNIQUE INDEX temp.scratch_{table} ON {table} ({', '.join(key)})")
        columns[table] = [row[1] for row in conn.execute(f"PRAGMA main.table_info({table})")]
    return columns


def drop_scratch(conn: sqlite3.Connection) -> None:
    for table, _, _ in DERIVED:
        conn.execute(f"DROP TABLE IF EXISTS temp.{table}")


def ingest_items(results: Iterable[Reparsed]) -> list[IngestItem]:
    """The snapshots of `results` as `ingest` takes them, in the order they were fetched."""
    from db.ingest import IngestItem

    return [
        IngestItem(r.url, r.parse, r.snapshot_id, r.crawl_id, r.fetched_at, r.last_seen, r.last_crawl_id)
        for r in sorted(results, key=lambda r: (r.fetched_at, r.snapshot_id))
    ]


def derive(conn: sqlite3.Connection, items: list[IngestItem], cids: str) -> None:
    """Rebuild the derived rows of the pages of `items` (comparison ids `cids`, a JSON
    array) from an empty slate into the TEMP tables of `scratch`; tools and verdicts go
    where `tools` and `verdicts` resolve (the archive, or TEMP shadows in a worker)."""
    from db.ingest import ingest

    for table, _, _ in DERIVED:
        conn.execute(f"DELETE FROM temp.{table}")
    gone = conn.execute(
        f"SELECT id, gone_at, gone_crawl_id FROM main.comparisons WHERE id IN {_IN} AND gone_at IS NOT NULL",
        [cids],
    ).fetchall()
    ingest(conn, items)
    conn.executemany(
        "UPDATE temp.comparisons SET gone_at = ?, gone_crawl_id = ? WHERE id = ? AND last_seen < ?",
        [(gone_at, crawl, cid, gone_at) for cid, gone_at, crawl in gone],
    )


def change_parses(items: list[IngestItem]) -> dict[str, list[tuple[Any, ...]]]:
    """comparison id -> (fetched_at, crawl id, parse) of its snapshots in order (what
    db/change_log.py's `rebuild` takes)."""
    parses: dict[str, list[tuple[Any, ...]]] = {}
    for item in items:
        parses.setdefault(comparison_id(item.url), []).append((item.seen_from, item.crawl_id, item.parse))
    return parses


def differing_pages(
    conn: sqlite3.Connection, pages: list[list[Reparsed]], columns: dict[str, list[str]]
) -> set[int]:
    """The indexes of `pages` (each a page's snapshots, read again) whose rebuild would
    write something. `conn` is a worker's read-only connection in autocommit mode with the
    TEMP tables of `scratch(conn, merged=True)`; what is built in them is rolled back."""
    owner: dict[str, int] = {}
    snapshot_owner: dict[int, int] = {}
    for index, page in enumerate(pages):
        for r in page:
            owner[comparison_id(r.url)] = index
            snapshot_owner[r.snapshot_id] = index
    differ = {index for index, page in enumerate(pages) if not all(r.same_columns for r in page)}
    results = [r for page in pages for r in page]
    differ |= {snapshot_owner[sid] for sid in _embedded_differing(conn, results)}
    items = ingest_items(results)
    cids = json.dumps(sorted(owner))
    conn.execute("BEGIN")
    try:
        derive(conn, items, cids)
        found: set[str] = set()
        for table, key, by in DERIVED:
            found |= _derived_differing(conn, table, key, by, columns[table], cids)
        found |= _merged_differing(conn)
        found |= _log_differing(conn, items, sorted(owner), cids)
    finally:
        conn.execute("ROLLBACK")
    return differ | {owner[cid] for cid in found}


def _embedded_differing(conn: sqlite3.Connection, results: list[Reparsed]) -> set[int]:
    """Snapshots whose embedded rows (`db.embedded.EmbeddedRows`, written with `replace`)
    differ from the stored ones."""
    from db.embedded import EmbeddedRows

    expected = EmbeddedRows()
    for r in results:
        expected.add(r.snapshot_id, r.parse)
    ids = json.dumps([r.snapshot_id for r in results])
    kinds: dict[int, dict[str, str]] = {}
    for sid, kind, data in expected.embedded:  # INSERT OR REPLACE: the last of a kind stays
        kinds.setdefault(sid, {})[kind] = data
    stored: dict[int, dict[str, str]] = {}
    for sid, kind, data in conn.execute(
        f"SELECT snapshot_id, kind, data FROM main.snapshot_embedded WHERE snapshot_id IN {_IN}", [ids]
    ):
        stored.setdefault(sid, {})[kind] = data
    notes: Counter[tuple[Any, ...]] = Counter(map(tuple, expected.disagreements))
    held: Counter[tuple[Any, ...]] = Counter(
        conn.execute(
            "SELECT snapshot_id, source, field, position, visible, embedded FROM main.embedded_disagreements "
            f"WHERE snapshot_id IN {_IN}",
            [ids],
        )
    )
    differ = {sid for sid in kinds.keys() | stored.keys() if kinds.get(sid) != stored.get(sid)}
    return differ | {row[0] for row in (notes - held) + (held - notes)}


def _derived_differing(
    conn: sqlite3.Connection, table: str, key: tuple[str, ...], by: str, names: list[str], cids: str
) -> set[str]:
    """Comparison ids with a rebuilt row the archive lacks or holds otherwise, or an archived
    row that is not rebuilt (EXCEPT treats NULLs as equal, as a row rewrite would leave them)."""
    columns = ", ".join(names)
    keys = ", ".join(key if by in key else (*key, by))
    archived = f"FROM main.{table} WHERE {by} IN {_IN}"
    changed = f"SELECT {by} FROM (SELECT {columns} FROM temp.{table} EXCEPT SELECT {columns} {archived})"
    stale = f"SELECT {by} FROM (SELECT {keys} {archived} EXCEPT SELECT {keys} FROM temp.{table})"
    return {cid for (cid,) in conn.execute(f"{changed} UNION {stale}", [cids, cids])}


def _merged_differing(conn: sqlite3.Connection) -> set[str]:
    """Comparison ids whose tools or verdicts (built in the TEMP shadows) would change the
    archive's rows when merged into them as `db.ingest.ingest` merges (a missing row, an
    earlier first sighting, a later one, other details). A tool's `details_seen` alone is
    not compared: a crawl that sees a page again leaves it at the first sighting of the same
    details, which a rebuild would move to the last (bookkeeping, not content)."""
    stored = {
        row[0]: row
        for row in conn.execute(
            f"SELECT {_TOOL_COLUMNS} FROM main.tools WHERE id IN (SELECT id FROM temp.tools)"
        )
    }
    tools = [
        row[0]
        for row in conn.execute(f"SELECT {_TOOL_COLUMNS} FROM temp.tools")
        if row[0] not in stored or merge_tool(stored[row[0]], row)[:7] != stored[row[0]][:7]
    ]
    verdicts = [
        vid
        for (vid,) in conn.execute(
            "SELECT t.id FROM temp.verdicts t LEFT JOIN main.verdicts m ON m.id = t.id "
            "WHERE m.id IS NULL OR m.first_seen > t.first_seen OR m.last_seen < t.last_seen"
        )
    ]
    found = {
        cid
        for (cid,) in conn.execute(
            f"SELECT comparison_id FROM temp.listings WHERE tool_id IN {_IN}", [json.dumps(tools)]
        )
    }
    found |= {
        cid
        for (cid,) in conn.execute(
            f"SELECT comparison_id FROM temp.verdict_appearances WHERE verdict_id IN {_IN}",
            [json.dumps(verdicts)],
        )
    }
    return found


def merge_tool(stored: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[Any, ...]:
    """A `tools` row (`_TOOL_COLUMNS`) after `db.ingest.TOOLS_UPSERT` merged `new` into
    `stored`: newer (or as new) details win where they are not NULL, the sightings widen."""
    take = new[7] is not None and (stored[7] is None or new[7] >= stored[7])
    details = [
        (n if n is not None else s) if take else (s if s is not None else n)
        for s, n in zip(stored[2:5], new[2:5], strict=True)
    ]
    return (
        stored[0],
        stored[1],
        *details,
        min(stored[5], new[5]),
        max(stored[6], new[6]),
        new[7] if take else stored[7],
    )


_CHANGE_COLUMNS = "id, crawl_id, observed_at, comparison_id, tool_id, kind, field, old, new, detail"
_FETCH_FACTS = ("page_gone", "page_back")  # kept by a rebuild: facts of fetching, not of parsing


def _log_differing(conn: sqlite3.Connection, items: list[IngestItem], ids: list[str], cids: str) -> set[str]:
    """Comparison ids whose change log (`db.change_log.rebuild`, and the removal of the log
    of a page that is no comparison any more) would change."""
    from db.change_log import rebuilt_log, text_refs

    log = rebuilt_log(conn, change_parses(items))
    now = {cid for (cid,) in conn.execute("SELECT id FROM temp.comparisons")}
    states = {
        row[0]: row
        for row in conn.execute(
            "SELECT comparison_id, crawl_id, observed_at, gone, state FROM main.change_states "
            f"WHERE comparison_id IN {_IN}",
            [cids],
        )
    }
    held: dict[str, set[tuple[Any, ...]]] = {}
    facts: set[str] = set()
    for row in conn.execute(
        f"SELECT {_CHANGE_COLUMNS} FROM main.changes WHERE comparison_id IN {_IN}", [cids]
    ):
        if row[5] in _FETCH_FACTS:
            facts.add(row[3])
        else:
            held.setdefault(row[3], set()).add(row)
    rebuilt: dict[str, dict[str, tuple[Any, ...]]] = {}
    for row in log.rows:  # INSERT OR IGNORE: the first row of an id stays
        rebuilt.setdefault(row[3], {}).setdefault(row[0], row)
    differ = {cid for cid in ids if cid not in now and (cid in states or cid in held or cid in facts)}
    differ |= {cid for cid in now if set(rebuilt.get(cid, {}).values()) != held.get(cid, set())}
    differ |= {row[0] for row in log.states if states.get(row[0]) != row}
    for state, final in zip(log.states, log.finals, strict=True):
        refs = text_refs([final])
        if refs:
            known = conn.execute(
                f"SELECT count(*) FROM main.change_texts WHERE ref IN {_IN}", [json.dumps(list(refs))]
            )
            if known.fetchone()[0] != len(refs):
                differ.add(state[0])
    return differ
