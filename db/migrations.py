"""Numbered schema migrations, recorded in the archive itself.

Analysts keep SQL against these tables for years, so the schema only ever grows:
each change is a new numbered step appended below, applied in a transaction by
sqlite-utils' `Migrations`, and never edits an earlier step. Opening an archive made
by an older version applies the missing steps in place.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

#: The sqlite-utils migration set these steps belong to (rows of `_sqlite_migrations`).
MIGRATION_SET = "verdict-archive"
#: (name, function) of every step, in order. The sqlite-utils `Migrations` object is built
#: from them on first use (`migrations` below): checking that an archive is current needs
#: only these names, so a crawl of an up-to-date archive never imports sqlite-utils.
STEPS: list[tuple[str, Callable[[Database], None]]] = []
_MIGRATIONS: list[Migrations] = []


def step(name: str) -> Callable[[Callable[[Database], None]], Callable[[Database], None]]:
    """Register a migration step under `name` (appended: steps only ever grow)."""

    def register(func: Callable[[Database], None]) -> Callable[[Database], None]:
        STEPS.append((name, func))
        return func

    return register


def __getattr__(name: str) -> Any:
    # `migrations`: the sqlite-utils Migrations of STEPS, imported and built when first asked for
    if name != "migrations":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return sqlite_utils_migrations()


def sqlite_utils_migrations() -> Migrations:
    """The sqlite-utils `Migrations` of STEPS (built once, on first use)."""
    if not _MIGRATIONS:
        from sqlite_utils.migrations import Migrations

        built = Migrations(MIGRATION_SET)
        for step_name, func in STEPS:
            built(name=step_name)(func)
        _MIGRATIONS.append(built)
    return _MIGRATIONS[0]


@step("0001_initial_schema")
def m0001_initial_schema(db: Database) -> None:
    """The public tables of the first release (issue 2)."""
    run_script(
        db,
        """
        CREATE TABLE crawls (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,               -- key of the start-URL set this crawl ran for
            start_urls TEXT NOT NULL,         -- JSON list
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,             -- running, completed, degraded, failed, interrupted
            pages_fetched INTEGER NOT NULL DEFAULT 0,
            pages_not_modified INTEGER NOT NULL DEFAULT 0,
            pages_failed INTEGER NOT NULL DEFAULT 0,
            comparisons_new INTEGER NOT NULL DEFAULT 0,
            comparisons_changed INTEGER NOT NULL DEFAULT 0,
            verdicts_new INTEGER NOT NULL DEFAULT 0,
            error TEXT
        );
        CREATE TABLE pages (
            id TEXT PRIMARY KEY,              -- content-derived: hash of the canonical URL
            url TEXT NOT NULL UNIQUE,
            host TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            last_crawl_id INTEGER REFERENCES crawls(id),
            status TEXT NOT NULL,             -- ok, failed, gone, skipped
            http_status INTEGER,
            content_type TEXT,
            etag TEXT,
            last_modified TEXT,
            body_sha256 TEXT,
            last_error TEXT
        );
        CREATE TABLE bodies (
            sha256 TEXT PRIMARY KEY,          -- of the raw bytes as served
            size INTEGER NOT NULL,
            compression TEXT NOT NULL,        -- zlib
            data BLOB NOT NULL
        );
        CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY,
            page_id TEXT NOT NULL REFERENCES pages(id),
            url TEXT NOT NULL,
            crawl_id INTEGER REFERENCES crawls(id),
            fetched_at TEXT NOT NULL,
            http_status INTEGER NOT NULL,
            content_type TEXT,
            etag TEXT,
            last_modified TEXT,
            encoding TEXT,
            body_sha256 TEXT NOT NULL REFERENCES bodies(sha256),
            parse_status TEXT,                -- ok, not_comparison, incomplete
            parse_problems TEXT,              -- JSON list of strings
            parser TEXT,
            parser_version TEXT
        );
        CREATE TABLE tools (
            id TEXT PRIMARY KEY,              -- hash of the normalised name
            name TEXT NOT NULL,
            category TEXT,
            tagline TEXT,
            description TEXT,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        );
        CREATE TABLE comparisons (
            id TEXT PRIMARY KEY,              -- hash of the canonical URL
            url TEXT NOT NULL UNIQUE,
            title TEXT,
            tool1_id TEXT REFERENCES tools(id),
            tool2_id TEXT REFERENCES tools(id),
            pair_key TEXT,                    -- same for "A vs B" and "B vs A"
            complete INTEGER NOT NULL DEFAULT 1,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            gone_at TEXT,                     -- set when the page disappears; rows are never deleted
            snapshot_id INTEGER REFERENCES snapshots(id)
        );
        CREATE TABLE listings (
            id TEXT PRIMARY KEY,              -- hash of comparison, position and every value
            comparison_id TEXT NOT NULL REFERENCES comparisons(id),
            tool_id TEXT NOT NULL REFERENCES tools(id),
            position INTEGER NOT NULL,
            panel_ship_pct INTEGER,
            community_pct INTEGER,
            entry_price TEXT,
            entry_price_usd REAL,
            entry_price_kind TEXT,
            complete INTEGER NOT NULL DEFAULT 1,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            snapshot_id INTEGER REFERENCES snapshots(id)
        );
        CREATE TABLE verdicts (
            id TEXT PRIMARY KEY,              -- hash of tool id and normalised text
            tool_id TEXT NOT NULL REFERENCES tools(id),
            reviewer_seat INTEGER,            -- seat on the page it was first seen on
            text TEXT NOT NULL,
            text_key TEXT NOT NULL,           -- hash of the normalised text alone
            near_duplicate_of TEXT REFERENCES verdicts(id),
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        );
        CREATE TABLE verdict_appearances (
            verdict_id TEXT NOT NULL REFERENCES verdicts(id),
            comparison_id TEXT NOT NULL REFERENCES comparisons(id),
            reviewer_seat INTEGER,
            position INTEGER,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            snapshot_id INTEGER REFERENCES snapshots(id),
            PRIMARY KEY (verdict_id, comparison_id)
        );
        CREATE TABLE frontier (
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            url TEXT NOT NULL,
            state TEXT NOT NULL,              -- queued, done, failed
            depth INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (crawl_id, url)
        );
        CREATE INDEX idx_snapshots_page ON snapshots(page_id, fetched_at);
        CREATE INDEX idx_snapshots_crawl ON snapshots(crawl_id);
        CREATE INDEX idx_listings_comparison ON listings(comparison_id, position);
        CREATE INDEX idx_listings_tool ON listings(tool_id);
        CREATE INDEX idx_verdicts_tool ON verdicts(tool_id);
        CREATE INDEX idx_verdicts_text_key ON verdicts(text_key);
        CREATE INDEX idx_appearances_comparison ON verdict_appearances(comparison_id);
        CREATE INDEX idx_comparisons_pair ON comparisons(pair_key);
        CREATE INDEX idx_crawls_site ON crawls(site, id);
        CREATE INDEX idx_frontier_state ON frontier(crawl_id, state);
        """,
    )


@step("0002_frontier_kind")
def m0002_frontier_kind(db: Database) -> None:
    """What a frontier URL is (html page or sitemap), so a resumed crawl fetches it the same way."""
    db.execute("ALTER TABLE frontier ADD COLUMN kind TEXT NOT NULL DEFAULT 'html'")


@step("0003_history_and_quality")
def m0003_history_and_quality(db: Database) -> None:
    """Per-snapshot seen windows and parse fingerprints, crawl ids on history rows,
    per-crawl field statistics (the quality gate) and the indexes the views use."""
    run_script(
        db,
        """
        ALTER TABLE snapshots ADD COLUMN last_seen TEXT;        -- last fetch that saw this body
        ALTER TABLE snapshots ADD COLUMN last_crawl_id INTEGER REFERENCES crawls(id);
        ALTER TABLE snapshots ADD COLUMN parse_missing TEXT;    -- JSON list of absent fields
        ALTER TABLE snapshots ADD COLUMN parse_hash TEXT;       -- fingerprint of the parse
        UPDATE snapshots SET last_seen = fetched_at, last_crawl_id = crawl_id;
        ALTER TABLE tools ADD COLUMN details_seen TEXT;         -- complete parse the details are from
        UPDATE tools SET details_seen = last_seen;
        ALTER TABLE comparisons ADD COLUMN content_hash TEXT;   -- of the current state
        ALTER TABLE comparisons ADD COLUMN first_crawl_id INTEGER REFERENCES crawls(id);
        ALTER TABLE comparisons ADD COLUMN last_crawl_id INTEGER REFERENCES crawls(id);
        ALTER TABLE comparisons ADD COLUMN gone_crawl_id INTEGER REFERENCES crawls(id);
        ALTER TABLE listings ADD COLUMN first_crawl_id INTEGER REFERENCES crawls(id);
        ALTER TABLE listings ADD COLUMN last_crawl_id INTEGER REFERENCES crawls(id);
        ALTER TABLE verdict_appearances ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE verdict_appearances ADD COLUMN first_crawl_id INTEGER REFERENCES crawls(id);
        ALTER TABLE verdict_appearances ADD COLUMN last_crawl_id INTEGER REFERENCES crawls(id);
        UPDATE comparisons SET (first_crawl_id, last_crawl_id) =
            (SELECT crawl_id, crawl_id FROM snapshots WHERE snapshots.id = comparisons.snapshot_id);
        UPDATE listings SET (first_crawl_id, last_crawl_id) =
            (SELECT crawl_id, crawl_id FROM snapshots WHERE snapshots.id = listings.snapshot_id);
        UPDATE verdict_appearances SET (first_crawl_id, last_crawl_id) =
            (SELECT crawl_id, crawl_id FROM snapshots
             WHERE snapshots.id = verdict_appearances.snapshot_id);
        CREATE TABLE crawl_field_stats (
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            field TEXT NOT NULL,              -- a parsed field, 'complete' or 'recognised'
            pages_with INTEGER NOT NULL,
            pages_total INTEGER NOT NULL,
            share REAL,                       -- percent of pages_total
            previous_share REAL,              -- same field, previous crawl of the site
            pages_missing TEXT,               -- JSON list of (up to 20) URLs without it
            PRIMARY KEY (crawl_id, field)
        );
        CREATE TABLE archive_state (
            key TEXT PRIMARY KEY,
            value TEXT
        );

        CREATE INDEX idx_snapshots_url ON snapshots(url, crawl_id);
        CREATE INDEX idx_snapshots_body ON snapshots(body_sha256);

        CREATE INDEX idx_pages_last_crawl ON pages(last_crawl_id);
        CREATE INDEX idx_listings_current
            ON listings(comparison_id, position, complete, last_seen);
        CREATE INDEX idx_comparisons_tool1 ON comparisons(tool1_id);
        CREATE INDEX idx_comparisons_tool2 ON comparisons(tool2_id);
        CREATE INDEX idx_comparisons_gone_crawl ON comparisons(gone_crawl_id);
        CREATE INDEX idx_appearances_first_crawl ON verdict_appearances(first_crawl_id);
        CREATE INDEX idx_appearances_last_crawl ON verdict_appearances(last_crawl_id);
        CREATE INDEX idx_verdicts_near_duplicate ON verdicts(near_duplicate_of);
        """,
    )


@step("0004_search")
def m0004_search(db: Database) -> None:
    """FTS5 over verdict texts and tool names/taglines/descriptions, synced by triggers."""
    from db.search import enable_search

    enable_search(db)


@step("0005_views")
def m0005_views(db: Database) -> None:
    """The views for the common questions (db/views.py)."""
    from db.views import create_views

    create_views(
        db,
        [
            "current_comparisons",
            "price_changes",
            "verdicts_new_since_previous_crawl",
            "verdicts_vanished_since_previous_crawl",
            "verdict_conflicts",
            "verdict_reuse",
            "parse_health",
        ],
    )


@step("0006_near_duplicate_index")
def m0006_near_duplicate_index(db: Database) -> None:
    """The near-duplicate pass's persisted LSH band index, and indexes for the canned queries."""
    run_script(
        db,
        """
        CREATE TABLE verdict_signatures (
            verdict_id TEXT PRIMARY KEY REFERENCES verdicts(id) ON DELETE CASCADE,
            tool_id TEXT NOT NULL,
            bands BLOB NOT NULL               -- 32 little-endian uint32 LSH band hashes
        );
        CREATE INDEX idx_verdict_signatures_tool ON verdict_signatures(tool_id);
        CREATE INDEX IF NOT EXISTS idx_snapshots_parse ON snapshots(parse_status, crawl_id);
        CREATE INDEX IF NOT EXISTS idx_pages_status ON pages(status);
        DROP INDEX IF EXISTS idx_listings_comparison;   -- a prefix of idx_listings_current
        -- Verdicts checked before the band index existed: check them again so all are indexed.
        DELETE FROM archive_state WHERE key = 'near_duplicates.checked_rowid';
        """,
    )
    from db.views import create_views

    create_views(db, ["verdicts_vanished_since_previous_crawl"])


