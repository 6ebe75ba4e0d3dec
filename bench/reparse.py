"""How fast is `verdicts reparse`, next to a plain BeautifulSoup text walk of the same pages?

Issue 15 §3's figures. For each size (`--pages`, default 3,000; give it twice, e.g.
`--pages 3000 --pages 30000`):

1. the archive bench/serve.py builds through the real crawler (the synthetic site served
   on loopback by nginx, crawled, 2 % of the comparison pages changed, crawled again),
   cached in bench/out/archive-<pages>-0.02/ and copied to a scratch folder so every run
   starts from the state a crawl left. An archive whose snapshots were not parsed by the
   current parser code (built before a parser change) is built again;
2. the baseline, in this process on one core: every stored body read from that archive,
   inflated, decoded and walked with ``BeautifulSoup(html, "html.parser").get_text()``
   (nothing extracted). Over more than `--walk-pages` (3,000) pages an evenly spaced sample
   is walked: the walk's cost is per page, its rate is what is compared. It runs in two
   halves, one before and one after the reparses, so both see the same minutes of load;
3. `verdicts reparse --db COPY` end to end as a subprocess (start-up included): right after
   the crawls (nothing changed: every page was read by this parser code), once more, then
   after a parser change (every snapshot's note made to name other parser code: every page
   is read again, none changes), then `--force` (every page read again and its rows
   rebuilt and compared).

It prints wall time, pages/s, CPU of the process tree and peak memory of each leg, the
ratio of each reparse to the walk in pages/s of wall time (the issue's measure) and in CPU
per page (less moved by other work on the machine), and the load average around each leg.
Figures are printed, never asserted. Targets: unchanged reparse >= 10x the walk at 3,000
pages, >= 15x at 30,000.

Usage:
    python bench/reparse.py [--pages 3000] [--pages 30000] [--walk-pages 3000] [--unchanged-only]
    python bench/reparse.py --quick        # smoke run: a 40-page site in a scratch folder
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.crawl import PY  # noqa: E402
from bench.proctree import load_average as load  # noqa: E402
from bench.proctree import run_tree  # noqa: E402
from bench.serve import OUT, build_archive  # noqa: E402
from db.archive import sqlite_uri  # noqa: E402

SHARE = 0.02


@dataclass
class Leg:
    name: str
    pages: int
    wall: float
    cpu: float
    peak_mb: float | None = None
    load: str = ""
    exit: int = 0

    @property
    def rate(self) -> float:
        return self.pages / self.wall if self.wall else 0.0


def snapshot_ids(db: Path) -> list[int]:
    """Every snapshot reparse reads (the same selection as db/reparse.py)."""
    conn = sqlite3.connect(sqlite_uri(db, mode="ro"), uri=True)
    try:
        rows = conn.execute(
            "SELECT id FROM snapshots WHERE parse_status IS NOT NULL OR content_type LIKE '%html%' "
            "ORDER BY id"
        )
        return [row[0] for row in rows]
    finally:
        conn.close()


def walk(db: Path, ids: list[int]) -> Leg:
    """The baseline: read, inflate, decode and BeautifulSoup-walk the bodies of `ids`."""
    from bs4 import BeautifulSoup

    from db.snapshots import decompress

    conn = sqlite3.connect(sqlite_uri(db, mode="ro"), uri=True)
    query = (
        "SELECT b.data, b.compression, s.encoding FROM snapshots s "
        "JOIN bodies b ON b.sha256 = s.body_sha256 WHERE s.id = ?"
    )
    before = load()
    wall, cpu = time.perf_counter(), time.process_time()
    for sid in ids:
        data, how, encoding = conn.execute(query, [sid]).fetchone()
        body = decompress(data, how)
        BeautifulSoup(body.decode(encoding or "utf-8", "replace"), "html.parser").get_text()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    conn.close()
    return Leg("BeautifulSoup text walk, 1 core", len(ids), wall, cpu, None, f"{before} -> {load()}")


def reparse(db: Path, force: bool, name: str, pages: int, logs: Path) -> Leg:
    """`verdicts reparse` as a user runs it: a fresh process, start-up included."""
    command = [PY, "-m", "crawler.cli", "reparse", "--db", str(db), *(["--force"] if force else [])]
    log = logs / (name.replace(" ", "_").replace(",", "") + ".log")
    before = load()
    wall, cpu, peak, _, code = run_tree(command, log)
    if code not in (0, 2):
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        print(f"  ! {name}: exit code {code}; last lines of {log}:\n" + "\n".join(lines[-8:]))
    return Leg(name, pages, wall, cpu, peak, f"{before} -> {load()}", code)


def other_code(db: Path) -> None:
    """Make every snapshot's note say another parser code read it (as after a parser change:
    every page is read again, and only pages whose outcome changed are rebuilt)."""
    conn = sqlite3.connect(db)
    conn.execute("UPDATE snapshots SET parsed_with = 'ffffffffffffffff' || substr(parsed_with, 17)")
    conn.commit()
    conn.close()


def fresh(db: Path) -> bool:
    """Were the archive's snapshots parsed by the current parser code? (Else the cached
    archive predates a parser change and the first reparse would parse everything.)"""
    from db.parse_record import parser_fingerprint

    conn = sqlite3.connect(sqlite_uri(db, mode="ro"), uri=True)
    try:
        stale = conn.execute(
            "SELECT count(*) FROM snapshots WHERE parse_status IS NOT NULL "
            "AND (parsed_with IS NULL OR substr(parsed_with, 1, ?) != ?)",
            [len(parser_fingerprint()), parser_fingerprint()],
        ).fetchone()[0]
    except sqlite3.OperationalError:  # built before parsed_with existed
        return False
    finally:
        conn.close()
    return stale == 0


def measure(pages: int, args: argparse.Namespace, out: Path, work: Path) -> list[Leg]:
    source = build_archive(pages, SHARE, out=out)
    if not fresh(source):
        print(f"archive of {pages:,} pages was parsed by other parser code: building it again", flush=True)
        source = build_archive(pages, SHARE, rebuild=True, out=out)
    db = work / f"archive-{pages}.db"
    for stale in work.glob(db.name + "*"):
        stale.unlink()
    shutil.copyfile(source, db)
    ids = snapshot_ids(db)
    count = min(len(ids), args.walk_pages)
    sample = [ids[k * len(ids) // count] for k in range(count)]  # evenly spaced
    logs = work / f"logs-{pages}"
    logs.mkdir(exist_ok=True)
    print(
        f"\n== {pages:,} comparison pages: {len(ids):,} snapshots; load {load()} on {os.cpu_count()} CPU(s)"
    )
    first = walk(db, sample[0::2])
    legs = [
        reparse(db, False, "verdicts reparse, after the crawl", len(ids), logs),
        reparse(db, False, "verdicts reparse, again", len(ids), logs),
    ]
    if not args.unchanged_only:
        other_code(db)
        legs += [
            reparse(db, False, "verdicts reparse, after a parser change", len(ids), logs),
            reparse(db, True, "verdicts reparse --force", len(ids), logs),
        ]
    second = walk(db, sample[1::2])
    both = Leg(
        f"BeautifulSoup text walk, 1 core ({len(sample):,} pages"
        + (f" of {len(ids):,}, evenly spaced)" if len(sample) < len(ids) else ")"),
        first.pages + second.pages,
        first.wall + second.wall,
        first.cpu + second.cpu,
        None,
        f"{first.load} | {second.load}",
    )
    print(f"  walk halves: {first.rate:.0f} and {second.rate:.0f} pages/s")
    return [both, *legs]


def report(pages: int, legs: list[Leg]) -> None:
    print(
        f"{'leg':50} {'pages':>7} {'wall s':>7} {'pages/s':>8} {'CPU s':>7} {'ms CPU/pg':>9} {'peak MB':>8}"
    )
    for leg in legs:
        peak = f"{leg.peak_mb:8.0f}" if leg.peak_mb is not None else f"{'-':>8}"
        per_page = 1000 * leg.cpu / leg.pages if leg.pages else 0.0
        print(
            f"{leg.name:50} {leg.pages:7d} {leg.wall:7.2f} {leg.rate:8.0f} {leg.cpu:7.2f} "
            f"{per_page:9.2f} {peak}   load {leg.load}"
        )
    walk_leg, *runs = legs
    goal = 15 if pages >= 30000 else 10
    for leg in runs:
        if leg.exit not in (0, 2):
            print(f"ratio {leg.name} / walk: failed (exit {leg.exit})")
            continue
        wall_ratio = leg.rate / walk_leg.rate
        cpu_ratio = (walk_leg.cpu / walk_leg.pages) / (leg.cpu / leg.pages) if leg.cpu else float("inf")
        met = "met" if wall_ratio >= goal else "NOT met"
        unchanged = "after the crawl" in leg.name or "again" in leg.name  # the case
        mark = f"   target >= {goal}x: {met}" if unchanged else ""
        print(f"ratio {leg.name} / walk: {wall_ratio:.1f}x wall, {cpu_ratio:.1f}x CPU{mark}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, action="append", help="comparison pages [3000]; repeatable")
    parser.add_argument("--walk-pages", type=int, default=3000, help="pages the walk reads at most [3000]")
    parser.add_argument("--quick", action="store_true", help="smoke run: a 40-page site, scratch folders")
    parser.add_argument(
        "--unchanged-only",
        action="store_true",
        help="only the reparses of unchanged pages (the issue's case)",
    )
    args = parser.parse_args(argv)
    sizes = [40] if args.quick else (args.pages or [3000])
    work = Path(tempfile.mkdtemp(prefix="verdicts-reparse-bench-"))
    out = work / "out" if args.quick else OUT
    try:
        for pages in sizes:
            legs = measure(pages, args, out, work)
            report(pages, legs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
