"""`verdicts warc import`: other crawlers' captures (WARC or ARC) into the archive.

Captures made by the Internet Archive, Heritrix, Browsertrix or `wget --warc-file` can
hold a page's history from before this archive's first crawl. Every HTML `response`
(and every `revisit` resolved to the payload it repeats) becomes a snapshot at its
capture date, parsed as the crawler parses a fetched page.

Two passes, so that captures are applied in date order whatever order the files hold
them in, in memory that does not grow with the files:

1. read: each file is read once with warcio (WARC or ARC, gzip per record or whole);
   each HTML payload goes straight into `bodies` (content-addressed, so storing it
   early costs nothing twice) and a small row per capture into a temporary table; a
   revisit is resolved by its payload digest to a payload read in any of the files, or
   by its WARC-Refers-To target and date to a snapshot already in the archive. A file
   that breaks off (truncated, corrupt) keeps what was read before, and the offset is
   reported.
2. apply: captures in date order, in transactions of `BATCH` captures. A capture whose
   body a snapshot of the page already covers (fetched at or before it, seen at or
   after it) is already archived: importing twice adds nothing. Otherwise a snapshot is
   written (or the covering one's window widened), and the parse is ingested with the
   capture's time as its window (db/ingest.py): an older capture extends `first_seen`
   and adds history rows, and never replaces a newer current state, since ingest takes
   a state only when it is at least as recent as the stored one.

Robots-agnostic (the captures exist already), no network.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import sqlite3
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db.archive import open_current, transaction
from db.identity import comparison_id, page_id
from db.ingest import IngestItem, Revisit, ingest, revisit
from db.parse_record import parse_values
from db.snapshots import compress, sha256_hex
from db.store import host_of

BATCH = 500
#: Parses a page as the crawler does: (body, Content-Type, URL) -> (ParseResult, encoding).
Parser = Callable[[bytes, str | None, str], tuple[Any, str | None]]


@dataclass(slots=True)
class ImportReport:
    """What an import read, applied and skipped (and where a file broke off)."""

    records: int = 0
    html: int = 0  # HTML responses and resolved revisits
    snapshots_new: int = 0
    comparisons_new: int = 0
    comparisons_backfilled: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # files that broke off, with the offset

    def summary(self) -> str:
        lines = [
            f"records read {self.records}, HTML responses {self.html}, snapshots new {self.snapshots_new}",
            f"comparisons new {self.comparisons_new}, back-filled {self.comparisons_backfilled}",
        ]
        if self.skipped:
            reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(self.skipped.items()))
            lines.append(f"skipped: {reasons}")
        lines.extend(f"error: {error}" for error in self.errors)
        return "\n".join(lines)


_CAPTURES = """
CREATE TEMP TABLE IF NOT EXISTS warc_captures (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,            -- capture time, ISO 8601 UTC
    url TEXT NOT NULL,           -- canonical URL
    sha256 TEXT,                 -- payload (NULL: a revisit not resolved yet)
    sha1 TEXT,                   -- payload digest as the WARC gives it (revisits)
    refers_url TEXT,
    refers_at TEXT,
    status INTEGER,
    content_type TEXT,
    etag TEXT,
    last_modified TEXT
);
CREATE TEMP TABLE IF NOT EXISTS warc_digests (sha1 TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
CREATE TEMP TABLE IF NOT EXISTS warc_comparisons (id TEXT PRIMARY KEY, kind TEXT NOT NULL);
"""


def _iso(warc_date: str) -> str:
    """A WARC-Date (or ARC 14-digit date) as the archive writes times."""
    text = warc_date.strip()
    if text.isdigit():
        moment = datetime.strptime(text[:14].ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    else:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _sha1(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def _is_html(content_type: str | None, body: bytes) -> bool:
    if content_type:
        mime = content_type.split(";", 1)[0].strip().lower()
        return mime in ("text/html", "application/xhtml+xml")
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


class _BrokenOff(Exception):
    """The file ends inside a record, or with bytes that are no record."""


def _whole_gzip(path: Path) -> bool:
    """Whether `path` is one gzip stream over all its records (not a gzip member per
    record, which warcio needs to read it record by record)."""
    with path.open("rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return False
        fh.seek(0)
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while chunk := fh.read(1 << 16):
            try:
                inflate.decompress(chunk, 1 << 16)
                while inflate.unconsumed_tail:  # bounded output: a gzip bomb costs no memory
                    inflate.decompress(inflate.unconsumed_tail, 1 << 16)
            except zlib.error:
                return False
            if inflate.eof:
                # the first member ends here: per-record gzip when more follows; one member
                # holding one record reads the same either way
                return not (inflate.unused_data or fh.read(1))
    return False


def _blank_tail(path: Path, offset: int) -> bool:
    """Only the blank lines that close an uncompressed record follow `offset` (warcio's
    record length leaves out the last record's closing CRLF CRLF)."""
    with path.open("rb") as fh:
        fh.seek(offset)
        tail = fh.read(8)
    return len(tail) < 8 and not tail.strip(b"\r\n")


class _Reader:
    """Pass 1: files into bodies + the temporary capture table."""

    def __init__(
        self, conn: sqlite3.Connection, report: ImportReport, canonical: Callable[[str], str]
    ) -> None:
        self.conn = conn
        self.report = report
        self.canonical = canonical
        self.pending: list[tuple[Any, ...]] = []
        self.bodies: dict[str, bytes] = {}

    def read(self, path: Path, progress: Callable[[int], None] | None) -> None:
        """Read one file to its end, or to where it breaks off (reported with the offset)."""
        from warcio.archiveiterator import ArchiveIterator

        whole = _whole_gzip(path)
        offset = 0  # where the next record starts (in the decompressed stream for a whole gzip)
        try:
            with gzip.open(path, "rb") if whole else path.open("rb") as fh:
                records = ArchiveIterator(fh, arc2warc=True)
                for record in records:
                    self.record(record)
                    self.report.records += 1
                    # (asked after the record is read: asking reads the record to its end)
                    offset = records.get_record_offset() + records.get_record_length()
                    if progress:
                        progress(1)
                    if len(self.pending) >= BATCH:
                        self.flush()
            if not whole and offset < path.stat().st_size and not _blank_tail(path, offset):
                raise _BrokenOff("the rest is not a whole record")
            if not whole and offset > path.stat().st_size:
                raise _BrokenOff("the last record is cut short")
        except Exception as error:  # warcio, gzip and zlib errors alike: the file is damaged here
            where = "in the decompressed stream " if whole else ""
            reason = (str(error).strip().splitlines() or [""])[0]
            self.report.errors.append(
                f"{path.name}: unreadable from byte offset {offset} {where}on "
                f"({type(error).__name__}: {reason}); the records before it were imported"
            )
        self.flush()

    def record(self, record: Any) -> None:
        kind = record.rec_type
        if kind not in ("response", "revisit"):
            return
        headers = record.rec_headers
        http = record.http_headers
        uri = headers.get_header("WARC-Target-URI") or ""
        if not uri.startswith(("http://", "https://")) or http is None:
            self.report.skipped["not an HTTP capture"] += 1
            return
        status = http.get_statuscode()
        content_type = http.get_header("Content-Type")
        at = _iso(headers.get_header("WARC-Date") or "")
        url = self.canonical(uri)
        etag, modified = http.get_header("ETag"), http.get_header("Last-Modified")
        if kind == "revisit":
            if not (status or "").startswith("2"):
                self.report.skipped[f"revisit with HTTP {status}"] += 1
                return
            if content_type and not _is_html(content_type, b""):
                self.report.skipped["not HTML"] += 1
                return
            refers = headers.get_header("WARC-Refers-To-Target-URI")
            refers_at = headers.get_header("WARC-Refers-To-Date")
            row = (
                at,
                url,
                None,
                headers.get_header("WARC-Payload-Digest"),
                self.canonical(refers) if refers else url,
                _iso(refers_at) if refers_at else None,
                int(status),
                content_type,
                etag,
                modified,
            )
            self.pending.append(row)
            return
        if not (status or "").startswith("2"):
            self.report.skipped[f"HTTP {status}"] += 1
            return
        body = record.content_stream().read()
        if getattr(record.raw_stream, "limit", 0):  # the file ends inside this record
            raise _BrokenOff("a record is cut short")
        if not _is_html(content_type, body):
            self.report.skipped["not HTML"] += 1
            return
        sha = sha256_hex(body)
        self.bodies.setdefault(sha, body)
        digest = headers.get_header("WARC-Payload-Digest")
        sha1s = {_sha1(body)}
        if digest:
            sha1s.add(digest)
        self.conn.executemany(
            "INSERT OR IGNORE INTO temp.warc_digests (sha1, sha256) VALUES (?, ?)", [(d, sha) for d in sha1s]
        )
        self.pending.append((at, url, sha, None, None, None, int(status), content_type, etag, modified))

    def flush(self) -> None:
        conn = self.conn
        with transaction(conn):
            if self.bodies:
                known = {
                    sha
                    for (sha,) in conn.execute(
                        "SELECT sha256 FROM bodies WHERE sha256 IN (SELECT value FROM json_each(?))",
                        [json.dumps(list(self.bodies))],
                    )
                }
                conn.executemany(
                    "INSERT INTO bodies (sha256, size, compression, data) VALUES (?, ?, 'zlib', ?)",
                    [(s, len(b), compress(b)) for s, b in self.bodies.items() if s not in known],
                )
            conn.executemany(
                "INSERT INTO temp.warc_captures (at, url, sha256, sha1, refers_url, refers_at, status, "
                "content_type, etag, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.pending,
            )
        self.pending, self.bodies = [], {}


#: Revisits resolved by payload digest to a payload read in the files...
_RESOLVE_DIGESTS = """
UPDATE temp.warc_captures
SET sha256 = (SELECT sha256 FROM temp.warc_digests AS d WHERE d.sha1 = warc_captures.sha1)
WHERE sha256 IS NULL AND sha1 IS NOT NULL
"""
#: ...or by their WARC-Refers-To target and date to a snapshot in the archive (same second).
_RESOLVE_ARCHIVE = """
UPDATE temp.warc_captures SET sha256 = (
    SELECT s.body_sha256 FROM snapshots AS s
    WHERE s.page_id = ?1 AND substr(s.fetched_at, 1, 19) = substr(?2, 1, 19) LIMIT 1)
WHERE seq = ?3
"""
_NEXT_CAPTURES = f"""
SELECT at, seq, at, url, sha256, status, content_type, etag, last_modified FROM temp.warc_captures
WHERE sha256 IS NOT NULL AND (at, seq) > (?, ?) ORDER BY at, seq LIMIT {BATCH}
"""
_SNAPSHOTS_OF_PAGE = """
SELECT id, body_sha256, fetched_at, last_seen FROM snapshots WHERE page_id = ?
ORDER BY fetched_at DESC, id DESC
"""


class _Applier:
    """Pass 2: captures in date order become snapshots and parsed rows.

    Parses are ingested and revisits applied a batch at a time, as the crawl's writer
    does (db/store.py); a page met twice in a batch first flushes what is held, so each
    capture sees what the one before it wrote.
    """

    def __init__(self, conn: sqlite3.Connection, report: ImportReport, parse: Parser) -> None:
        self.conn = conn
        self.report = report
        self.parse = parse
        self.items: list[IngestItem] = []
        self.visits: list[Revisit] = []
        self.pages: set[str] = set()  # page ids held in this batch

    def apply(self, row: tuple[Any, ...]) -> None:
        at, url, sha, status, content_type, etag, modified = row
        conn = self.conn
        pid = page_id(url)
        if pid in self.pages:
            self.flush()
        snapshots = conn.execute(_SNAPSHOTS_OF_PAGE, [pid]).fetchall()
        previous = next((s for s in snapshots if s[2] <= at), None)  # the snapshot in force then
        if previous is not None and previous[1] == sha and previous[3] >= at:
            self.report.skipped["already in the archive"] += 1
            return
        self.report.html += 1
        self.pages.add(pid)
        conn.execute(_PAGE_UPSERT, [pid, url, host_of(url), at, status, content_type, etag, modified, sha])
        if previous is not None and previous[1] == sha:  # seen again with the same body
            snapshot_id = previous[0]
            conn.execute("UPDATE snapshots SET last_seen = max(last_seen, ?) WHERE id = ?", [at, snapshot_id])
            if previous is snapshots[0]:  # the current body: its rows move on, as a re-crawl's 304 moves them
                self.visits.append(Revisit(url, previous[3], at, None))
                return
            parse, _ = self.parse(_read_body(conn, sha), content_type, url)
        else:
            parse, encoding = self.parse(_read_body(conn, sha), content_type, url)
            snapshot_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM snapshots").fetchone()[0]
            values = (pid, url, None, at, status, content_type, etag, modified, encoding, sha, at, None)
            conn.execute(_SNAPSHOT_INSERT, (snapshot_id, *values, *parse_values(parse)))
            self.report.snapshots_new += 1
        if parse is not None and parse.is_comparison:
            cid = comparison_id(url)
            first = conn.execute("SELECT first_seen FROM comparisons WHERE id = ?", [cid]).fetchone()
            if first is None:
                conn.execute("INSERT OR IGNORE INTO temp.warc_comparisons VALUES (?, 'new')", [cid])
            elif at < first[0]:
                conn.execute("INSERT OR IGNORE INTO temp.warc_comparisons VALUES (?, 'back-filled')", [cid])
            self.items.append(IngestItem(url, parse, snapshot_id, None, at, at))

    def flush(self) -> None:
        if self.items:
            ingest(self.conn, self.items)
        if self.visits:
            revisit(self.conn, self.visits)
        self.items, self.visits, self.pages = [], [], set()

    def count(self) -> None:
        """Comparisons new and back-filled, into the report."""
        counts = dict(self.conn.execute("SELECT kind, count(*) FROM temp.warc_comparisons GROUP BY kind"))
        self.report.comparisons_new = counts.get("new", 0)
        self.report.comparisons_backfilled = counts.get("back-filled", 0)


_SNAPSHOT_INSERT = """
INSERT INTO snapshots (id, page_id, url, crawl_id, fetched_at, http_status, content_type, etag,
    last_modified, encoding, body_sha256, last_seen, last_crawl_id, parse_status, parse_problems,
    parser, parser_version, parse_missing, parse_hash, parsed_with)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
#: A page row: created by its first capture; its current body and validators move only
#: with a capture newer than any seen; first_seen moves back with an older one.
_NEWER_PAGE = "excluded.last_seen >= pages.last_seen"
_PAGE_CURRENT = ",\n    ".join(
    f"{c} = CASE WHEN {_NEWER_PAGE} THEN excluded.{c} ELSE pages.{c} END"
    for c in ("http_status", "content_type", "etag", "last_modified", "body_sha256")
)
_PAGE_UPSERT = f"""
INSERT INTO pages (id, url, host, first_seen, last_seen, status, http_status, content_type, etag,
    last_modified, body_sha256)
VALUES (?1, ?2, ?3, ?4, ?4, 'ok', ?5, ?6, ?7, ?8, ?9)
ON CONFLICT(id) DO UPDATE SET
    first_seen = min(pages.first_seen, excluded.first_seen),
    {_PAGE_CURRENT},
    last_seen = max(pages.last_seen, excluded.last_seen)
"""


def _read_body(conn: sqlite3.Connection, sha: str) -> bytes:
    from db.snapshots import read_body

    return read_body(conn, sha)


def import_warcs(
    db_path: str | Path,
    paths: Iterable[str | Path],
    parse: Parser,
    canonical: Callable[[str], str],
    *,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import every HTML capture of the WARC / ARC files at `paths` into the archive."""
    report = ImportReport()
    conn = open_current(db_path)
    try:
        conn.execute("PRAGMA temp_store = FILE")
        for statement in _CAPTURES.split(";"):
            if statement.strip():
                conn.execute(statement)
        reader = _Reader(conn, report, canonical)
        for path in paths:
            reader.read(Path(path), progress)
        _resolve(conn, report)
        applier = _Applier(conn, report, parse)
        last: tuple[str, int] = ("", 0)
        while True:  # pages of captures in date order, one transaction each
            rows = conn.execute(_NEXT_CAPTURES, last).fetchall()
            if not rows:
                break
            with transaction(conn):
                for row in rows:
                    applier.apply(row[2:])
                applier.flush()
            last = (rows[-1][0], rows[-1][1])
        applier.count()
        if report.snapshots_new:
            from db.near_duplicates import mark_near_duplicates

            mark_near_duplicates(conn)
        from db.summaries import refresh

        refresh(conn, tools=True)  # the aggregates behind the views (db/summaries.py)
    finally:
        conn.close()
    return report


def _resolve(conn: sqlite3.Connection, report: ImportReport) -> None:
    """Give each revisit the payload it repeats; count the ones that stay unresolved."""
    with transaction(conn):
        conn.execute(_RESOLVE_DIGESTS)
        unresolved = conn.execute(
            "SELECT seq, refers_url, refers_at FROM temp.warc_captures WHERE sha256 IS NULL"
        ).fetchall()
        for seq, refers_url, refers_at in unresolved:
            if refers_url and refers_at:
                conn.execute(_RESOLVE_ARCHIVE, [page_id(refers_url), refers_at, seq])
        missing = conn.execute("SELECT count(*) FROM temp.warc_captures WHERE sha256 IS NULL").fetchone()[0]
    if missing:
        report.skipped["revisit without its original"] += missing
