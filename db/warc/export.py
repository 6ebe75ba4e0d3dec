"""`verdicts warc export`: the archive's captures as a WARC 1.1 file, with a CDXJ index.

Web archivists replay and exchange captures as WARC (ISO 28500). One `warcinfo` record,
then, in capture order, per fetch a `response` (or `revisit`) record and its `request`
record (WARC-Concurrent-To), each dated by the fetch, not by the export:

- snapshots archived before the fetch log existed first, as responses whose HTTP heads
  are synthesised from the snapshot's columns (`WARC-Verdicts-Heads: synthesised`);
- then every fetch log row: the fetch that stored a snapshot is a `response` with the
  payload byte for byte as `verdicts snapshot` prints it; a later fetch of the same
  payload (a 304, or a 200 with the same body) is a `revisit` of profile
  identical-payload-digest, refering to that response, with the stored 200 headers (a
  revisit with the literal 304 headers replays as an empty 304 in pywb).

Streamed: rows come from SQLite cursors and each record is written as it is built, so
memory does not grow with the archive (the only cache, payload digests for revisits,
is bounded). The CDXJ index beside the file (`F.cdxj`, cdxj-indexer) is what pywb
needs to find the records.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from db.archive import connect_read_only
from db.fetch_log import rebuild, refs_for
from db.snapshots import normalise_time, read_body
from db.warc import heads

MARK_HEADS = "WARC-Verdicts-Heads"  # "synthesised": HTTP heads made up from the snapshot
MARK_PAYLOAD = "WARC-Verdicts-Payload"  # how the payload differs from the bytes received
_DIGEST_CACHE = 4096


@dataclass(slots=True)
class ExportReport:
    """What one export wrote."""

    records: int = 0
    responses: int = 0
    revisits: int = 0
    synthesised: int = 0
    output: str = ""
    index: str = ""


def warc_date(iso: str) -> str:
    """An archive time (ISO 8601) as a WARC 1.1 date (UTC, microseconds)."""
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def index_path(output: Path) -> Path:
    """`F.cdxj` beside `F.warc.gz` (or `F.warc`)."""
    name = output.name
    for suffix in (".warc.gz", ".warc", ".gz"):
        if name.endswith(suffix):
            return output.with_name(name[: -len(suffix)] + ".cdxj")
    return output.with_name(name + ".cdxj")


class _Writer(WARCWriter):
    """warcio's writer, each record gzipped on its own by ISA-L at level 2 instead of zlib
    at level 9: a WARC is read far more often than written, but level 9 cost the export
    more than reading the archive and building the records (same format: one gzip member
    per record, which readers need to seek to a record)."""

    def _write_warc_record(self, out: Any, record: Any) -> None:
        if not self.gzip:
            super()._write_warc_record(out, record)
            return
        plain = BytesIO()
        self.gzip = False
        try:
            super()._write_warc_record(plain, record)
        finally:
            self.gzip = True
        out.write(_gzip(plain.getvalue()))


def _gzip(data: bytes) -> bytes:
    try:
        from isal.isal_zlib import compress

        return compress(data, 2, wbits=31)
    except ImportError:  # pragma: no cover - isal is a dependency
        import zlib

        return zlib.compress(data, 6, wbits=31)


class _Digests:
    """sha1 payload digests of stored bodies (by sha256), a bounded cache."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.known: OrderedDict[str, str] = OrderedDict()

    def remember(self, sha256: str, body: bytes) -> str:
        digest = "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")
        self.known[sha256] = digest
        if len(self.known) > _DIGEST_CACHE:
            self.known.popitem(last=False)
        return digest

    def __call__(self, sha256: str) -> str:
        found = self.known.get(sha256)
        if found is not None:
            self.known.move_to_end(sha256)
            return found
        return self.remember(sha256, read_body(self.conn, sha256))