@step("0060_change_log")
def m0060_change_log(db: Database) -> None:
    """The change log (issue 17): one row per change between two complete states of a
    page, and the last complete state of each page it was computed from."""
    run_script(
        db,
        """
        CREATE TABLE changes (
            id TEXT PRIMARY KEY,              -- content-derived: a rebuild keeps it
            crawl_id INTEGER REFERENCES crawls(id),
            observed_at TEXT NOT NULL,        -- fetch time of the page that showed it (UTC)
            comparison_id TEXT NOT NULL REFERENCES comparisons(id),
            tool_id TEXT REFERENCES tools(id),
            kind TEXT NOT NULL,               -- page_new, price_changed, verdict_edited, ...
            field TEXT,
            old TEXT,
            new TEXT,
            detail TEXT                       -- JSON: per cent moved, linked verdict ids, ...
        );
        CREATE INDEX idx_changes_crawl ON changes(crawl_id, kind);
        CREATE INDEX idx_changes_comparison ON changes(comparison_id, observed_at);
        CREATE INDEX idx_changes_tool ON changes(tool_id, observed_at);
        CREATE INDEX idx_changes_observed ON changes(observed_at);
        CREATE TABLE change_states (
            comparison_id TEXT PRIMARY KEY REFERENCES comparisons(id),
            crawl_id INTEGER,
            observed_at TEXT NOT NULL,
            gone INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL               -- JSON of db/changes.py PageState
        );
        CREATE INDEX idx_change_states_gone ON change_states(comparison_id) WHERE gone = 1;
        """,
    )
    from db.views import create_views

    create_views(db, ["change_log", "changes_per_crawl"])


