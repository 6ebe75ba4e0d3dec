"""Benchmark of the archive's write path (issue 5): dedup, history and FTS at crawl scale.

A synthetic stream of comparison pages (default 100,000; 1,000 tools with four
reviewer quotes each, reused on every page of that tool as on the real site, 1 % of
the quotes edited part-way through the stream) goes through `ArchiveWriter.store` in
batches of 200, as the crawl's writer process sends them. Printed, never asserted:

- appearances stored per second through ArchiveWriter (dedup + history + FTS);
- the same stream with the FTS triggers removed, and with sqlite-utils' default
  (any-column) update triggers, to show what the triggers cost;
- the same stream as raw inserts alone (plain executemany into the same tables, no
  dedup or history logic), and the ratio;
- the near-duplicate pass time over the stream's verdicts, and over `--nd-verdicts`
  distinct verdicts to show how it scales;
- zlib level 1 vs 6 and the archive's own `compress` (ISA-L) on the stream's bodies;
  archive size per page.

Usage: python bench/archive.py [--pages 100000] [--nd-verdicts 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.results import FetchResult
from db.archive import open_archive
from db.identity import comparison_id, page_id, text_key, tool_id, verdict_id
from db.ingest import cached_tool_id, verdict_keys
from db.near_duplicates import mark_near_duplicates
from db.snapshots import compress, sha256_hex
from db.store import ArchiveWriter
from parsers.model import Listing, ParseResult, Quote

BATCH = 200
TOOLS = 1000
EDITED_SHARE = 0.01
OPENINGS = (
    "The primitive here is clean:",
    "Direct competitor is",
    "The thesis here is falsifiable:",
    "The buyer here is",
)
CHROME = (
    "<nav><a href='/'>Home</a> <a href='/compare'>Comparisons</a> <a href='/about'>About</a></nav>"
    "<aside><h3>Weekly AI Tool Verdicts</h3><p>Get the next comparison in your inbox. New AI tools"
    " ship daily. We compare them before you waste an afternoon.</p><form><input name=email>"
    "</form></aside>" * 6
)


class Stream:
    """Deterministic synthetic site: tools, their quotes, and pages pairing them."""

    def __init__(self, pages: int, seed: int) -> None:
        rng = random.Random(seed)
        vocab = [f"w{rng.randrange(10**6):06d}" for _ in range(3000)] + [str(n) for n in range(100)]
        self.pages = pages
        self.seed = seed
        self.rng = rng
        self.names = [f"Tool {i:04d} {rng.choice(vocab)}" for i in range(TOOLS)]
        self.quotes: list[list[str]] = []
        for _ in range(TOOLS):
            seats = []
            for seat in range(4):
                body = " ".join(rng.choice(vocab) for _ in range(rng.randrange(60, 110)))
                seats.append(f"{OPENINGS[seat]} {body}.")
            self.quotes.append(seats)
        # 1 % of the quotes get an edited version (a corrected number) from a random page on.
        self.edits: dict[tuple[int, int], tuple[int, str]] = {}
        for _ in range(int(TOOLS * 4 * EDITED_SHARE)):
            tool, seat = rng.randrange(TOOLS), rng.randrange(4)
            words = self.quotes[tool][seat].split(" ")
            words[rng.randrange(5, len(words) - 1)] = str(rng.randrange(100, 999))
            self.edits[(tool, seat)] = (rng.randrange(max(pages, 1)), " ".join(words))

    def quote(self, tool: int, seat: int, page: int) -> str:
        edit = self.edits.get((tool, seat))
        if edit is not None and page >= edit[0]:
            return edit[1]
        return self.quotes[tool][seat]

    def __iter__(self) -> Iterator[tuple[FetchResult, ParseResult]]:
        rng = random.Random(7)
        for i in range(self.pages):
            a, b = rng.sample(range(TOOLS), 2)
            listings = [self._listing(1, a), self._listing(2, b)]
            quotes = [
                Quote(position, seat + 1, self.quote(tool, seat, i))
                for seat in range(4)
                for position, tool in ((1, a), (2, b))
            ]
            title = f"{self.names[a]} vs {self.names[b]}"
            parse = ParseResult("ok", "bench", "1", title, listings, quotes, [])
            body = self._html(title, listings, quotes)
            url = f"https://bench.test/compare/{a}-vs-{b}-{i}"
            seconds = i // 10
            day, hour, minute = 1 + seconds // 86400, seconds // 3600 % 24, seconds // 60 % 60
            when = f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:{seconds % 60:02d}.{i % 10}00000+00:00"
            yield (
                FetchResult(
                    url, url, "fetched", 200, "text/html", None, None, body, None, "utf-8", "html", when, None
                ),
                parse,
            )

    def _listing(self, position: int, tool: int) -> Listing:
        price = 5 + tool % 40
        return Listing(
            position,
            self.names[tool],
            "Developer Tools",
            f"Tagline of tool {tool}",
            80 + tool % 20,
            40 + tool % 50,
            f"${price}/mo",
            float(price),
            "paid",
            f"{self.names[tool]} does things. " * 8,
        )

    @staticmethod
    def _html(title: str, listings: list[Listing], quotes: list[Quote]) -> bytes:
        parts = [f"<html><body>{CHROME}<h1>{title}</h1>"]
        for item in listings:
            parts.append(
                f"<section><p>{item.category}</p><h2>{item.name}</h2><p>{item.tagline}</p>"
                f"<b>{item.panel_ship_pct}%</b> Panel ship <b>{item.community_pct}%</b>"
                f" Community <b>{item.entry_price}</b> Entry <p>{item.description}</p></section>"
            )
        parts.append("<h2>Reviewer scorecard</h2>")
        parts.extend(f"<blockquote>\u201c{q.text}\u201d</blockquote>" for q in quotes)
        parts.append(f"{CHROME}</body></html>")
        return "".join(parts).encode("utf-8")


def batches(stream: Stream) -> Iterator[list[tuple[FetchResult, ParseResult]]]:
    batch: list[tuple[FetchResult, ParseResult]] = []
    for item in stream:
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def fresh_archive(directory: Path, name: str, triggers: str = "narrow"):  # type: ignore[no-untyped-def]
    db = open_archive(directory / f"{name}.db")
    if triggers == "none":
        for table in ("verdicts", "tools"):
            for suffix in ("ai", "ad", "au"):
                db.execute(f"DROP TRIGGER IF EXISTS [{table}_{suffix}]")
    elif triggers == "broad":
        for table, columns in (("verdicts", ("text",)), ("tools", ("name", "tagline", "description"))):
            cols = ", ".join(columns)
            db.execute(f"DROP TRIGGER [{table}_au]")
            db.execute(
                f"CREATE TRIGGER [{table}_au] AFTER UPDATE ON [{table}] BEGIN "
                f"INSERT INTO [{table}_fts] ([{table}_fts], rowid, {cols}) VALUES('delete', old.rowid, "
                f"{', '.join('old.' + c for c in columns)}); INSERT INTO [{table}_fts] (rowid, {cols}) "
                f"VALUES (new.rowid, {', '.join('new.' + c for c in columns)}); END"
            )
    return db


def clear_caches() -> None:
    """Every run starts with cold id caches, as a fresh writer process does."""
    verdict_keys.cache_clear()
    cached_tool_id.cache_clear()


def run_writer(
    directory: Path, stream: Stream, name: str, triggers: str = "narrow"
) -> tuple[float, int, object]:
    db = fresh_archive(directory, name, triggers)
    clear_caches()
    writer = ArchiveWriter(db, None)
    appearances = 0
    started = time.perf_counter()
    for batch in batches(stream):
        writer.store(batch)
        appearances += sum(len(parse.quotes) for _, parse in batch)
    return time.perf_counter() - started, appearances, db


def insert(table: str, columns: str, ignore: bool = False) -> str:
    """A plain INSERT statement with one placeholder per column."""
    marks = ", ".join("?" * len(columns.split(",")))
    return f"INSERT {'OR IGNORE ' if ignore else ''}INTO {table} ({columns}) VALUES ({marks})"


RAW = {
    "pages": insert("pages", "id, url, host, first_seen, last_seen, status, http_status, body_sha256"),
    "bodies": insert("bodies", "sha256, size, compression, data", ignore=True),
    "snapshots": insert("snapshots", "id, page_id, url, fetched_at, http_status, body_sha256, parse_status"),
    "tools": insert("tools", "id, name, category, tagline, description, first_seen, last_seen", True),
    "comparisons": insert("comparisons", "id, url, title, tool1_id, tool2_id, first_seen, last_seen"),
    "listings": insert(
        "listings", "id, comparison_id, tool_id, position, entry_price, first_seen, last_seen"
    ),
    "verdicts": insert("verdicts", "id, tool_id, reviewer_seat, text, text_key, first_seen, last_seen", True),
    "verdict_appearances": insert(
        "verdict_appearances", "verdict_id, comparison_id, reviewer_seat, first_seen, last_seen"
    ),
}


def run_raw(directory: Path, stream: Stream) -> float:
    """The same rows written with plain executemany: no lookups, no merging, no history."""
    db = fresh_archive(directory, "raw")
    clear_caches()
    conn = db.conn
    snapshot = 0
    started = time.perf_counter()
    for batch in batches(stream):
        pages, bodies, snaps, tools, comps, listings, verdicts, appearances = ([] for _ in range(8))
        for fetch, parse in batch:
            snapshot += 1
            sha = sha256_hex(fetch.body)
            pid, cid = page_id(fetch.url), comparison_id(fetch.url)
            pages.append((pid, fetch.url, "bench.test", fetch.fetched_at, fetch.fetched_at, "ok", 200, sha))
            bodies.append((sha, len(fetch.body), "zlib", compress(fetch.body)))
            snaps.append((snapshot, pid, fetch.url, fetch.fetched_at, 200, sha, "ok"))
            ids = {}
            for item in parse.listings:
                tid = ids[item.position] = cached_tool_id(item.name or "")
                tools.append(
                    (
                        tid,
                        item.name,
                        item.category,
                        item.tagline,
                        item.description,
                        fetch.fetched_at,
                        fetch.fetched_at,
                    )
                )
                listings.append(
                    (
                        f"{cid}{item.position}",
                        cid,
                        tid,
                        item.position,
                        item.entry_price,
                        fetch.fetched_at,
                        fetch.fetched_at,
                    )
                )
            comps.append((cid, fetch.url, parse.title, ids[1], ids[2], fetch.fetched_at, fetch.fetched_at))
            for quote in parse.quotes:
                vid, key = verdict_keys(ids[quote.position], quote.text)  # same id cache as ingest
                verdicts.append(
                    (
                        vid,
                        ids[quote.position],
                        quote.reviewer_seat,
                        quote.text,
                        key,
                        fetch.fetched_at,
                        fetch.fetched_at,
                    )
                )
                appearances.append((vid, cid, quote.reviewer_seat, fetch.fetched_at, fetch.fetched_at))
        rows = (pages, bodies, snaps, tools, comps, listings, verdicts, appearances)
        with db.atomic():
            for sql, batch_rows in zip(RAW.values(), rows, strict=True):
                conn.executemany(sql, batch_rows)
    seconds = time.perf_counter() - started
    db.close()
    drop(directory, "raw")
    return seconds


def drop(directory: Path, name: str) -> None:
    """Delete a finished run's archive (100,000 pages make about a gigabyte)."""
    for path in directory.glob(f"{name}.db*"):
        path.unlink()