_FILTERS = """
    AND (:since IS NULL OR julianday({at}) >= julianday(:since))
    AND (:site IS NULL OR {url} LIKE 'http://' || :site || '/%' OR {url} LIKE 'https://' || :site || '/%'
         OR {url} LIKE 'http://' || :site || ':%' OR {url} LIKE 'https://' || :site || ':%'
         OR {crawl} IN (SELECT id FROM crawls WHERE site = :site))
"""
_LEGACY = (
    """
SELECT s.id, s.url, s.fetched_at, s.http_status, s.content_type, s.etag, s.last_modified,
       s.body_sha256
FROM snapshots AS s
WHERE NOT EXISTS (SELECT 1 FROM fetch_log AS f WHERE f.snapshot_id = s.id AND f.http_status != 304)
"""
    + _FILTERS.format(at="s.fetched_at", url="s.url", crawl="s.crawl_id")
    + " ORDER BY s.fetched_at, s.id"
)
_FETCHES = (
    """
SELECT f.fetched_at, f.http_status, f.head_values, h.remote_ip, h.request, h.response,
       s.id, s.url, s.fetched_at, s.http_status, s.content_type, s.etag, s.last_modified,
       s.body_sha256, b.size
FROM fetch_log AS f
JOIN fetch_heads AS h ON h.id = f.heads_id
JOIN snapshots AS s ON s.id = f.snapshot_id
JOIN bodies AS b ON b.sha256 = s.body_sha256
WHERE 1
"""
    + _FILTERS.format(at="f.fetched_at", url="s.url", crawl="f.crawl_id")
    + " ORDER BY f.id"
)
#: The fetch that stored a snapshot (its 200 headers go into the revisits of it).
_ORIGINAL = """
SELECT f.fetched_at, f.head_values, h.remote_ip, h.request, h.response
FROM fetch_log AS f JOIN fetch_heads AS h ON h.id = f.heads_id
WHERE f.snapshot_id = ? AND f.http_status != 304 ORDER BY f.id LIMIT 1
"""


class _Exporter:
    def __init__(self, conn: sqlite3.Connection, writer: WARCWriter, report: ExportReport) -> None:
        self.conn = conn
        self.writer = writer
        self.report = report
        self.digests = _Digests(conn)

    def write(self, record: Any) -> None:
        self.writer.write_record(record)
        self.report.records += 1

    def pair(self, response: Any, request: StatusAndHeaders, url: str, date: str, ip: str | None) -> None:
        """`response` and the request that got it, linked by WARC-Concurrent-To."""
        fields = {"WARC-Date": date, "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")}
        if ip:
            fields["WARC-IP-Address"] = ip
        self.write(response)
        self.write(
            self.writer.create_warc_record(url, "request", http_headers=request, warc_headers_dict=fields)
        )

    def response(
        self,
        url: str,
        date: str,
        sha256: str,
        http: StatusAndHeaders,
        ip: str | None,
        marks: dict[str, str],
    ) -> Any:
        body = read_body(self.conn, sha256)
        notes = heads.for_payload(http, len(body))
        fields = {"WARC-Date": date, **marks}
        if ip:
            fields["WARC-IP-Address"] = ip
        if notes:
            fields[MARK_PAYLOAD] = "; ".join(notes)
        fields["WARC-Payload-Digest"] = self.digests.remember(sha256, body)
        self.report.responses += 1
        return self.writer.create_warc_record(
            url,
            "response",
            payload=BytesIO(body),
            length=len(body),
            http_headers=http,
            warc_headers_dict=fields,
        )

    def legacy(self, row: tuple[Any, ...]) -> None:
        _sid, url, fetched_at, status, content_type, etag, last_modified, sha256 = row
        date = warc_date(fetched_at)
        http = heads.synthesised_response(status, content_type, etag, last_modified, None)
        marks = {MARK_HEADS: "synthesised"}
        self.report.synthesised += 1
        record = self.response(url, date, sha256, http, None, marks)
        self.pair(record, heads.synthesised_request(url), url, date, None)

    def fetch(self, row: tuple[Any, ...]) -> None:
        (
            fetched_at,
            status,
            values,
            ip,
            req_t,
            resp_t,
            sid,
            url,
            s_fetched,
            s_status,
            s_type,
            etag,
            modified,
            sha256,
            size,
        ) = row
        refs = refs_for(fetched_at, url, etag, modified, size)
        own = rebuild(req_t, resp_t, ip, values, refs)
        date = warc_date(fetched_at)
        request = heads.parse_request(own.request)
        if status != 304 and fetched_at == s_fetched:
            record = self.response(url, date, sha256, heads.parse_response(own.response), ip, {})
            self.pair(record, request, url, date, ip)
            return
        marks: dict[str, str] = {}
        if status == 304:  # the 200 headers that came with the payload, for replay
            original = self.conn.execute(_ORIGINAL, [sid]).fetchone()
            if original is None:
                http = heads.synthesised_response(s_status, s_type, etag, modified, size)
                marks[MARK_HEADS] = "synthesised"
            else:
                o_at, o_values, o_ip, o_req, o_resp = original
                o_refs = refs_for(o_at, url, etag, modified, size)
                http = heads.parse_response(rebuild(o_req, o_resp, o_ip, o_values, o_refs).response)
            marks["WARC-Verdicts-Http-Status"] = "304"
        else:
            http = heads.parse_response(own.response)
        notes = heads.for_payload(http, size)
        if notes:
            marks[MARK_PAYLOAD] = "; ".join(notes)
        if ip:
            marks["WARC-IP-Address"] = ip
        marks["WARC-Date"] = date
        record = self.writer.create_revisit_record(
            url, self.digests(sha256), url, warc_date(s_fetched), http_headers=http, warc_headers_dict=marks
        )
        self.report.revisits += 1
        self.pair(record, request, url, date, ip)


