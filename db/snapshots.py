"""Raw page bodies: stored once per distinct content, read back byte for byte.

An archive's first promise is that what was served is kept exactly. Bodies are keyed
by the sha256 of the bytes as served, so a page re-crawled unchanged (or the same
bytes at two URLs) costs no space; they are stored as zlib streams at the fastest
level, because bench/archive.py measured on comparison pages that zlib's level 6
shrinks them 3.25x instead of 3.08x (5 % smaller) for 2.3x the CPU. The streams are
written by ISA-L (`isal`, when installed): the same zlib format that `zlib.decompress`
and any other reader inflates, at level 1 about 3.5x faster than zlib's level 1 and a
little smaller (3.25x vs 3.14x on the synthetic site). `read_snapshot` is what
`verdicts snapshot` prints.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from db.archive import connect_read_only
from db.identity import page_id

#: Level for new bodies (1 = fastest; see bench/archive.py for 1 vs 6).
COMPRESSION_LEVEL = 1

_deflate: Callable[[bytes, int], bytes]
try:  # ISA-L writes the same zlib format several times faster
    from isal.isal_zlib import compress as _deflate
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
    _deflate = zlib.compress


class SnapshotNotFound(Exception):
    """No archived body for that URL (at that time)."""


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def compress(body: bytes, level: int = COMPRESSION_LEVEL) -> bytes:
    """A zlib stream of `body` (stored with compression 'zlib')."""
    return _deflate(body, level)


def decompress(data: bytes, compression: str) -> bytes:
    if compression == "zlib":
        return zlib.decompress(data)
    if compression == "none":
        return bytes(data)
    raise ValueError(f"Unknown body compression {compression!r}.")


def existing_keys(conn: sqlite3.Connection, sql: str, keys: list[str]) -> set[str]:
    """Which of `keys` the single-column `sql` (with one `IN ({})`) finds, in chunks."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        placeholders = ", ".join("?" * len(chunk))
        found.update(row[0] for row in conn.execute(sql.format(placeholders), chunk))
    return found


def read_body(conn: sqlite3.Connection, sha256: str) -> bytes:
    row = conn.execute("SELECT data, compression FROM bodies WHERE sha256 = ?", [sha256]).fetchone()
    if row is None:
        raise SnapshotNotFound(f"The body {sha256} is missing from the archive.")
    return decompress(row[0], row[1])


def normalise_time(at: str) -> str:
    """An ISO 8601 date or time (naive = UTC) as the archive writes times."""
    try:
        moment = datetime.fromisoformat(at.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    except (ValueError, OverflowError) as error:  # not a time, or one UTC cannot hold (year 1 +01:00)
        raise SnapshotNotFound(f"--at {at!r} is not an ISO 8601 time (e.g. 2026-11-23T12:00:00Z).") from error


def _candidate_urls(url: str) -> list[str]:
    urls = [url]
    try:  # the crawler's canonical form, when the crawler is installed alongside
        from crawler.urls import canonicalize

        canonical = canonicalize(url)
    except Exception:
        canonical = url
    if canonical != url:
        urls.append(canonical)
    return urls


def read_snapshot(db_path: str | Path, url: str, at: str | None = None) -> bytes:
    """The body of `url` as served: the newest snapshot, or the one in force at `at`."""
    conn = connect_read_only(db_path)
    try:
        for candidate in _candidate_urls(url):
            where = "(page_id = ? OR url = ?)"
            params: list[str] = [page_id(candidate), candidate]
            if at is not None:
                where += " AND julianday(fetched_at) <= julianday(?)"
                params.append(normalise_time(at))
            row = conn.execute(
                f"SELECT body_sha256 FROM snapshots WHERE {where} "
                "ORDER BY julianday(fetched_at) DESC, id DESC LIMIT 1",
                params,
            ).fetchone()
            if row is not None:
                return read_body(conn, row[0])
        first = conn.execute(
            "SELECT min(fetched_at) FROM snapshots WHERE page_id = ? OR url = ?",
            [page_id(url), url],
        ).fetchone()[0]
    finally:
        conn.close()
    if first is not None:
        raise SnapshotNotFound(f"No snapshot of {url} at or before {at}; the first is from {first}.")
    raise SnapshotNotFound(f"No snapshot of {url} in the archive.")
