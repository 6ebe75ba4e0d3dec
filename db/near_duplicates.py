"""Near-duplicate verdicts: the same quote but for a few words (an edit, a corrected number).

Such a verdict is its own row (its text differs) with `near_duplicate_of` pointing at the
earlier verdict (by first_seen, then id). Comparing every pair would not scale to a
million verdicts, so candidates come from MinHash signatures of 3-word shingles
(rensa, 128 permutations) cut into 32 bands of 4 (LSH banding): two texts become
candidates when any band matches, which finds pairs above a shingle Jaccard of about
0.4 with high probability. Shingle overlap alone would also
pair quotes that merely share a stock opening ("The primitive here is clean: ..."), so
every candidate is verified with a real similarity: the word-level
`difflib.SequenceMatcher` ratio of the two normalised texts must reach
`SIMILARITY` (0.8).

Only verdicts of the same tool are compared (the same text under two tools is an
attribution conflict, not a near duplicate). The pass is incremental: verdicts added
since the last pass (a rowid high-water mark in `archive_state`) are checked against the
band index of that tool's existing verdicts, which is kept in the archive
(`verdict_signatures`: 32 band hashes, 128 bytes a verdict), so a nightly pass reads
no old text but its candidates' and never re-hashes what it has seen.
"""

from __future__ import annotations

import re
import sqlite3
import struct
import sys
import unicodedata
from array import array
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import groupby
from typing import TYPE_CHECKING, Any
from zlib import crc32

from rensa import RMinHash

from db.archive import transaction

if TYPE_CHECKING:
    from sqlite_utils import Database

NUM_PERM = 128
NUM_BANDS = 32
ROWS = NUM_PERM // NUM_BANDS
SEED = 42
#: Word-sequence similarity a candidate must reach to count as a near duplicate.
SIMILARITY = 0.8
STATE_KEY = "near_duplicates.checked_rowid"
#: New verdicts hashed per bulk call (rensa's per-call cost is high); bounds memory. 1,000
#: costs no more CPU than 20,000 (bench/crawl.py: 10,000 new verdicts, 1.1 s vs 1.7 s) and
#: peaks at ~25 MB instead of ~180 MB, which runs in the crawl process at its end.
HASH_CHUNK = 1_000
_BANDS = struct.Struct(f"<{NUM_BANDS}I")
_DIGEST = struct.Struct(f"<{NUM_PERM}I")

#: A word, with inner apostrophes (straight or curly) and decimal points/commas kept.
_WORD = re.compile(r"\w+(?:[.,'\u2019]\w+)*")


def words(text: str) -> list[str]:
    """The NFKC-normalised, case-folded words of a text (numbers with their decimal point).

    Same words as `normalise_text` would give (whitespace is dropped by the tokenizer
    anyway), without its whitespace regex: this runs over every verdict of a tool.
    """
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'"))


def shingles(tokens: list[str]) -> list[str]:
    """Overlapping 3-word shingles (the whole text when shorter)."""
    if len(tokens) < 3:
        return [" ".join(tokens)]
    return [f"{a} {b} {c}" for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False)]


def similarity(a: list[str], b: list[str]) -> float:
    """How much of two word sequences is the same, in order (0..1)."""
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


@dataclass(frozen=True, slots=True)
class NearDuplicateStats:
    checked: int
    marked: int


def band_keys(digest: list[int]) -> array[int]:
    """The LSH band keys of a MinHash digest: per band, the CRC-32 of its 4 values seeded
    with the band's number (stable across runs and machines; a collision between two
    bands or texts only adds a candidate, which verification then rejects)."""
    raw = _DIGEST.pack(*digest)
    step = 4 * ROWS
    return array("I", [crc32(raw[i * step : (i + 1) * step], i) for i in range(NUM_BANDS)])


def _unpack(blob: bytes) -> array[int]:
    keys = array("I", blob)
    if sys.byteorder == "big":
        keys.byteswap()
    return keys


def _pack(keys: array[int]) -> bytes:
    return _BANDS.pack(*keys)


@dataclass(slots=True)
class _Verdict:
    """A verdict in a tool's band index; an indexed one's text and dates load only when it
    turns up as a candidate (`words is None` until then)."""

    id: str
    keys: array[int]
    first_seen: str = ""
    near_duplicate_of: str | None = None
    words: list[str] | None = None

    @property
    def order(self) -> tuple[str, str]:
        return (self.first_seen, self.id)


def mark_near_duplicates(db: Database | sqlite3.Connection) -> NearDuplicateStats:
    """Check verdicts added since the last pass; sets `near_duplicate_of`. One transaction."""
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    with transaction(conn):
        return _mark(conn)