def _rows(conn: sqlite3.Connection, sql: str, params: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    cursor = conn.execute(sql, params)
    while rows := cursor.fetchmany(256):
        yield from rows


def export_warc(
    db_path: str | Path,
    output: str | Path,
    *,
    site: str | None = None,
    since: str | None = None,
    index: bool = True,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Write the archive's captures (of `site`, fetched at or after `since`) to `output`
    (gzip per record when it ends in .gz), and its CDXJ index beside it."""
    from crawler import __version__

    output = Path(output)
    conn = connect_read_only(db_path)
    params = {"site": site, "since": normalise_time(since) if since else None}
    report = ExportReport(output=str(output))
    try:
        with output.open("wb") as fh:
            writer = _Writer(fh, gzip=output.name.endswith(".gz"), warc_version="1.1")
            info = {
                "software": f"verdict-archive/{__version__}",
                "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                "robots": "obey",
                "isPartOf": site or "all sites",
                "description": "Captures of comparison pages exported from a verdict-archive archive"
                + (f", fetched since {params['since']}" if since else ""),
                "http-header-user-agent": _user_agents(conn),
                "crawls": str(conn.execute("SELECT count(*) FROM crawls").fetchone()[0]),
            }
            writer.write_record(writer.create_warcinfo_record(output.name, info))
            report.records += 1
            exporter = _Exporter(conn, writer, report)
            for row in _rows(conn, _LEGACY, params):
                exporter.legacy(row)
                if progress:
                    progress(1)
            for row in _rows(conn, _FETCHES, params):
                exporter.fetch(row)
                if progress:
                    progress(1)
    finally:
        conn.close()
    if index:
        report.index = str(write_index(output))
    return report


def count_captures(db_path: str | Path) -> int:
    """Snapshots without heads plus fetch log rows: the records an export will pair."""
    conn = connect_read_only(db_path)
    try:
        legacy = conn.execute(
            "SELECT count(*) FROM snapshots AS s WHERE NOT EXISTS (SELECT 1 FROM fetch_log AS f "
            "WHERE f.snapshot_id = s.id AND f.http_status != 304)"
        ).fetchone()[0]
        return legacy + conn.execute("SELECT count(*) FROM fetch_log").fetchone()[0]
    finally:
        conn.close()


def _user_agents(conn: sqlite3.Connection) -> str:
    """The User-Agent values the fetch log's requests were sent with."""
    agents = set()
    for (request,) in conn.execute("SELECT DISTINCT request FROM fetch_heads LIMIT 100"):
        for line in request.split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "user-agent":
                agents.add(value.strip())
    return ", ".join(sorted(agents))


def write_index(warc: Path) -> Path:
    """The sorted CDXJ index of `warc`, beside it (`F.cdxj`)."""
    from cdxj_indexer import CDXJIndexer

    path = index_path(warc)
    CDXJIndexer(output=str(path), inputs=[str(warc)], sort=True).process_all()
    return path


__all__ = ["ExportReport", "count_captures", "export_warc", "index_path", "warc_date", "write_index"]
