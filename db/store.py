"""The archive's single write path for crawl results: `ArchiveWriter.store(batch)`.

The crawl's writer process hands over batches of (FetchResult, ParseResult | None);
each batch is ONE transaction (a savepoint when the caller already holds one), so a
crash never leaves half a page. Per fetch outcome:

- "fetched": the body is stored once per sha256; when it equals the page's current
  body nothing new is written but `last_seen` (no snapshot, no counts); otherwise a
  snapshot row records the fetch and its parse outcome, and the parse is ingested
  (db/ingest.py: tools, comparisons, listings, verdicts, appearances, with history).
  A page rendered in the browser (crawler/render.py) also has its rendered HTML stored
  as a body, named by `snapshots.rendered_sha256`; it is what was parsed, and a new
  rendering of the same bytes is a new snapshot too (db/renders.py, docs/render.md).
- "not_modified": only `last_seen` moves (on the page, its latest snapshot and the
  rows that snapshot yields).
- "failed" / "skipped" / "disallowed": the page row records status and error.
- "gone": the page is marked gone and its comparison gets `gone_at`; nothing is deleted.

A batch costs a few set-wide statements, not a round of queries per page: one query
reads the current body of every page in it, one the latest snapshot of every page
seen again, and each table gets one `executemany` of plain tuples. A page that comes
twice in one batch splits it into consecutive runs, so every run still sees what the
one before it wrote (the same outcome as storing the pages one by one).

db/ does not import the crawler: FetchResult is described by a Protocol here. Nor does
it import sqlite-utils, the parsers or the near-duplicate pass before they are needed,
so the writer of an unchanged re-crawl (all 304s) starts in a few hundredths of a second.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from db.archive import transaction
from db.change_log import ChangeRecorder
from db.embedded import EmbeddedRows
from db.fetch_log import FetchLog
from db.identity import page_id
from db.ingest import IngestItem, Revisit, ingest, revisit
from db.parse_record import parse_values
from db.renders import latest_renders, rendered_body
from db.snapshots import compress, sha256_hex

if TYPE_CHECKING:
    from sqlite_utils import Database

    from db.near_duplicates import NearDuplicateStats
    from parsers.model import ParseResult

#: Page cache of the writer's connection (KiB, negative as SQLite wants): random-keyed
#: content-hash ids touch pages all over the indexes; the 2 MB default thrashes. 16 MB
#: stores as fast as 64 MB at 3,000 pages (bench/crawl.py) and keeps the crawl's memory
#: under issue 8's 150 MB (pages evicted from it are still in the OS page cache).
CACHE_KIB = 16_384
#: WAL pages before the writer's connection copies them into the database file (default
#: 1,000): a batch of 500 new pages writes ~1,000 pages of WAL, so the default checkpoints
#: after nearly every batch and copies the same hot index pages each time. 8,192 (32 MB of
#: WAL on disk) stored ~15 % faster in-process (3,000 pages, the last checkpoint included).
WAL_AUTOCHECKPOINT = 8_192
_ORIGIN = re.compile(r"[^:/?#]*://[^/?#]*")


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
    changes: int = 0  # rows added to the change log (db/change_log.py)
    #: Snapshots stored as an unreadable candidate comparison, and as a parse that raised.
    pages_unreadable: int = 0
    parse_errors: int = 0

    def __add__(self, other: StoreStats) -> StoreStats:
        return StoreStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(StoreStats)))


@lru_cache(maxsize=256)
def _origin_host(origin: str) -> str:
    return (urlsplit(origin).hostname or "").lower()


def host_of(url: str) -> str:
    """`urlsplit(url).hostname`, lower-cased; computed once per origin."""
    match = _ORIGIN.match(url)
    return _origin_host(match.group(0)) if match else (urlsplit(url).hostname or "").lower()


_PAGE_FETCHED = """
INSERT INTO pages (id, url, host, first_seen, last_seen, last_crawl_id, status, http_status,
    content_type, etag, last_modified, body_sha256, last_error)