@step("0080_fetch_log")
def m0080_fetch_log(db: Database) -> None:
    """Every fetch of an archived page with its HTTP heads, compactly (db/fetch_log.py)."""
    from db.fetch_log import SCHEMA

    run_script(db, SCHEMA)


@step("0061_change_texts")
def m0061_change_texts(db: Database) -> None:
    """States keep texts by reference (a page's state ~0.4 KB instead of ~6 KB): the
    taglines and descriptions they refer to, once each. States of the older form are
    dropped; the next crawl stores them again (pages already archived are not page_new)."""
    run_script(
        db,
        """
        CREATE TABLE change_texts (
            ref TEXT PRIMARY KEY,             -- db/changes.py text_ref: hash of the text
            text TEXT NOT NULL
        );
        DELETE FROM change_states;
        """,
    )


@step("0010_never_silent")
def m0010_never_silent(db: Database) -> None:
    """Per crawl, the candidate comparisons no layout read and the pages whose parse raised
    (issue 13 §2, issue 14): counted, with the first unreadable URLs, for the summary."""
    run_script(
        db,
        """
        ALTER TABLE crawls ADD COLUMN pages_unreadable INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE crawls ADD COLUMN parse_errors INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE crawls ADD COLUMN unreadable_urls TEXT;   -- JSON list of the first 10
        """,
    )


