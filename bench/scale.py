"""What one machine holds: archive size per page and query times at 100,000 and 1,000,000 pages.

Crawling a million pages through the real crawler takes hours; this builds archives of
the same shape with SQL inserts (as bench/archive.py's raw leg does) in the real schema,
triggers on: per page one `pages` row, one snapshot and one body (random bytes of the
average compressed size of a synthetic-site page, 4,190 bytes), two listings and eight
verdict appearances; `pages / 183` tools with four quotes each (the issue's 548 tools at
100,000 pages); then a second crawl that changes 2 % of the pages (a new price on half of
them, a rewritten quote on the other half) and sees the rest again. The summaries are
built whole (as the first open after the upgrade does), then every published statement
(each view as Datasette asks for it: first page and count; each canned query with its
defaults; each chart) is timed, best of three, straight on SQLite.

Usage:
    python bench/scale.py --pages 100000 --pages 1000000     # ~10 GB of disk at 1M
    python bench/scale.py --pages 1000000 --keep             # keep bench/out/scale-1000000.db
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from db import summaries  # noqa: E402
from db.archive import open_archive, sqlite_uri  # noqa: E402
from db.publish import load_metadata  # noqa: E402
from db.views import VIEWS  # noqa: E402

OUT = ROOT / "bench" / "out"
BODY_BYTES = 4190
PAGES_PER_TOOL = 183
CRAWL_1, CRAWL_2 = "2026-11-01T03:00:00", "2026-11-02T03:00:00"

#: One statement per table, run in order; :n is the page count, :tools the tool count.
#: Ids are 16 hex digits spread like hashes (n times an odd constant mod 2^60 is one-to-one).
BUILD = [
    """INSERT INTO crawls (id, site, start_urls, started_at, finished_at, status, pages_fetched)
       VALUES (1, 'bench', '[]', :c1, :c1, 'completed', :n), (2, 'bench', '[]', :c2, :c2, 'completed', :n)""",
    """INSERT INTO tools (id, name, category, tagline, description, first_seen, last_seen)
       WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < :tools)
       SELECT printf('%016x', (i * 40503 + 7) % 1152921504606846976), 'Tool ' || i, 'Category ' || (i % 12),
           'Tagline of tool ' || i, 'Tool ' || i || ' does things, and does them well.', :c1, :c2 FROM k""",
    """INSERT INTO verdicts (id, tool_id, reviewer_seat, text, text_key, first_seen, last_seen)
       WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < :tools * 5)
       SELECT printf('%016x', (i * 2654435761 + 11) % 1152921504606846976),
           printf('%016x', ((i / 5) * 40503 + 7) % 1152921504606846976),
           min(i % 5, 3) + 1,
           'Seat ' || (min(i % 5, 3) + 1) || ' on tool ' || (i / 5) || ': the primitive holds up, '
               || 'and the moment of truth is a real workload'
               || CASE WHEN i % 5 = 4 THEN ', revised.' ELSE '.' END,
           printf('%016x', (i * 2246822519 + 13) % 1152921504606846976),
           CASE WHEN i % 5 = 4 THEN :c2 ELSE :c1 END, :c2 FROM k""",
    """CREATE TEMP TABLE page_plan AS
       WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < :n)
       SELECT i,
           printf('%016x', (i * 2654435761 + 3) % 1152921504606846976) AS cid,
           'https://bench.test/compare/' || i || '/' AS url,
           i % :tools AS a, (i * 7 + 1 + i / :tools) % :tools AS b,
           CASE WHEN i % 100 = 0 THEN 'price' WHEN i % 100 = 50 THEN 'quote' ELSE '' END AS change
       FROM k""",
    """UPDATE page_plan SET b = (b + 1) % :tools WHERE a = b""",
    """INSERT INTO bodies (sha256, size, compression, data)
       SELECT printf('%064x', i * 2 + v), 12900, 'zlib', randomblob(:body)
       FROM page_plan, (SELECT 0 AS v UNION ALL SELECT 1) WHERE v = 0 OR change != ''""",
    """INSERT INTO pages (id, url, host, first_seen, last_seen, last_crawl_id, status, http_status,
           content_type, body_sha256)
       SELECT cid, url, 'bench.test', :c1, :c2, 2, 'ok', 200, 'text/html',
           printf('%064x', i * 2 + (change != '')) FROM page_plan""",
    """INSERT INTO snapshots (id, page_id, url, crawl_id, fetched_at, http_status, content_type,
           body_sha256, parse_status, parse_problems, parser, parser_version, last_seen, last_crawl_id)
       SELECT i * 2 + v + 1, cid, url, v + 1, CASE v WHEN 0 THEN :c1 ELSE :c2 END, 200, 'text/html',
           printf('%064x', i * 2 + v), 'ok', '[]', 'generic', '1',
           CASE WHEN v = 1 OR change = '' THEN :c2 ELSE :c1 END,
           CASE WHEN v = 1 OR change = '' THEN 2 ELSE 1 END
       FROM page_plan, (SELECT 0 AS v UNION ALL SELECT 1) WHERE v = 0 OR change != ''""",
    """INSERT INTO comparisons (id, url, title, tool1_id, tool2_id, pair_key, complete, first_seen,
           last_seen, snapshot_id, content_hash, first_crawl_id, last_crawl_id)
       SELECT cid, url, 'Tool ' || a || ' vs Tool ' || b,
           printf('%016x', (a * 40503 + 7) % 1152921504606846976),
           printf('%016x', (b * 40503 + 7) % 1152921504606846976),
           min(a, b) || '-' || max(a, b), 1, :c1, :c2, i * 2 + 1 + (change != ''),
           printf('%016x', i * 31 + (change != '')), 1, 2 FROM page_plan""",
    """INSERT INTO listings (id, comparison_id, tool_id, position, panel_ship_pct, community_pct,
           entry_price, entry_price_usd, entry_price_kind, complete, first_seen, last_seen,
           snapshot_id, first_crawl_id, last_crawl_id)
       SELECT cid || p || v, cid, printf('%016x', ((CASE p WHEN 1 THEN a ELSE b END) * 40503 + 7)
               % 1152921504606846976),
           p, (i * 25 + p) % 101, (i * 3 + p) % 100,
           '$' || (5 + (CASE p WHEN 1 THEN a ELSE b END) % 40 + v * 10) || '/mo',
           5 + (CASE p WHEN 1 THEN a ELSE b END) % 40 + v * 10, 'paid', 1,
           CASE v WHEN 0 THEN :c1 ELSE :c2 END,
           CASE WHEN v = 1 OR NOT (change = 'price' AND p = 1) THEN :c2 ELSE :c1 END,
           i * 2 + 1 + v, v + 1, CASE WHEN v = 1 OR NOT (change = 'price' AND p = 1) THEN 2 ELSE 1 END
       FROM page_plan, (SELECT 1 AS p UNION ALL SELECT 2), (SELECT 0 AS v UNION ALL SELECT 1)
       WHERE v = 0 OR (change = 'price' AND p = 1)""",
    """INSERT INTO verdict_appearances (verdict_id, comparison_id, reviewer_seat, position, first_seen,
           last_seen, snapshot_id, first_crawl_id, last_crawl_id)
       SELECT printf('%016x', (((CASE p WHEN 1 THEN a ELSE b END) * 5 + seat - 1 + r) * 2654435761 + 11)
               % 1152921504606846976),
           cid, seat, p, CASE r WHEN 0 THEN :c1 ELSE :c2 END,
           CASE WHEN r = 1 OR NOT (change = 'quote' AND p = 1 AND seat = 1) THEN :c2 ELSE :c1 END,
           i * 2 + 1 + r, r + 1,
           CASE WHEN r = 1 OR NOT (change = 'quote' AND p = 1 AND seat = 1) THEN 2 ELSE 1 END
       FROM page_plan, (SELECT 1 AS p UNION ALL SELECT 2),
           (SELECT 1 AS seat UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4),
           (SELECT 0 AS r UNION ALL SELECT 4)
       WHERE r = 0 OR (change = 'quote' AND p = 1 AND seat = 1)""",
]


def build(path: Path, pages: int) -> dict[str, float]:
    """A `pages`-page archive in the real schema; seconds per stage."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    open_archive(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA cache_size=-262144")
    params = {"n": pages, "tools": max(40, pages // PAGES_PER_TOOL), "c1": CRAWL_1, "c2": CRAWL_2}
    params["body"] = BODY_BYTES
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'summary_dirty%'"
    ).fetchall()
    started = time.perf_counter()
    conn.execute("BEGIN")
    for name, _ in triggers:  # the summaries are built whole below: no need to mark rows
        conn.execute(f"DROP TRIGGER {name}")
    for statement in BUILD:
        conn.execute(statement, {k: v for k, v in params.items() if f":{k}" in statement})
    for _, sql in triggers:
        conn.execute(sql)
    conn.execute("COMMIT")
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    summaries.rebuild(conn)
    summarised = time.perf_counter() - started
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {"insert_s": inserted, "summaries_s": summarised}


def statements() -> dict[str, list[str]]:
    """Every published statement as Datasette runs it: view pages with their count."""
    metadata = load_metadata()
    found = {f"view {n}": [f"SELECT * FROM [{n}] LIMIT 101", f"SELECT count(*) FROM [{n}]"] for n in VIEWS}
    for name, query in metadata["databases"]["archive"]["queries"].items():
        found[f"query {name}"] = [f"SELECT * FROM ({query['sql']}) LIMIT 1001"]
    for dashboard in metadata["plugins"]["datasette-dashboards"].values():
        for name, chart in dashboard["charts"].items():
            found[f"chart {name}"] = [chart["query"]]
    return found


def time_statements(path: Path, rounds: int = 3) -> dict[str, float]:
    """Best of `rounds` seconds per published statement."""
    from datasette.utils import escape_fts

    conn = sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True)
    conn.create_function("escape_fts", 1, escape_fts)
    times = {}
    for name, sqls in statements().items():
        best = float("inf")
        for _ in range(rounds):
            started = time.perf_counter()
            for sql in sqls:
                conn.execute(sql, dict.fromkeys(re.findall(r"(?<!:):(\w+)", sql), "")).fetchall()
            best = min(best, time.perf_counter() - started)
        times[name] = best
    conn.close()
    return times


