"""The archive's single write path for crawl results: `ArchiveWriter.store(batch)`.

The crawl's writer process hands over batches of (FetchResult, ParseResult | None);
each batch is ONE transaction (a savepoint when the caller already holds one), so a
crash never leaves half a page. Per fetch outcome:

- "fetched": the body is stored once per sha256; when it equals the page's current
  body nothing new is written but `last_seen` (no snapshot, no counts); otherwise a
  snapshot row records the fetch and its parse outcome, and the parse is ingested
  (db/ingest.py: tools, comparisons, listings, verdicts, appearances, with history).
- "not_modified": only `last_seen` moves (on the page, its latest snapshot and the
  rows that snapshot yields).
- "failed" / "skipped" / "disallowed": the page row records status and error.
- "gone": the page is marked gone and its comparison gets `gone_at`; nothing is deleted.

db/ does not import the crawler: FetchResult is described by a Protocol here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, fields
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlite_utils import Database

from db.identity import page_id
from db.ingest import IngestItem, Revisit, ingest, revisit
from db.near_duplicates import NearDuplicateStats, mark_near_duplicates
from db.snapshots import compress, sha256_hex
from parsers.model import Listing, ParseResult

_LISTING_SLOTS: tuple[str, ...] = tuple(f.name for f in fields(Listing))
#: Page cache of the writer's connection (KiB, negative as SQLite wants): random-keyed
#: content-hash ids touch pages all over the indexes; the 2 MB default thrashes. 16 MB
#: stores as fast as 64 MB at 3,000 pages (bench/crawl.py) and keeps the crawl's memory
#: under issue 8's 150 MB (pages evicted from it are still in the OS page cache).
CACHE_KIB = 16_384


class FetchLike(Protocol):
    """The fields of crawler.fetch.FetchResult that the archive stores."""

    url: str
    final_url: str
    outcome: str
    http_status: int | None
    content_type: str | None
    etag: str | None
    last_modified: str | None
    body: bytes
    encoding: str | None
    fetched_at: str
    error: str | None


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What one `store` call did (addable, to total a crawl)."""

    pages_fetched: int = 0
    pages_not_modified: int = 0
    pages_failed: int = 0
    snapshots_new: int = 0
    comparisons_new: int = 0
    comparisons_changed: int = 0
    verdicts_new: int = 0

    def __add__(self, other: StoreStats) -> StoreStats:
        return StoreStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(StoreStats)))