@step("0011_embedded_data")
def m0011_embedded_data(db: Database) -> None:
    """A page's embedded data (JSON-LD, microdata, Next.js, Nuxt) per snapshot, and the fields
    it states otherwise than the visible text (issue 13 §3)."""
    run_script(
        db,
        """
        CREATE TABLE snapshot_embedded (
            snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
            kind TEXT NOT NULL,               -- json-ld, microdata, next-data, nuxt-data, error
            data TEXT NOT NULL,               -- JSON list of the items of that kind
            PRIMARY KEY (snapshot_id, kind)
        );
        CREATE TABLE embedded_disagreements (
            snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
            source TEXT NOT NULL,             -- the kind of embedded data
            field TEXT NOT NULL,              -- title, tool_names, entry_price
            position INTEGER,                 -- the tool's position, for entry_price
            visible TEXT,                     -- what the visible text says
            embedded TEXT                     -- what the embedded data says
        );
        CREATE INDEX idx_embedded_disagreements_snapshot ON embedded_disagreements(snapshot_id);
        """,
    )
    from db.views import create_views

    create_views(db, ["field_disagreements"])


@step("0050_summaries")
def m0050_summaries(db: Database) -> None:
    """Summary tables behind the aggregating views, built once here, then refreshed at the end
    of every crawl (db/summaries.py); a covering index for the per-crawl parse counts."""
    from db import summaries

    summaries.create(db.conn)
    run_script(
        db,
        """
        CREATE INDEX IF NOT EXISTS idx_snapshots_crawl_parse ON snapshots(crawl_id, parse_status);
        DROP INDEX IF EXISTS idx_snapshots_crawl;   -- a prefix of idx_snapshots_crawl_parse
        """,
    )
    summaries.rebuild(db.conn)