def archive_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def synthetic_verdicts(count: int, rng: random.Random, start: int = 0) -> list[tuple[str, ...]]:
    """`count` distinct verdicts over TOOLS tools; every 100th is a one-word edit of the previous."""
    vocab = [f"v{rng.randrange(10**6):06d}" for _ in range(5000)]
    rows: list[tuple[str, ...]] = []
    for i in range(start, start + count):
        tid = tool_id(f"tool {i % TOOLS}")
        if i % 100 == 99 and rows:
            tid = rows[-1][1]
            words = rows[-1][3].split(" ")
            words[10] = "edited"
            text = " ".join(words)
        else:
            text = f"{OPENINGS[i % 4]} " + " ".join(rng.choice(vocab) for _ in range(80))
        seen = f"2026-11-{1 + i // 86400 % 28:02d}T00:00:{i % 60:02d}+00:00"
        rows.append((verdict_id(tid, text), tid, "1", text, text_key(text), seen, seen))
    return rows


def near_duplicate_scale(directory: Path, count: int, seed: int) -> tuple[float, int, float, int]:
    """The pass over `count` new verdicts, then the incremental pass over 1 % more."""
    rng = random.Random(seed)
    db = fresh_archive(directory, "near", triggers="none")
    rows = synthetic_verdicts(count, rng)
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO tools (id, name, first_seen, last_seen) VALUES (?, ?, '', '')",
            [(tool_id(f"tool {i}"), f"tool {i}") for i in range(TOOLS)],
        )
        db.conn.executemany(RAW["verdicts"], rows)
    started = time.perf_counter()
    first = mark_near_duplicates(db)
    first_seconds = time.perf_counter() - started
    more = synthetic_verdicts(max(1, count // 100), rng, start=count)
    with db.atomic():
        db.conn.executemany(RAW["verdicts"], more)
    started = time.perf_counter()
    second = mark_near_duplicates(db)
    return first_seconds, first.marked, time.perf_counter() - started, second.checked


#: Pages of the interleaved trigger comparison (each variant runs ROUNDS times; best kept).
TRIGGER_PAGES = 20_000
ROUNDS = 2


def trigger_figures(stream: Stream, directory: Path) -> None:
    """What the FTS triggers cost: the same stream with narrowed, no and any-column triggers.

    Variants alternate (A B C A B C) and the best of each is kept, so a busy machine
    biases them alike.
    """
    best: dict[str, float] = {}
    for _ in range(ROUNDS):
        for variant in ("narrow", "none", "broad"):
            seconds, _, db = run_writer(directory, stream, variant, triggers=variant)
            db.close()  # type: ignore[attr-defined]
            drop(directory, variant)
            best[variant] = min(seconds, best.get(variant, seconds))
    narrow, none, broad = best["narrow"], best["none"], best["broad"]
    print(
        f"  FTS triggers ({stream.pages:,} pages, best of {ROUNDS}): narrowed {narrow:.2f} s, "
        f"none {none:.2f} s (triggers cost {100 * (narrow - none) / none:+.1f} %), "
        f"sqlite-utils' any-column {broad:.2f} s ({broad / narrow:.2f}x the narrowed)"
    )


def stream_figures(stream: Stream, directory: Path, pages: int, trigger_variants: bool) -> None:
    """The stream through ArchiveWriter, its variants and raw inserts; prints the figures."""
    sample = [item[0].body for item, _ in zip(stream, range(min(pages, 500)), strict=False)]
    raw = sum(map(len, sample))
    for level in (1, 6):
        started = time.process_time()
        size = sum(len(zlib.compress(body, level)) for body in sample)
        took = time.process_time() - started
        print(f"  zlib level {level}: {raw / size:5.2f}x smaller, {len(sample) / took:8,.0f} bodies/s")
    started = time.process_time()
    size = sum(len(compress(body)) for body in sample)  # what the archive writes (ISA-L when installed)
    took = time.process_time() - started
    print(f"  archive's compress(): {raw / size:5.2f}x smaller, {len(sample) / took:8,.0f} bodies/s")

    started = time.perf_counter()
    for _ in batches(stream):
        pass
    generation = time.perf_counter() - started
    print(f"  (generating the stream takes {generation:.2f} s; subtracted from every figure below)")
    seconds, appearances, db = run_writer(directory, stream, "archive")
    seconds -= generation
    started = time.perf_counter()
    near = mark_near_duplicates(db)  # type: ignore[attr-defined]
    near_seconds = time.perf_counter() - started
    verdicts = db.execute("SELECT count(*) FROM verdicts").fetchone()[0]  # type: ignore[attr-defined]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[attr-defined]
    size = archive_bytes(directory / "archive.db")
    db.close()  # type: ignore[attr-defined]
    drop(directory, "archive")
    print(
        f"  ArchiveWriter:        {seconds:7.2f} s  {appearances / seconds:10,.0f} appearances/s "
        f"({pages / seconds:,.0f} pages/s; {verdicts:,} verdicts)"
    )
    if trigger_variants:
        trigger_figures(Stream(min(pages, TRIGGER_PAGES), stream.seed), directory)
    raw_seconds = run_raw(directory, stream) - generation
    print(f"  raw inserts alone:    {raw_seconds:7.2f} s  {appearances / raw_seconds:10,.0f} appearances/s")
    print(f"  ratio ArchiveWriter / raw inserts: {seconds / raw_seconds:.2f}x the time")
    print(
        f"  near-duplicate pass:  {near_seconds:7.3f} s over {near.checked:,} verdicts, {near.marked} marked"
    )
    print(
        f"  archive size:         {size / pages / 1024:7.2f} KiB per page "
        f"({size / 2**20:,.1f} MiB; bodies {raw / len(sample) / 1024:.1f} KiB raw)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--nd-verdicts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-trigger-variants",
        dest="trigger_variants",
        action="store_false",
        help="Skip the interleaved runs without / with any-column FTS triggers.",
    )
    args = parser.parse_args()
    stream = Stream(args.pages, args.seed)
    print(
        f"Archive benchmark: {args.pages:,} pages, {TOOLS:,} tools, {len(stream.edits)} edited quotes, "
        f"batches of {BATCH} ({os.cpu_count()} cores)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if args.pages:
            stream_figures(stream, directory, args.pages, args.trigger_variants)
        if args.nd_verdicts:
            nd_seconds, marked, again, checked = near_duplicate_scale(directory, args.nd_verdicts, args.seed)
            print(
                f"  near-duplicate pass:  {nd_seconds:7.3f} s over {args.nd_verdicts:,} new verdicts "
                f"({marked} marked); incremental pass over {checked:,} more: {again:.3f} s"
            )


if __name__ == "__main__":
    main()