VALUES (?1, ?2, ?3, ?4, ?4, ?5, 'ok', ?6, ?7, ?8, ?9, ?10, NULL)
ON CONFLICT(id) DO UPDATE SET
    last_seen = max(pages.last_seen, excluded.last_seen), last_crawl_id = excluded.last_crawl_id,
    status = 'ok', http_status = excluded.http_status, content_type = excluded.content_type,
    etag = excluded.etag, last_modified = excluded.last_modified,
    body_sha256 = excluded.body_sha256, last_error = NULL
"""
#: A 304 leaves the page 'ok'; status is written only where it was something else (the
#: same outcome as writing it always, without an update of the index on status per page).
_PAGE_NOT_MODIFIED = """
UPDATE pages SET last_seen = max(last_seen, ?1), last_crawl_id = ?2,
    etag = coalesce(?3, etag), last_modified = coalesce(?4, last_modified), last_error = NULL
WHERE id = ?5
"""
_PAGE_OK = "UPDATE pages SET status = 'ok' WHERE id = ? AND status != 'ok'"
_PAGE_OTHER = """
INSERT INTO pages (id, url, host, first_seen, last_seen, last_crawl_id, status, http_status,
    last_error)
VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT(id) DO UPDATE SET
    last_crawl_id = excluded.last_crawl_id, status = excluded.status,
    http_status = coalesce(excluded.http_status, pages.http_status), last_error = excluded.last_error
"""
_GONE = """
UPDATE comparisons SET gone_at = ?1, gone_crawl_id = ?2
WHERE url IN (?3, ?4) AND gone_at IS NULL
"""
_SNAPSHOT_INSERT = """
INSERT INTO snapshots (id, page_id, url, crawl_id, fetched_at, http_status, content_type, etag,
    last_modified, encoding, body_sha256, last_seen, last_crawl_id, parse_status, parse_problems,
    parser, parser_version, parse_missing, parse_hash, parsed_with, rendered_sha256)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?5, ?4, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
"""
_SNAPSHOT_SEEN = """
UPDATE snapshots SET last_seen = max(last_seen, ?1), last_crawl_id = coalesce(?2, last_crawl_id)
WHERE id = ?3
"""
_CURRENT_BODIES = "SELECT id, body_sha256 FROM pages WHERE id IN (SELECT value FROM json_each(?))"
_KNOWN_BODIES = "SELECT sha256 FROM bodies WHERE sha256 IN (SELECT value FROM json_each(?))"
#: The latest snapshot (by fetch time, then id) of each page: one index probe per page.
_LATEST_SNAPSHOTS = """
SELECT s.page_id, s.id, s.url, s.last_seen FROM json_each(?) AS p
JOIN snapshots AS s ON s.id = (
    SELECT id FROM snapshots WHERE page_id = p.value ORDER BY fetched_at DESC, id DESC LIMIT 1)
