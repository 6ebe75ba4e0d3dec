"""What an archive knows, without its bookkeeping (ids of crawls and snapshots): two
archives built from the same captures, by crawling or by importing, must agree on it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

TABLES = {
    "comparisons": "id, url, title, tool1_id, tool2_id, pair_key, complete, first_seen, last_seen, gone_at, "
    "content_hash",
    "tools": "id, name, category, tagline, description, first_seen, last_seen, details_seen",
    "verdicts": "id, tool_id, reviewer_seat, text, text_key, near_duplicate_of, first_seen, last_seen",
    "verdict_appearances": "verdict_id, comparison_id, reviewer_seat, position, complete, "
    "first_seen, last_seen",
    "listings": "id, comparison_id, tool_id, position, panel_ship_pct, community_pct, entry_price, "
    "entry_price_usd, entry_price_kind, complete, first_seen, last_seen",
}


def facts(db_path: Path, times: bool = True) -> dict[str, list[tuple]]:
    """Every row of the content tables, sorted; `times=False` leaves out the seen times and
    what follows from the order pages were first seen in (a verdict's first seat, which
    of two near duplicates is the original)."""
    conn = sqlite3.connect(db_path)
    try:
        out = {}
        for table, columns in TABLES.items():
            if not times:  # and not what depends on the order pages were seen in
                order = ("_seen", "gone_at", "reviewer_seat", "near_duplicate_of")
                columns = ", ".join(c for c in columns.split(", ") if not c.endswith(order))
            out[table] = sorted(conn.execute(f"SELECT {columns} FROM {table}").fetchall(), key=repr)
        return out
    finally:
        conn.close()
