"""SQL views answering the questions analysts ask the archive most often.

The tables keep every version of every value (history rows with first_seen/last_seen);
these views turn that history into plain answers — the current state of each
comparison, price moves, verdicts that appeared or vanished between two crawls of a
site, attribution conflicts, reuse counts, parse health — so nobody has to rewrite the
"latest complete row per (comparison, position)" logic by hand.

Views hold no data, so they are not frozen the way tables are: numbered migrations
create them once, and `sync_views` (run after the migrations every time an archive is
opened for writing) re-creates any view whose stored definition differs from the one
here. An archive made by an older release therefore always answers with the current
definitions, never with whatever was current when its `0005_views` step ran. What must
never change is the contract analysts' SQL relies on: view names and columns only grow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlite_utils import Database


def _listing_columns(position: int) -> str:
    p = f"l{position}"
    return ",\n    ".join(
        [
            f"{p}.tool_id AS tool{position}_id",
            f"t{position}.name AS tool{position}_name",
            f"{p}.panel_ship_pct AS tool{position}_panel_ship_pct",
            f"{p}.community_pct AS tool{position}_community_pct",
            f"{p}.entry_price AS tool{position}_entry_price",
            f"{p}.entry_price_usd AS tool{position}_entry_price_usd",
            f"{p}.entry_price_kind AS tool{position}_entry_price_kind",
        ]
    )


def _current_listing_join(position: int) -> str:
    # The current row of a (comparison, position) (complete rows beat incomplete ones, then
    # the most recently seen, then the most recently written), kept by db/summaries.py.
    return f"""
LEFT JOIN summary_current_listings l{position}
    ON l{position}.comparison_id = c.id AND l{position}.position = {position}
LEFT JOIN tools t{position} ON t{position}.id = l{position}.tool_id"""


#: View name -> SELECT statement. Column names are plain; db/metadata.yml describes them.
VIEWS: dict[str, str] = {
    "current_comparisons": f"""
SELECT
    c.id AS comparison_id,
    c.url,
    c.title,
    c.pair_key,
    c.complete,
    {_listing_columns(1)},
    {_listing_columns(2)},
    c.first_seen,
    c.last_seen,
    c.gone_at
FROM comparisons c{_current_listing_join(1)}{_current_listing_join(2)}
""",
    "price_changes": """
WITH periods AS (
    SELECT
        l.comparison_id,
        l.tool_id,
        l.entry_price,
        l.entry_price_usd,
        l.entry_price_kind,
        min(l.first_seen) AS first_seen,
        max(l.last_seen) AS last_seen
    FROM summary_price_pairs p
    CROSS JOIN listings l ON l.comparison_id = p.comparison_id AND +l.tool_id = p.tool_id
    WHERE p.complete_prices > 1 AND l.complete = 1
    GROUP BY l.comparison_id, l.tool_id, l.entry_price, l.entry_price_usd, l.entry_price_kind
),
ordered AS (
    SELECT
        periods.*,
        lag(entry_price) OVER w AS previous_entry_price,
        lag(entry_price_usd) OVER w AS previous_entry_price_usd
    FROM periods
    WINDOW w AS (PARTITION BY comparison_id, tool_id ORDER BY first_seen)
)
SELECT
    o.tool_id,
    t.name AS tool_name,
    o.comparison_id,
    c.url,
    o.entry_price,
    o.entry_price_usd,
    o.entry_price_kind,
    o.previous_entry_price,
    o.previous_entry_price_usd,
    o.first_seen,
    o.last_seen
FROM ordered o
JOIN tools t ON t.id = o.tool_id
JOIN comparisons c ON c.id = o.comparison_id
""",
    "verdicts_new_since_previous_crawl": """
SELECT
    a.first_crawl_id AS crawl_id,
    cr.site,
    a.verdict_id,
    v.tool_id,
    t.name AS tool_name,
    a.reviewer_seat,
    v.text,
    a.comparison_id,
    c.url,
    a.first_seen,
    NOT EXISTS (
        SELECT 1 FROM verdict_appearances e
        WHERE e.verdict_id = a.verdict_id AND e.first_crawl_id < a.first_crawl_id
    ) AS new_verdict
FROM crawls cr
CROSS JOIN verdict_appearances a ON a.first_crawl_id = cr.id
JOIN verdicts v ON v.id = a.verdict_id
JOIN tools t ON t.id = v.tool_id
JOIN comparisons c ON c.id = a.comparison_id
WHERE EXISTS (SELECT 1 FROM crawls p WHERE p.site = cr.site AND p.id < cr.id)
""",
    "verdicts_vanished_since_previous_crawl": """
WITH crawl_pairs AS (
    SELECT
        cr.id AS crawl_id,
        cr.site,
        (SELECT max(p.id) FROM crawls p WHERE p.site = cr.site AND p.id < cr.id)
            AS previous_crawl_id
    FROM crawls cr
)
SELECT
    cp.crawl_id,
    cp.previous_crawl_id,
    cp.site,
    a.verdict_id,
    v.tool_id,
    t.name AS tool_name,
    a.reviewer_seat,
    v.text,
    a.comparison_id,
    c.url,
    a.last_seen,
    CASE WHEN c.gone_crawl_id = cp.crawl_id THEN 'page gone' ELSE 'removed from page' END
        AS reason