@step("0062_notifications")
def m0062_notifications(db: Database) -> None:
    """What each notification target was sent after each crawl (crawler/notify.py)."""
    run_script(
        db,
        """
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER REFERENCES crawls(id),
            sent_at TEXT NOT NULL,
            target TEXT NOT NULL,             -- schemes and hosts of its URLs (no credentials)
            status TEXT NOT NULL,             -- sent, failed, nothing (no change matched)
            changes INTEGER NOT NULL,         -- changes in the message
            attempts INTEGER NOT NULL,
            error TEXT
        );
        CREATE INDEX idx_notifications_crawl ON notifications(crawl_id);
        """,
    )


def run_script(db: Database, script: str) -> None:
    """Run `script` statement by statement, inside the caller's transaction.

    `sqlite3.executescript` would COMMIT first, breaking a migration's atomicity.
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        db.execute(statement)


def apply_migrations(db: Database) -> list[str]:
    """Bring `db` up to the current schema; returns the names of the steps applied.

    Views are then brought to their current definitions (`db.views.sync_views`).
    """
    from db.views import sync_views

    steps = sqlite_utils_migrations()
    pending = [m.name for m in steps.pending(db)]
    steps.apply(db)
    sync_views(db)
    return pending


def unknown_steps(conn: sqlite3.Connection) -> list[str]:
    """Steps recorded in the archive that this version does not have: a newer version wrote it."""
    known = {name for name, _ in STEPS}
    try:
        rows = conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [MIGRATION_SET]
        ).fetchall()
    except sqlite3.OperationalError as error:  # no migrations table: a new or pre-migration file
        if "no such table" in str(error):
            return []
        raise
    return sorted(name for (name,) in rows if name not in known)


def is_current(conn: sqlite3.Connection) -> bool:
    """Whether every step is applied and every view current: then opening needs no upgrade.

    Read-only, plain sqlite3 (two small reads): what `apply_migrations` would find to do.
    """
    from db.views import stale_views

    try:
        applied = {
            name
            for (name,) in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [MIGRATION_SET]
            )
        }
    except sqlite3.OperationalError:  # no migrations table: a new or foreign file
        return False
    return all(name in applied for name, _ in STEPS) and not stale_views(conn)


@step("0020_crawl_resumable")
def m0020_crawl_resumable(db: Database) -> None:
    """Whether a finished crawl left URLs to fetch that the next run resumes (a --max-pages
    stop, a writer that died, results that could not be sent: issue 14)."""
    db.execute("ALTER TABLE crawls ADD COLUMN resumable INTEGER NOT NULL DEFAULT 0")


@step("0140_page_links")
def m0140_page_links(db: Database) -> None:
    """Each page's outgoing links, kept with the body they were read from: a re-crawl follows
    them when the page answers 304, without parsing its stored body again (issue 14)."""
    run_script(
        db,
        """
        CREATE TABLE page_links (
            page_id TEXT NOT NULL REFERENCES pages(id),
            body_sha256 TEXT NOT NULL REFERENCES bodies(sha256),
            links INTEGER NOT NULL,           -- how many
            data BLOB NOT NULL,               -- zlib of the absolute URLs, one a line, in page order
            PRIMARY KEY (page_id, body_sha256)
        ) WITHOUT ROWID;
        """,
    )


@step("0120_parsed_with")
def m0120_parsed_with(db: Database) -> None:
    """Which parser code read each snapshot, and with which `was_comparison` (db/parse_record.py):
    `verdicts reparse` skips a snapshot the current code already read (issue 15 §3). NULL on
    older rows: the next reparse reads them."""
    db.execute("ALTER TABLE snapshots ADD COLUMN parsed_with TEXT")


@step("0130_text_conflicts")
def m0130_text_conflicts(db: Database) -> None:
    """Verdict texts credited to more than one tool, kept as a summary (verdict_conflicts read
    them by grouping every verdict per click); `(text_key, tool_id)` covers that count and
    replaces the `text_key` index, its prefix."""
    from db import summaries

    summaries.create(db.conn)
    db.execute("DROP INDEX IF EXISTS idx_verdicts_text_key")
    db.execute("INSERT OR IGNORE INTO summary_dirty_text_keys SELECT DISTINCT text_key FROM verdicts")
    summaries.refresh(db.conn)


@step("0131_serve_indexes")
def m0131_serve_indexes(db: Database) -> None:
    """Indexes for published questions that read a whole table per click at 100,000 pages:
    the panel-score chart groups the current listings by score; the new-verdicts query picks
    the newest verdicts by first_seen."""
    from db import summaries

    summaries.create(db.conn)  # idx_summary_current_panel
    db.execute("CREATE INDEX IF NOT EXISTS idx_verdicts_first_seen ON verdicts(first_seen)")


@step("0100_rendered_snapshots")
def m0100_rendered_snapshots(db: Database) -> None:
    """The HTML a browser built from a snapshot (issue 16): `render = "browser"` sites keep the
    bytes as served and, beside them, the rendered DOM that was parsed (db/renders.py)."""
    db.execute("ALTER TABLE snapshots ADD COLUMN rendered_sha256 TEXT REFERENCES bodies(sha256)")


@step("0220_dirty_tools")
def m0220_dirty_tools(db: Database) -> None:
    """Per-tool figures recomputed for the tools whose listings or verdicts changed, not for
    every tool at every crawl's end (db/summaries.py): triggers mark them in
    `summary_dirty_tools`. Every tool is marked once, so the next refresh starts exact."""
    from db import summaries

    summaries.create(db.conn)
    db.execute("INSERT OR IGNORE INTO summary_dirty_tools SELECT id FROM tools")
