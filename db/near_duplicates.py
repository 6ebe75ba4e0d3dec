"""Near-duplicate verdicts: the same quote but for a few words (an edit, a corrected number).

Such a verdict is its own row (its text differs) with `near_duplicate_of` pointing at the
earlier verdict (by first_seen, then id). Comparing every pair would not scale to a
million verdicts, so candidates come from MinHash signatures of 3-word shingles
(rensa, 128 permutations) in an LSH index banded 32 x 4, which finds pairs above a
shingle Jaccard of about 0.4 with high probability. Shingle overlap alone would also
pair quotes that merely share a stock opening ("The primitive here is clean: ..."), so
every candidate is verified with a real similarity: the word-level
`difflib.SequenceMatcher` ratio of the two normalised texts must reach
`SIMILARITY` (0.8).

Only verdicts of the same tool are compared (the same text under two tools is an
attribution conflict, not a near duplicate). The pass is incremental: verdicts added
since the last pass (a rowid high-water mark in `archive_state`) are checked against an
index of that tool's existing verdicts, and each is added to the index once checked.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import groupby

from rensa import RMinHash, RMinHashLSH
from sqlite_utils import Database

NUM_PERM = 128
NUM_BANDS = 32
LSH_THRESHOLD = 0.4
SEED = 42
#: Word-sequence similarity a candidate must reach to count as a near duplicate.
SIMILARITY = 0.8
STATE_KEY = "near_duplicates.checked_rowid"
#: Verdicts hashed per bulk call; bounds memory whatever the archive's size.
HASH_CHUNK = 20_000

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


@dataclass(slots=True)
class _Verdict:
    rowid: int
    id: str
    first_seen: str
    near_duplicate_of: str | None
    words: list[str]

    @property
    def order(self) -> tuple[str, str]:
        return (self.first_seen, self.id)


def mark_near_duplicates(db: Database) -> NearDuplicateStats:
    """Check verdicts added since the last pass; sets `near_duplicate_of`. One transaction."""
    with db.atomic():
        return _mark(db.conn)


def _mark(conn: sqlite3.Connection) -> NearDuplicateStats:
    row = conn.execute("SELECT value FROM archive_state WHERE key = ?", [STATE_KEY]).fetchone()
    checked_up_to = int(row[0]) if row else 0
    new_rows = conn.execute(
        "SELECT rowid, id, tool_id, first_seen, near_duplicate_of, text FROM verdicts "
        "WHERE rowid > ? ORDER BY tool_id, first_seen, id",
        [checked_up_to],
    ).fetchall()
    if not new_rows:
        return NearDuplicateStats(0, 0)
    updates: dict[str, str] = {}
    pending: list[tuple[list[_Verdict], list[_Verdict]]] = []
    pending_size = 0
    for tool, group in groupby(new_rows, key=lambda r: r[2]):
        fresh = [_Verdict(r[0], r[1], r[3], r[4], words(r[5])) for r in group]
        existing = [
            _Verdict(r[0], r[1], r[2], r[3], words(r[4]))
            for r in conn.execute(
                "SELECT rowid, id, first_seen, near_duplicate_of, text FROM verdicts "
                "WHERE tool_id = ? AND rowid <= ?",
                [tool, checked_up_to],
            )
        ]
        pending.append((existing, fresh))
        pending_size += len(existing) + len(fresh)
        if pending_size >= HASH_CHUNK:
            updates.update(_match_tools(pending))
            pending, pending_size = [], 0
    updates.update(_match_tools(pending))
    conn.executemany(
        "UPDATE verdicts SET near_duplicate_of = ? WHERE id = ?",
        [(original, vid) for vid, original in updates.items()],
    )
    conn.execute(
        "INSERT INTO archive_state (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [STATE_KEY, str(max(r[0] for r in new_rows))],
    )
    return NearDuplicateStats(len(new_rows), len(updates))


def _match_tools(tools: list[tuple[list[_Verdict], list[_Verdict]]]) -> dict[str, str]:
    """Hash every verdict of these tools in one bulk call (rensa's per-call cost is high)."""
    if not tools:
        return {}
    pools = [existing + fresh for existing, fresh in tools]
    hashes = RMinHash.from_token_sets([shingles(v.words) for pool in pools for v in pool], NUM_PERM, SEED)
    updates: dict[str, str] = {}
    start = 0
    for (existing, fresh), pool in zip(tools, pools, strict=True):
        updates.update(_match_tool(existing, fresh, hashes[start : start + len(pool)]))
        start += len(pool)
    return updates


def _match_tool(existing: list[_Verdict], fresh: list[_Verdict], hashes: list[RMinHash]) -> dict[str, str]:
    """verdict id -> earlier near-duplicate id, for the fresh verdicts of one tool."""
    index = RMinHashLSH(LSH_THRESHOLD, NUM_PERM, NUM_BANDS)
    pool = existing + fresh
    if existing:
        index.insert_pairs(list(enumerate(hashes[: len(existing)])))
    updates: dict[str, str] = {}
    for offset, verdict in enumerate(fresh):
        key = len(existing) + offset
        matches = [
            pool[k]
            for k in index.query(hashes[key])
            if similarity(verdict.words, pool[k].words) >= SIMILARITY
        ]
        earlier = [m for m in matches if m.order < verdict.order]
        if earlier and verdict.near_duplicate_of is None:
            original = min(earlier, key=lambda m: m.order)
            verdict.near_duplicate_of = updates[verdict.id] = original.id
        for later in (m for m in matches if m.order > verdict.order):
            if later.near_duplicate_of is None:  # seen before, first published later
                later.near_duplicate_of = updates[later.id] = verdict.id
        index.insert(key, hashes[key])
    return updates