FROM crawl_pairs cp
JOIN verdict_appearances a ON a.last_crawl_id = cp.previous_crawl_id
JOIN comparisons c ON c.id = a.comparison_id
JOIN verdicts v ON v.id = a.verdict_id
JOIN tools t ON t.id = v.tool_id
WHERE c.gone_crawl_id = cp.crawl_id
   OR EXISTS (
        SELECT 1 FROM snapshots s
        WHERE s.url = c.url AND s.crawl_id = cp.crawl_id AND +s.parse_status = 'ok'
   )
""",
    "verdict_conflicts": """
WITH conflicts AS MATERIALIZED (
    -- the same words filed under more than one tool (a misattribution) ...
    SELECT 'different tools' AS conflict, v.id AS verdict_id
    FROM summary_text_conflicts k
    CROSS JOIN verdicts v ON v.text_key = k.text_key
    UNION ALL
    -- ... or one verdict standing in different reviewer rows on different pages
    SELECT 'different seats', verdict_id
    FROM summary_verdicts
    WHERE seats > 1
)
SELECT
    v.text_key,
    k.conflict,
    v.id AS verdict_id,
    v.tool_id,
    t.name AS tool_name,
    a.reviewer_seat,
    a.comparison_id,
    c.url,
    v.text,
    a.first_seen,
    a.last_seen
FROM conflicts k
CROSS JOIN verdicts v ON v.id = k.verdict_id
JOIN tools t ON t.id = v.tool_id
CROSS JOIN verdict_appearances a ON a.verdict_id = v.id
JOIN comparisons c ON c.id = a.comparison_id
""",
    "verdict_reuse": """
SELECT
    v.id AS verdict_id,
    v.tool_id,
    t.name AS tool_name,
    v.reviewer_seat,
    v.text,
    coalesce(s.pages, 0) AS pages,
    coalesce(s.current_pages, 0) AS current_pages,
    v.near_duplicate_of,
    v.first_seen,
    v.last_seen
FROM verdicts v
JOIN tools t ON t.id = v.tool_id
LEFT JOIN summary_verdicts s ON s.verdict_id = v.id
""",
    "parse_health": """
SELECT
    s.crawl_id,
    cr.site,
    s.id AS snapshot_id,
    s.url,
    s.fetched_at,
    s.parse_status,
    json_array_length(coalesce(s.parse_problems, '[]')) AS problem_count,
    s.parse_problems,
    s.parser,
    s.parser_version,
    cr.pages_unreadable AS crawl_pages_unreadable,
    cr.unreadable_urls AS crawl_unreadable_urls,
    cr.parse_errors AS crawl_parse_errors
FROM snapshots s
LEFT JOIN crawls cr ON cr.id = s.crawl_id
WHERE s.parse_status IS NOT NULL
""",
    "change_log": """
SELECT
    ch.id AS change_id,
    ch.crawl_id,
    ch.observed_at,
    ch.kind,
    t.name AS tool_name,
    ch.field,
    ch.old,
    ch.new,
    CAST(json_extract(ch.detail, '$.pct') AS REAL) AS price_move_pct,
    c.title,
    c.url,
    ch.comparison_id,
    ch.tool_id,
    ch.detail
FROM changes ch
JOIN comparisons c ON c.id = ch.comparison_id
LEFT JOIN tools t ON t.id = ch.tool_id
""",
    "changes_per_crawl": """
SELECT
    cr.id AS crawl_id,
    cr.site,
    cr.started_at,
    ch.kind,
    count(*) AS changes,
    count(DISTINCT ch.comparison_id) AS pages
FROM changes ch
JOIN crawls cr ON cr.id = ch.crawl_id
GROUP BY cr.id, ch.kind
""",
    "field_disagreements": """
SELECT
    s.crawl_id,
    cr.site,
    s.id AS snapshot_id,
    s.url,
    s.fetched_at,
    d.source,
    d.field,
    d.position AS tool_position,
    d.visible,
    d.embedded
FROM embedded_disagreements d
JOIN snapshots s ON s.id = d.snapshot_id
LEFT JOIN crawls cr ON cr.id = s.crawl_id
""",
}


#: Views with exactly one row per row of a table (the table drives, every join is a LEFT JOIN
#: on a unique key), so their row count is the table's: Datasette's count on their pages is
#: answered from the table (db/publish.py), not by joining every row (1.2 s at 100,000 pages).
COUNT_AS: dict[str, str] = {"current_comparisons": "comparisons"}


def view_sql(name: str) -> str:
    """The statement that creates view ``name``, exactly as SQLite stores it in sqlite_master."""
    return f"CREATE VIEW [{name}] AS {VIEWS[name].strip()}"


def create_views(db: Database, names: list[str] | None = None) -> None:
    """Create (or re-create) the named views, inside the caller's transaction."""
    for name in names or list(VIEWS):
        db.execute(f"DROP VIEW IF EXISTS [{name}]")
        db.execute(view_sql(name))


def stale_views(db: Database) -> list[str]:
    """Views that are missing or whose stored definition is not the current one."""
    stored = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'").fetchall())
    return [name for name in VIEWS if stored.get(name) != view_sql(name)]


def sync_views(db: Database) -> list[str]:
    """Bring every view to its current definition in one transaction; returns those re-created.

    Costs one read of sqlite_master when nothing changed, so it runs on every open.
    """
    stale = stale_views(db)
    if stale:
        with db.atomic():
            create_views(db, stale)
    return stale
