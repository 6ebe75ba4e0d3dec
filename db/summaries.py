"""Summary tables: the archive's aggregates kept up to date, so the published views answer fast.

At 100,000 pages the views that aggregate the whole archive (reuse counts over 800,000
verdict appearances, price moves over 200,000 listings, the current listing of every
page) took seconds per click in Datasette. Their aggregates now live in four tables,
refreshed where the archive changes, and the views are thin selects over them:

- `summary_verdicts`: per verdict, pages carrying it, current pages, distinct seats,
  first crawl (verdict_reuse, verdict_conflicts, the reuse chart and queries);
- `summary_current_listings`: the current row of every (comparison, position), the
  "complete first, newest first" rule (current_comparisons, comparisons_of_a_tool,
  the panel score chart);
- `summary_price_pairs`: (comparison, tool) pairs whose entry price ever changed
  (price_changes, entry_price_changes, the price change chart);
- `summary_tools`: per tool, pages, listings, distinct prices, verdicts, average panel
  score and latest prices (tool_overview and the tool pickers of queries and charts);
- `summary_text_conflicts`: the verdict texts credited to more than one tool, with how
  many (verdict_conflicts' "different tools"; migration 0130).

Triggers on the base tables record each comparison whose rows changed in
`summary_dirty` (a re-crawl's 304s change nothing there) and each verdict text added or
removed in `summary_dirty_text_keys`; `refresh` recomputes the
summaries of those comparisons (and of the verdicts on them) and empties it. Per-tool
figures are recomputed for the tools marked in `summary_dirty_tools`: a listing or verdict
of theirs added, removed or changed (triggers), or a listing's `last_seen` moved by a
re-fetch (marked by db/ingest.py, since "latest price" follows every fetch's time). A crawl
that revisits a few pages recounts a few tools, not every listing (migration 0220). The
triggers are generated from one statement per dirty table (`trigger_sql`). `rebuild`
recomputes everything (a migration; the tests check the increments against it).

Who calls `refresh`: the end of every crawl run (crawler/engine.py, once for all the
run's sites, whatever their outcomes), `verdicts reparse`, `verdicts serve` at start, and
`ArchiveWriter.store` outside a crawl (tests, tools). While a crawl runs the views show the
archive as of the end of the previous run plus whatever the base tables already hold for
the other columns.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

#: Tables this module owns (never public API: the views over them are).
TABLES = (
    "summary_verdicts",
    "summary_current_listings",
    "summary_price_pairs",
    "summary_tools",
    "summary_text_conflicts",
)
#: Tables of rows waiting for `refresh`.
DIRTY = ("summary_dirty", "summary_dirty_verdicts", "summary_dirty_text_keys")
#: Tools whose per-tool figures wait for `refresh` (migration 0220).
DIRTY_TOOLS = "summary_dirty_tools"

#: The tables and indexes (every statement may run again: migrations 0050, 0130, 0131, 0220).
_TABLES_SQL = """
CREATE TABLE IF NOT EXISTS summary_dirty (
    comparison_id TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summary_dirty_verdicts (
    verdict_id TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summary_verdicts (
    verdict_id TEXT PRIMARY KEY,
    pages INTEGER NOT NULL,
    current_pages INTEGER NOT NULL,
    seats INTEGER NOT NULL,
    first_crawl_id INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_summary_verdicts_pages ON summary_verdicts(pages);
CREATE TABLE IF NOT EXISTS summary_current_listings (
    comparison_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    tool_id TEXT NOT NULL,
    panel_ship_pct INTEGER,
    community_pct INTEGER,
    entry_price TEXT,
    entry_price_usd REAL,
    entry_price_kind TEXT,
    PRIMARY KEY (comparison_id, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_summary_current_tool ON summary_current_listings(tool_id);
CREATE TABLE IF NOT EXISTS summary_price_pairs (
    comparison_id TEXT NOT NULL,
    tool_id TEXT NOT NULL,
    complete_prices INTEGER NOT NULL,
    moved INTEGER NOT NULL,
    PRIMARY KEY (comparison_id, tool_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summary_tools (
    tool_id TEXT PRIMARY KEY,
    pages INTEGER NOT NULL,
    listings INTEGER NOT NULL,
    priced_listings INTEGER NOT NULL,
    prices INTEGER NOT NULL,
    verdicts INTEGER NOT NULL,
    avg_panel_ship_pct REAL,
    entry_price TEXT,
    entry_price_kind TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summary_dirty_text_keys (
    text_key TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summary_text_conflicts (
    text_key TEXT PRIMARY KEY,
    tools INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_verdicts_text_key_tool ON verdicts(text_key, tool_id);
CREATE INDEX IF NOT EXISTS idx_summary_current_panel ON summary_current_listings(panel_ship_pct);
CREATE TABLE IF NOT EXISTS summary_dirty_tools (
    tool_id TEXT PRIMARY KEY
) WITHOUT ROWID;
"""

#: Dirty table -> its one column: what a trigger marks there.
_DIRTY_KEYS = {
    "summary_dirty": "comparison_id",
    "summary_dirty_verdicts": "verdict_id",
    "summary_dirty_text_keys": "text_key",
    "summary_dirty_tools": "tool_id",
}


def _changed(columns: tuple[str, ...]) -> str:
    """A WHEN clause: any of `columns` holds another value after the update."""
    return " OR ".join(f"old.{column} IS NOT new.{column}" for column in columns)


#: The triggers that mark what a refresh recomputes, as data:
#: (name, table, event, columns an UPDATE must change, [(dirty table, value marked)]).
#: An UPDATE trigger fires for those columns only, and only when a value really changed.
_TRIGGERS: tuple[tuple[str, str, str, tuple[str, ...], tuple[tuple[str, str], ...]], ...] = (
    ("summary_dirty_comparison_new", "comparisons", "INSERT", (), (("summary_dirty", "new.id"),)),
    (
        "summary_dirty_comparison",
        "comparisons",
        "UPDATE",
        ("snapshot_id", "gone_at", "complete", "content_hash"),
        (("summary_dirty", "new.id"),),
    ),
    ("summary_dirty_listing_new", "listings", "INSERT", (), (("summary_dirty", "new.comparison_id"),)),
    ("summary_dirty_listing_gone", "listings", "DELETE", (), (("summary_dirty", "old.comparison_id"),)),
    (
        "summary_dirty_appearance_new",
        "verdict_appearances",
        "INSERT",
        (),
        (("summary_dirty", "new.comparison_id"),),
    ),
    (
        "summary_dirty_appearance_gone",
        "verdict_appearances",
        "DELETE",
        (),
        (("summary_dirty", "old.comparison_id"), ("summary_dirty_verdicts", "old.verdict_id")),
    ),
    (
        "summary_dirty_appearance",
        "verdict_appearances",
        "UPDATE",
        ("reviewer_seat", "complete", "first_crawl_id"),
        (("summary_dirty", "new.comparison_id"),),
    ),
    ("summary_dirty_verdict_new", "verdicts", "INSERT", (), (("summary_dirty_text_keys", "new.text_key"),)),
    ("summary_dirty_verdict_gone", "verdicts", "DELETE", (), (("summary_dirty_text_keys", "old.text_key"),)),
    (
        "summary_dirty_verdict",
        "verdicts",
        "UPDATE",
        ("text_key", "tool_id"),
        (("summary_dirty_text_keys", "old.text_key"), ("summary_dirty_text_keys", "new.text_key")),
    ),
    # Per-tool figures (migration 0220): a tool is recomputed when one of its listings or
    # verdicts is added, removed or changed. A re-fetch that moves a listing's last_seen
    # (which picks the tool's latest price) is marked by db/ingest.revisit, once per tool
    # and batch: a trigger per row doubled the cost of a re-crawl's listing updates.
    ("summary_tool_new", "tools", "INSERT", (), (("summary_dirty_tools", "new.id"),)),
    ("summary_tool_gone", "tools", "DELETE", (), (("summary_dirty_tools", "old.id"),)),
    ("summary_tool_listing_new", "listings", "INSERT", (), (("summary_dirty_tools", "new.tool_id"),)),
    ("summary_tool_listing_gone", "listings", "DELETE", (), (("summary_dirty_tools", "old.tool_id"),)),
    (
        "summary_tool_listing",
        "listings",
        "UPDATE",
        (
            "tool_id",
            "comparison_id",
            "panel_ship_pct",
            "entry_price",
            "entry_price_usd",
            "entry_price_kind",
            "complete",
        ),
        (("summary_dirty_tools", "old.tool_id"), ("summary_dirty_tools", "new.tool_id")),
    ),
    ("summary_tool_verdict_new", "verdicts", "INSERT", (), (("summary_dirty_tools", "new.tool_id"),)),
    ("summary_tool_verdict_gone", "verdicts", "DELETE", (), (("summary_dirty_tools", "old.tool_id"),)),
    (
        "summary_tool_verdict",
        "verdicts",
        "UPDATE",
        ("tool_id",),
        (("summary_dirty_tools", "old.tool_id"), ("summary_dirty_tools", "new.tool_id")),
    ),
)


def trigger_sql(
    name: str, table: str, event: str, columns: tuple[str, ...], marks: tuple[tuple[str, str], ...]
) -> str:
    """One trigger of `_TRIGGERS`: each mark inserts a value into its dirty table once."""
    head = f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event}"
    head += f" OF {', '.join(columns)} ON {table}\nWHEN {_changed(columns)}\n" if columns else f" ON {table} "
    body = "".join(
        f"    INSERT INTO {dirty} SELECT {value}\n"
        f"        WHERE NOT EXISTS (SELECT 1 FROM {dirty} WHERE {_DIRTY_KEYS[dirty]} = {value});\n"
        for dirty, value in marks
    )
    return f"{head}BEGIN\n{body}END;\n"


SCHEMA = _TABLES_SQL + "".join(trigger_sql(*trigger) for trigger in _TRIGGERS)

_DIRTY = "SELECT comparison_id FROM summary_dirty"

#: The current row of each dirty (comparison, position): complete first, then newest seen,
#: then newest written (the rule current_comparisons always had).
_CURRENT = f"""
INSERT OR REPLACE INTO summary_current_listings
SELECT l.comparison_id, l.position, l.tool_id, l.panel_ship_pct, l.community_pct,
    l.entry_price, l.entry_price_usd, l.entry_price_kind
FROM (SELECT DISTINCT comparison_id, position FROM listings
      WHERE comparison_id IN ({_DIRTY})) AS k
JOIN listings l ON l.rowid = (
    SELECT rowid FROM listings x
    WHERE x.comparison_id = k.comparison_id AND x.position = k.position
    ORDER BY x.complete DESC, x.last_seen DESC, x.rowid DESC
    LIMIT 1
)"""

#: Pairs with more than one complete price (price_changes) or two different printed prices
#: among all rows (entry_price_changes and the chart); others are left out.
_PRICE_PAIRS = f"""
INSERT INTO summary_price_pairs
SELECT * FROM (
    SELECT comparison_id, tool_id,
        count(DISTINCT CASE WHEN complete = 1
            THEN json_array(entry_price, entry_price_usd, entry_price_kind) END) AS complete_prices,
        coalesce(min(entry_price) != max(entry_price), 0) AS moved
    FROM listings
    WHERE comparison_id IN ({_DIRTY})
    GROUP BY comparison_id, tool_id
) WHERE complete_prices > 1 OR moved
"""

#: Every verdict on a dirty comparison, counted again over all its pages.
_VERDICTS = f"""
INSERT OR REPLACE INTO summary_verdicts
SELECT a.verdict_id,
    count(*),
    coalesce(sum(a.last_seen >= c.last_seen AND c.gone_at IS NULL), 0),
    count(DISTINCT a.reviewer_seat),
    min(a.first_crawl_id)
FROM verdict_appearances a
LEFT JOIN comparisons c ON c.id = a.comparison_id
WHERE a.verdict_id IN (
    SELECT verdict_id FROM verdict_appearances WHERE comparison_id IN ({_DIRTY})
    UNION SELECT verdict_id FROM summary_dirty_verdicts
)
GROUP BY a.verdict_id
"""

#: Every verdict counted again in one pass over the appearances in table order (then a sort):
#: when the changed pages touch a third of all appearances or more, cheaper than looking
#: up each touched verdict's appearances (~3x at 100,000 pages when every page is new).
_VERDICTS_WHOLE = """
INSERT INTO summary_verdicts
SELECT a.verdict_id,
    count(*),
    coalesce(sum(a.last_seen >= c.last_seen AND c.gone_at IS NULL), 0),
    count(DISTINCT a.reviewer_seat),
    min(a.first_crawl_id)
FROM verdict_appearances a NOT INDEXED
LEFT JOIN comparisons c ON c.id = a.comparison_id
GROUP BY a.verdict_id
"""

#: Appearances of the verdicts on dirty comparisons (as last counted), all appearances, and
#: dirty and all comparisons: what decides between `_VERDICTS` and `_VERDICTS_WHOLE`.
_TOUCHED = f"""
SELECT
    (SELECT coalesce(sum(pages), 0) FROM summary_verdicts WHERE verdict_id IN (
        SELECT verdict_id FROM verdict_appearances WHERE comparison_id IN ({_DIRTY}))),
    (SELECT coalesce(sum(pages), 0) FROM summary_verdicts),
    (SELECT count(*) FROM summary_dirty),
    (SELECT count(*) FROM comparisons)
"""

#: Texts of dirty keys credited to more than one tool (the covering index above: no table reads).
_TEXT_CONFLICTS = """
INSERT INTO summary_text_conflicts
SELECT text_key, count(DISTINCT tool_id)
FROM verdicts
WHERE text_key IN (SELECT text_key FROM summary_dirty_text_keys)
GROUP BY text_key
HAVING count(DISTINCT tool_id) > 1
"""

#: Per tool, in one pass over listings (plus the verdict counts); `{where}` picks the tools.
_TOOLS = """
INSERT INTO summary_tools
WITH ranked AS (
    SELECT tool_id, comparison_id, panel_ship_pct,
        first_value(entry_price_kind) OVER (PARTITION BY tool_id
            ORDER BY complete DESC, last_seen DESC, rowid DESC) AS kind,
        entry_price, entry_price_usd,
        CASE WHEN entry_price IS NOT NULL THEN row_number() OVER (PARTITION BY tool_id, entry_price IS NULL
            ORDER BY last_seen DESC, rowid DESC) END AS price_rank
    FROM listings
    {where}
),
per_tool AS (
    SELECT tool_id,
        count(DISTINCT comparison_id) AS pages,
        count(*) AS listings,
        count(entry_price_usd) AS priced_listings,
        count(DISTINCT entry_price_usd) AS prices,
        avg(panel_ship_pct) AS avg_panel,
        max(CASE WHEN price_rank = 1 THEN entry_price END) AS entry_price,
        max(kind) AS kind
    FROM ranked
    GROUP BY tool_id
)
SELECT t.id,
    coalesce(p.pages, 0),
    coalesce(p.listings, 0),
    coalesce(p.priced_listings, 0),
    coalesce(p.prices, 0),
    (SELECT count(*) FROM verdicts v WHERE v.tool_id = t.id),
    p.avg_panel,
    p.entry_price,
    p.kind
FROM tools t
LEFT JOIN per_tool p ON p.tool_id = t.id
{tools_where}
"""
#: Every tool: one pass over listings in table order.
_TOOLS_WHOLE = _TOOLS.format(where="", tools_where="")
#: The tools marked in summary_dirty_tools: their listings through the tool index.
_DIRTY_TOOLS = "SELECT tool_id FROM summary_dirty_tools"
_TOOLS_DIRTY = _TOOLS.format(
    where=f"WHERE tool_id IN ({_DIRTY_TOOLS})", tools_where=f"WHERE t.id IN ({_DIRTY_TOOLS})"
)


def create(conn: Any) -> None:
    """Create whatever is missing of the summary tables, their indexes and the triggers that
    mark changed rows (migrations 0050 and 0130: every statement may run again)."""
    statement = ""
    for line in SCHEMA.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""


def refresh(conn: Any, tools: bool = False) -> int:
    """Bring the summaries up to date with the base tables; returns the comparisons recomputed.

    Per-tool figures are recomputed for the marked tools (`summary_dirty_tools`), or for
    every tool when `tools` says so (`rebuild`).
    Runs in the caller's transaction when one is open (else in its own).
    """
    conn = conn if isinstance(conn, sqlite3.Connection) else conn.conn
    started = time.perf_counter()
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        counts = " + ".join(f"(SELECT count(*) FROM {table})" for table in DIRTY)
        dirty = conn.execute(f"SELECT {counts}").fetchone()[0]
        if dirty:
            for table in ("summary_current_listings", "summary_price_pairs"):
                conn.execute(f"DELETE FROM {table} WHERE comparison_id IN ({_DIRTY})")
            conn.execute(_CURRENT)
            conn.execute(_PRICE_PAIRS)
            if whole_verdicts(conn):
                conn.execute("DELETE FROM summary_verdicts")
                conn.execute(_VERDICTS_WHOLE)
            else:
                conn.execute(
                    "DELETE FROM summary_verdicts WHERE verdict_id IN (SELECT verdict_id FROM "
                    "summary_dirty_verdicts) AND verdict_id NOT IN "
                    "(SELECT verdict_id FROM verdict_appearances)"
                )
                conn.execute(_VERDICTS)
            conn.execute(
                "DELETE FROM summary_text_conflicts WHERE text_key IN "
                "(SELECT text_key FROM summary_dirty_text_keys)"
            )
            conn.execute(_TEXT_CONFLICTS)
            for table in DIRTY:
                conn.execute(f"DELETE FROM {table}")
        tools_done = _refresh_tools(conn, every=tools)
        # What the last refresh cost, for bench/crawl.py (the writer's price of the summaries):
        # comparisons recomputed, seconds, tools recomputed.
        conn.execute(
            "INSERT OR REPLACE INTO archive_state (key, value) VALUES ('summaries.last_refresh', ?)",
            [f"{dirty} {time.perf_counter() - started:.4f} {tools_done}"],
        )
        if own:
            conn.execute("COMMIT")
    except BaseException:
        if own and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return int(dirty)


def _refresh_tools(conn: sqlite3.Connection, every: bool) -> int:
    """Recompute the per-tool figures of the marked tools (all of them if `every`); the count.

    When a third of the tools or more are marked (a full re-crawl moves every listing's
    last_seen), one pass over listings is cheaper than looking up each tool's listings."""
    marked, total = conn.execute(
        "SELECT (SELECT count(*) FROM summary_dirty_tools), (SELECT count(*) FROM tools)"
    ).fetchone()
    if every or (marked and marked * 3 >= total):
        conn.execute("DELETE FROM summary_tools")
        conn.execute(_TOOLS_WHOLE)
        marked = total
    elif marked:
        conn.execute(f"DELETE FROM summary_tools WHERE tool_id IN ({_DIRTY_TOOLS})")
        conn.execute(_TOOLS_DIRTY)
    conn.execute("DELETE FROM summary_dirty_tools")
    return int(marked)


def whole_verdicts(conn: Any) -> bool:
    """Whether `refresh` counts every verdict again in one pass (see `_VERDICTS_WHOLE`)."""
    conn = conn if isinstance(conn, sqlite3.Connection) else conn.conn
    touched, appearances, pages, comparisons = conn.execute(_TOUCHED).fetchone()
    return bool(appearances == 0 or touched * 3 >= appearances or pages * 3 >= comparisons)


def is_dirty(conn: Any) -> bool:
    """Whether rows changed since the last refresh (three small reads)."""
    conn = conn if isinstance(conn, sqlite3.Connection) else conn.conn
    row = conn.execute(
        "SELECT " + " OR ".join(f"EXISTS (SELECT 1 FROM {table})" for table in (*DIRTY, DIRTY_TOOLS))
    ).fetchone()
    return bool(row[0])


def rebuild(conn: Any) -> int:
    """Recompute every summary from the base tables (the first build; the tests' reference)."""
    conn = conn if isinstance(conn, sqlite3.Connection) else conn.conn
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}")
        conn.execute("INSERT OR IGNORE INTO summary_dirty SELECT id FROM comparisons")
        conn.execute(
            "INSERT OR IGNORE INTO summary_dirty SELECT DISTINCT comparison_id FROM listings "
            "UNION SELECT DISTINCT comparison_id FROM verdict_appearances"
        )
        conn.execute("INSERT OR IGNORE INTO summary_dirty_text_keys SELECT DISTINCT text_key FROM verdicts")
        count = refresh(conn, tools=True)
        if own:
            conn.execute("COMMIT")
    except BaseException:
        if own and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return count


def snapshot(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every summary row, sorted: what `refresh` left, to compare with a `rebuild`."""
    conn = conn if isinstance(conn, sqlite3.Connection) else conn.conn
    return {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in TABLES}