"""

_Page = tuple[FetchLike, "ParseResult | None", str]


class ArchiveWriter:
    """Stores crawl results in the archive; one instance per crawl, in one process.

    `db` is a sqlite-utils Database or a plain sqlite3 connection (the writer process's).
    """

    def __init__(
        self, db: Database | sqlite3.Connection, crawl_id: int | None, summaries: bool = True
    ) -> None:
        """`summaries=False` leaves the summary tables to the caller (a crawl refreshes them
        once at its end, db/summaries.py); otherwise every `store` brings them up to date."""
        self.db = db
        self.conn: sqlite3.Connection = db if isinstance(db, sqlite3.Connection) else db.conn
        self.crawl_id = crawl_id
        self.changes = ChangeRecorder(crawl_id)
        self.summaries = summaries
        self.conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}")
        self.fetch_log = FetchLog(self.conn)  # the heads of each fetch, for WARC export

    def store(self, batch: list[tuple[FetchLike, ParseResult | None]]) -> StoreStats:
        """Store a batch of fetch results in ONE transaction."""
        with transaction(self.conn):
            stats = self._store(self.conn, batch)
            self.fetch_log.record(self.crawl_id, (result for result, _ in batch))
            if self.summaries:
                from db.summaries import refresh

                refresh(self.conn)
            return stats

    def finish(self) -> NearDuplicateStats:
        """End of a crawl: mark near-duplicate verdicts among those added (db/near_duplicates.py)."""
        from db.near_duplicates import mark_near_duplicates

        return mark_near_duplicates(self.db)

    def was_comparison(self, *urls: str) -> bool:
        """Did an earlier snapshot of one of these URLs parse as a comparison? (A page that no
        layout reads any more is then an unreadable candidate, not a non-comparison.)"""
        placeholders = ", ".join("?" * len(urls))
        found = self.conn.execute(f"SELECT 1 FROM comparisons WHERE url IN ({placeholders}) LIMIT 1", urls)
        return found.fetchone() is not None

    def validators(self) -> dict[str, tuple[str | None, str | None]]:
        """url -> (ETag, Last-Modified) of every page with a stored body, for conditional GETs."""
        rows = self.conn.execute(
            "SELECT url, etag, last_modified FROM pages WHERE status = 'ok' "
            "AND (etag IS NOT NULL OR last_modified IS NOT NULL)"
        )
        return {url: (etag, modified) for url, etag, modified in rows}

    def _store(
        self, conn: sqlite3.Connection, batch: list[tuple[FetchLike, ParseResult | None]]
    ) -> StoreStats:
        counts = dict.fromkeys(("fetched", "not_modified", "failed", "snapshots", "unreadable", "error"), 0)
        items: list[IngestItem] = []
        visits: list[Revisit] = []
        gone: list[tuple[str, tuple[str, ...]]] = []
        next_snapshot = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM snapshots").fetchone()[0]
        pages = [(result, parse, page_id(result.url)) for result, parse in batch]
        for run in _runs(pages):
            next_snapshot = self._store_run(conn, run, next_snapshot, counts, items, visits, gone)
        stats = ingest(conn, items)
        revisit(conn, visits)
        logged = self.changes.record(conn, items, gone, [(v.seen, v.url) for v in visits])
        return StoreStats(
            pages_fetched=counts["fetched"],
            pages_not_modified=counts["not_modified"],
            pages_failed=counts["failed"],
            snapshots_new=counts["snapshots"],
            comparisons_new=stats.comparisons_new,
            comparisons_changed=stats.comparisons_changed,
            verdicts_new=stats.verdicts_new,
            changes=logged,
            pages_unreadable=counts["unreadable"],
            parse_errors=counts["error"],
        )

    def _store_run(
        self,
        conn: sqlite3.Connection,
        run: list[_Page],
        next_snapshot: int,
        counts: dict[str, int],
        items: list[IngestItem],
        visits: list[Revisit],
        gone_pages: list[tuple[str, tuple[str, ...]]],
    ) -> int:
        """Store pages whose ids are all different; returns the next snapshot id."""
        crawl_id = self.crawl_id
        shas = {pid: sha256_hex(result.body) for result, _, pid in run if result.outcome == "fetched"}
        current = dict(conn.execute(_CURRENT_BODIES, [json.dumps(list(shas))])) if shas else {}
        renders = {pid: rendered_body(result) for result, _, pid in run if result.outcome == "fetched"}
        renders = {pid: found for pid, found in renders.items() if found is not None}
        # a rendered page is unchanged when its bytes and its rendering both are
        rendered_now = latest_renders(conn, [pid for pid in renders if current.get(pid) == shas[pid]])
        fetched: list[tuple[Any, ...]] = []
        not_modified: list[tuple[Any, ...]] = []
        others: list[tuple[Any, ...]] = []
        gone: list[tuple[Any, ...]] = []
        snapshots: list[tuple[Any, ...]] = []
        embedded = EmbeddedRows()
        bodies: dict[str, bytes] = {}
        seen_again: list[tuple[str, str]] = []  # (page id, fetched_at) of unchanged pages
        for result, parse, pid in run:
            outcome, url, seen = result.outcome, result.url, result.fetched_at
            if outcome == "not_modified":
                counts["not_modified"] += 1
                not_modified.append((seen, crawl_id, result.etag, result.last_modified, pid))
                seen_again.append((pid, seen))
                continue
            if outcome != "fetched":  # failed, skipped, disallowed, gone
                counts["failed"] += outcome == "failed"
                others.append(
                    (pid, url, host_of(url), seen, crawl_id, outcome, result.http_status, result.error)
                )
                if outcome == "gone":
                    gone.append((seen, crawl_id, url, result.final_url or url))
                    gone_pages.append((seen, (url, result.final_url or url)))
                continue
            counts["fetched"] += 1
            sha = shas[pid]
            fetched.append(
                (
                    pid,
                    url,
                    host_of(url),
                    seen,
                    crawl_id,
                    result.http_status,
                    result.content_type,
                    result.etag,
                    result.last_modified,
                    sha,
                )
            )
            render = renders.get(pid)
            if current.get(pid) == sha and (render is None or rendered_now.get(pid) == render[0]):
                seen_again.append((pid, seen))
                continue
            bodies.setdefault(sha, result.body)
            if render is not None:
                bodies.setdefault(*render)
            final = result.final_url or url
            snapshots.append(
                (
                    next_snapshot,
                    pid,
                    final,
                    crawl_id,
                    seen,
                    result.http_status,
                    result.content_type,
                    result.etag,
                    result.last_modified,
                    result.encoding,
                    sha,
                    *parse_values(parse),
                    render[0] if render is not None else None,
                )
            )
            if parse is not None:
                items.append(IngestItem(final, parse, next_snapshot, crawl_id, seen, seen))
                if parse.embedded:
                    embedded.add(next_snapshot, parse)
                if parse.status in ("unreadable", "error"):
                    counts[parse.status] += 1
            next_snapshot += 1
            counts["snapshots"] += 1
        conn.executemany(_PAGE_FETCHED, fetched)
        conn.executemany(_PAGE_NOT_MODIFIED, not_modified)
        conn.executemany(_PAGE_OK, [(row[4],) for row in not_modified])
        conn.executemany(_PAGE_OTHER, others)
        conn.executemany(_GONE, gone)
        if bodies:
            known = {sha for (sha,) in conn.execute(_KNOWN_BODIES, [json.dumps(list(bodies))])}
            conn.executemany(
                "INSERT INTO bodies (sha256, size, compression, data) VALUES (?, ?, 'zlib', ?)",
                [(sha, len(body), compress(body)) for sha, body in bodies.items() if sha not in known],
            )
        conn.executemany(_SNAPSHOT_INSERT, snapshots)
        embedded.write(conn)
        if seen_again:
            self._seen_again(conn, seen_again, visits)
        return next_snapshot

    def _seen_again(
        self, conn: sqlite3.Connection, pages: list[tuple[str, str]], visits: list[Revisit]
    ) -> None:
        """Move `last_seen` of the latest snapshots of pages seen again with the same body."""
        ids = json.dumps([pid for pid, _ in pages])
        latest = {pid: (sid, url, last) for pid, sid, url, last in conn.execute(_LATEST_SNAPSHOTS, [ids])}
        updates: list[tuple[Any, ...]] = []
        for pid, seen in pages:
            found = latest.get(pid)
            if found is None:
                continue
            snapshot_id, url, previous = found
            updates.append((seen, self.crawl_id, snapshot_id))
            visits.append(Revisit(url, previous, seen, self.crawl_id))
        conn.executemany(_SNAPSHOT_SEEN, updates)


def _runs(pages: list[_Page]) -> Iterator[list[_Page]]:
    """Consecutive runs of pages in which no page id repeats."""
    run: list[_Page] = []
    ids: set[str] = set()
    for page in pages:
        if page[2] in ids:
            yield run
            run, ids = [], set()
        run.append(page)
        ids.add(page[2])
    if run:
        yield run