def _mark(conn: sqlite3.Connection) -> NearDuplicateStats:
    row = conn.execute("SELECT value FROM archive_state WHERE key = ?", [STATE_KEY]).fetchone()
    checked_up_to = int(row[0]) if row else 0
    # `+tool_id`: the new rows by rowid, then sorted; ordered by the tool index, SQLite read
    # every verdict of the archive at each crawl's end to find the few new ones
    fresh_rows = conn.execute(
        "SELECT rowid, id, tool_id, first_seen, near_duplicate_of, text FROM verdicts "
        "WHERE rowid > ? ORDER BY +tool_id, first_seen, id",
        [checked_up_to],
    )
    updates: dict[str, str] = {}
    pending: list[tuple[str, list[tuple[Any, ...]]]] = []
    pending_size = checked = top = 0
    for tool, group in groupby(fresh_rows, key=lambda r: r[2]):  # streamed: memory stays bounded
        rows = list(group)
        pending.append((tool, rows))
        pending_size += len(rows)
        checked += len(rows)
        top = max(top, *(r[0] for r in rows))
        if pending_size >= HASH_CHUNK:
            updates.update(_check(conn, pending))
            pending, pending_size = [], 0
    updates.update(_check(conn, pending))
    if not checked:
        return NearDuplicateStats(0, 0)
    conn.executemany(
        "UPDATE verdicts SET near_duplicate_of = ? WHERE id = ?",
        [(original, vid) for vid, original in updates.items()],
    )
    conn.execute(
        "INSERT INTO archive_state (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [STATE_KEY, str(top)],
    )
    return NearDuplicateStats(checked, len(updates))


def _check(conn: sqlite3.Connection, tools: list[tuple[str, list[tuple[Any, ...]]]]) -> dict[str, str]:
    """Check the new verdicts of these tools (hashed in one bulk call) and index them."""
    if not tools:
        return {}
    tokens = [words(r[5]) for _, rows in tools for r in rows]
    digests = RMinHash.digests_from_token_sets([shingles(t) for t in tokens], NUM_PERM, SEED)
    updates: dict[str, str] = {}
    signatures: list[tuple[str, str, bytes]] = []
    offset = 0
    for tool, rows in tools:
        fresh = []
        for r in rows:
            keys = band_keys(digests[offset])
            fresh.append(_Verdict(r[1], keys, r[3], r[4], tokens[offset]))
            signatures.append((r[1], tool, _pack(keys)))
            offset += 1
        updates.update(_check_tool(conn, tool, fresh))
    conn.executemany(
        "INSERT OR REPLACE INTO verdict_signatures (verdict_id, tool_id, bands) VALUES (?, ?, ?)",
        signatures,
    )
    return updates


def _check_tool(conn: sqlite3.Connection, tool: str, fresh: list[_Verdict]) -> dict[str, str]:
    """verdict id -> earlier near-duplicate id, for the new verdicts of one tool.

    The tool's indexed verdicts are screened in C (`set.isdisjoint` over each one's band
    keys) against the keys of the new ones; only those sharing a key become candidates.
    """
    wanted: set[int] = set().union(*(v.keys for v in fresh))
    pool = [
        _Verdict(vid, keys)
        for vid, blob in conn.execute(
            "SELECT verdict_id, bands FROM verdict_signatures WHERE tool_id = ?", [tool]
        )
        if not wanted.isdisjoint(keys := _unpack(blob))
    ]
    index: dict[int, list[int]] = {}
    for key, verdict in enumerate(pool):
        for band in verdict.keys:
            index.setdefault(band, []).append(key)
    updates: dict[str, str] = {}
    for verdict in fresh:
        candidates = {k for band in verdict.keys for k in index.get(band, ())}
        matches = [
            pool[k]
            for k in sorted(candidates)
            if similarity(verdict.words or [], _load(conn, pool[k])) >= SIMILARITY
        ]
        earlier = [m for m in matches if m.order < verdict.order]
        if earlier and verdict.near_duplicate_of is None:
            original = min(earlier, key=lambda m: m.order)
            verdict.near_duplicate_of = updates[verdict.id] = original.id
        for later in (m for m in matches if m.order > verdict.order):
            if later.near_duplicate_of is None:  # seen before, first published later
                later.near_duplicate_of = updates[later.id] = verdict.id
        pool.append(verdict)
        for band in verdict.keys:
            index.setdefault(band, []).append(len(pool) - 1)
    return updates


def _load(conn: sqlite3.Connection, verdict: _Verdict) -> list[str]:
    """A candidate's words (and dates), read from the archive only when it is a candidate."""
    if verdict.words is None:
        verdict.first_seen, verdict.near_duplicate_of, text = conn.execute(
            "SELECT first_seen, near_duplicate_of, text FROM verdicts WHERE id = ?", [verdict.id]
        ).fetchone()
        verdict.words = words(text)
    return verdict.words