def parse_fingerprint(parse: ParseResult) -> str:
    """Changes whenever anything the parser yields changes (used by reparse).

    The repr of the records' plain values (str, int, float, None: stable across runs),
    not `to_dict()` + JSON: `asdict` deep-copies, which cost more than all the SQL of a
    page in bench/archive.py.
    """
    record = (
        parse.status,
        parse.parser,
        parse.parser_version,
        parse.title,
        [tuple(getattr(item, name) for name in _LISTING_SLOTS) for item in parse.listings],
        [(q.position, q.reviewer_seat, q.text) for q in parse.quotes],
        parse.problems,
    )
    return hashlib.sha256(repr(record).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def parse_columns(parse: ParseResult | None) -> dict[str, Any]:
    """The snapshot columns that record a parse outcome."""
    if parse is None:
        return dict.fromkeys(
            ("parse_status", "parse_problems", "parser", "parser_version", "parse_missing", "parse_hash")
        )
    missing = None
    if parse.is_comparison:
        missing = json.dumps([k for k, ok in parse.field_presence().items() if not ok])
    return {
        "parse_status": parse.status,
        "parse_problems": json.dumps(parse.problems, ensure_ascii=False),
        "parser": parse.parser,
        "parser_version": parse.parser_version,
        "parse_missing": missing,
        "parse_hash": parse_fingerprint(parse),
    }


_PAGE_FETCHED = """
INSERT INTO pages (id, url, host, first_seen, last_seen, last_crawl_id, status, http_status,
    content_type, etag, last_modified, body_sha256, last_error)
VALUES (:id, :url, :host, :seen, :seen, :crawl_id, 'ok', :http_status, :content_type, :etag,
    :last_modified, :sha, NULL)
ON CONFLICT(id) DO UPDATE SET
    last_seen = max(pages.last_seen, excluded.last_seen), last_crawl_id = excluded.last_crawl_id,
    status = 'ok', http_status = excluded.http_status, content_type = excluded.content_type,
    etag = excluded.etag, last_modified = excluded.last_modified,
    body_sha256 = excluded.body_sha256, last_error = NULL
"""
_PAGE_NOT_MODIFIED = """
UPDATE pages SET last_seen = max(last_seen, :seen), last_crawl_id = :crawl_id, status = 'ok',
    etag = coalesce(:etag, etag), last_modified = coalesce(:last_modified, last_modified),
    last_error = NULL
WHERE id = :id
"""
_PAGE_OTHER = """
INSERT INTO pages (id, url, host, first_seen, last_seen, last_crawl_id, status, http_status,
    last_error)
VALUES (:id, :url, :host, :seen, :seen, :crawl_id, :status, :http_status, :error)
ON CONFLICT(id) DO UPDATE SET
    last_crawl_id = excluded.last_crawl_id, status = excluded.status,
    http_status = coalesce(excluded.http_status, pages.http_status), last_error = excluded.last_error
"""
_SNAPSHOT_INSERT = """
INSERT INTO snapshots (id, page_id, url, crawl_id, fetched_at, http_status, content_type, etag,
    last_modified, encoding, body_sha256, parse_status, parse_problems, parser, parser_version,
    last_seen, last_crawl_id, parse_missing, parse_hash)
VALUES (:id, :page_id, :url, :crawl_id, :seen, :http_status, :content_type, :etag,
    :last_modified, :encoding, :sha, :parse_status, :parse_problems, :parser, :parser_version,
    :seen, :crawl_id, :parse_missing, :parse_hash)
"""
_LATEST_SNAPSHOT = """
SELECT id, url, last_seen FROM snapshots WHERE page_id = ?
ORDER BY fetched_at DESC, id DESC LIMIT 1
"""


class ArchiveWriter:
    """Stores crawl results in the archive; one instance per crawl, in one process."""

    def __init__(self, db: Database, crawl_id: int | None) -> None:
        self.db = db
        self.crawl_id = crawl_id
        db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")

    def store(self, batch: list[tuple[FetchLike, ParseResult | None]]) -> StoreStats:
        """Store a batch of fetch results in ONE transaction."""
        with self.db.atomic():
            return self._store(self.db.conn, batch)

    def finish(self) -> NearDuplicateStats:
        """End of a crawl: mark near-duplicate verdicts among those added (db/near_duplicates.py)."""
        return mark_near_duplicates(self.db)

    def validators(self) -> dict[str, tuple[str | None, str | None]]:
        """url -> (ETag, Last-Modified) of every page with a stored body, for conditional GETs."""
        rows = self.db.execute(
            "SELECT url, etag, last_modified FROM pages WHERE status = 'ok' "
            "AND (etag IS NOT NULL OR last_modified IS NOT NULL)"
        )
        return {url: (etag, modified) for url, etag, modified in rows}

    def _store(
        self, conn: sqlite3.Connection, batch: list[tuple[FetchLike, ParseResult | None]]
    ) -> StoreStats:
        counts = dict.fromkeys(("fetched", "not_modified", "failed", "snapshots"), 0)
        items: list[IngestItem] = []
        visits: list[Revisit] = []
        next_snapshot = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM snapshots").fetchone()[0]
        for result, parse in batch:
            row = self._page_params(result)
            if result.outcome == "fetched":
                counts["fetched"] += 1
                if self._fetched(conn, result, parse, row, next_snapshot, items, visits):
                    next_snapshot += 1
                    counts["snapshots"] += 1
            elif result.outcome == "not_modified":
                counts["not_modified"] += 1
                if conn.execute(_PAGE_NOT_MODIFIED, row).rowcount:
                    self._revisit(conn, row, visits)
            else:  # failed, skipped, disallowed, gone
                counts["failed"] += result.outcome == "failed"
                conn.execute(_PAGE_OTHER, {**row, "status": result.outcome, "error": result.error})
                if result.outcome == "gone":
                    conn.execute(
                        "UPDATE comparisons SET gone_at = :seen, gone_crawl_id = :crawl_id "
                        "WHERE url IN (:url, :final_url) AND gone_at IS NULL",
                        {**row, "final_url": result.final_url or result.url},
                    )
        stats = ingest(conn, items)
        revisit(conn, visits)
        return StoreStats(
            pages_fetched=counts["fetched"],
            pages_not_modified=counts["not_modified"],
            pages_failed=counts["failed"],
            snapshots_new=counts["snapshots"],
            comparisons_new=stats.comparisons_new,
            comparisons_changed=stats.comparisons_changed,
            verdicts_new=stats.verdicts_new,
        )

    def _fetched(
        self,
        conn: sqlite3.Connection,
        result: FetchLike,
        parse: ParseResult | None,
        row: dict[str, Any],
        snapshot_id: int,
        items: list[IngestItem],
        visits: list[Revisit],
    ) -> bool:
        """Store one fetched body; True when it made a new snapshot (False: same body)."""
        row["sha"] = sha256_hex(result.body)
        current = conn.execute("SELECT body_sha256 FROM pages WHERE id = ?", [row["id"]]).fetchone()
        conn.execute(_PAGE_FETCHED, row)
        if current is not None and current[0] == row["sha"]:
            self._revisit(conn, row, visits)
            return False
        self._store_body(conn, row["sha"], result.body)
        url = result.final_url or result.url
        conn.execute(
            _SNAPSHOT_INSERT,
            {
                **row,
                "id": snapshot_id,
                "page_id": row["id"],
                "url": url,
                "encoding": result.encoding,
                **parse_columns(parse),
            },
        )
        if parse is not None:
            items.append(IngestItem(url, parse, snapshot_id, self.crawl_id, row["seen"], row["seen"]))
        return True

    def _page_params(self, result: FetchLike) -> dict[str, Any]:
        return {
            "id": page_id(result.url),
            "url": result.url,
            "host": (urlsplit(result.url).hostname or "").lower(),
            "seen": result.fetched_at,
            "crawl_id": self.crawl_id,
            "http_status": result.http_status,
            "content_type": result.content_type,
            "etag": result.etag,
            "last_modified": result.last_modified,
        }

    def _store_body(self, conn: sqlite3.Connection, sha: str, body: bytes) -> None:
        if conn.execute("SELECT 1 FROM bodies WHERE sha256 = ?", [sha]).fetchone() is None:
            conn.execute(
                "INSERT INTO bodies (sha256, size, compression, data) VALUES (?, ?, 'zlib', ?)",
                [sha, len(body), compress(body)],
            )

    def _revisit(self, conn: sqlite3.Connection, row: dict[str, Any], visits: list[Revisit]) -> None:
        latest = conn.execute(_LATEST_SNAPSHOT, [row["id"]]).fetchone()
        if latest is None:
            return
        snapshot_id, url, previous = latest
        conn.execute(
            "UPDATE snapshots SET last_seen = max(last_seen, :seen), "
            "last_crawl_id = coalesce(:crawl_id, last_crawl_id) WHERE id = :id",
            {"seen": row["seen"], "crawl_id": self.crawl_id, "id": snapshot_id},
        )
        visits.append(Revisit(url, previous, row["seen"], self.crawl_id))