def archive_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, action="append", help="pages (repeatable) [100000]")
    parser.add_argument("--keep", action="store_true", help="keep the archives in bench/out/")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    figures = {}
    for pages in args.pages or [100_000]:
        path = OUT / f"scale-{pages}.db"
        print(f"building {pages:,} pages ...", flush=True)
        stages = build(path, pages)
        size = archive_size(path)
        times = time_statements(path)
        conn = sqlite3.connect(path)
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("comparisons", "listings", "verdicts", "verdict_appearances", "snapshots")
        }
        conn.close()
        ordered = sorted(times.items(), key=lambda item: -item[1])
        print(f"\n{pages:,} pages: {counts}")
        print(
            f"archive {size / 1e6:,.0f} MB, {size / pages / 1e3:.1f} kB a page; "
            f"inserts {stages['insert_s']:.0f} s, summaries built whole in {stages['summaries_s']:.1f} s"
        )
        print(
            f"published statements: median {statistics.median(times.values()) * 1000:.1f} ms, "
            f"slowest {ordered[0][1] * 1000:.1f} ms ({ordered[0][0]})"
        )
        for name, seconds in ordered[:8]:
            print(f"  {name:<48} {seconds * 1000:8.1f} ms")
        figures[pages] = {"size": size, "counts": counts, **stages, "times": times}
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
