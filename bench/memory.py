"""Does a crawl's memory stay flat as the archive grows? Peak RSS at two (or more) site sizes.

Issue 14 ("memory that grows with the archive"): a resumed crawl loaded its whole frontier,
and a re-crawl listed every archived URL in memory. For each size this runs the real
`verdicts crawl` (a subprocess, as an operator runs it) over the synthetic site
(bench/synthetic_site.py) served on loopback by nginx when present, else by
crawler/static_server.py, into a fresh archive:

1. a crawl stopped by `--max-pages` just after the sitemap was read: its frontier holds
   every page of the site, queued;
2. the resumed crawl, which takes that frontier over and fetches the rest of the site;
3. an unchanged re-crawl, seeded with every archived page (all answered 304);
4. `verdicts reparse --force` of that archive: every snapshot parsed again by a pool of
   worker processes, every page's rows rebuilt by the one writing process.

Each leg's peak RSS is sampled every 20 ms (bench/proctree.py, shared with bench/crawl.py): the fetching
process ("main"), the writer (for reparse: its worker processes, their peaks summed), and
the whole tree at one time. The table ends with each
peak's ratio between the largest and the smallest size: flat is a ratio near 1.0, against a
size ratio of 10. Figures are printed, never asserted; the load average is printed beside
them (a loaded machine moves wall times, memory much less).

`--sitemap-urls N` adds a fifth leg at sizes a synthetic site would take hours to build: the
stopped crawl alone on a site of nothing but a start page and its sitemaps (an index of
50,000-URL sitemaps listing N pages). Every URL is read, admitted and queued; its peaks show
what a sitemap's size alone costs (the fetching process's seen-URL hashes, ~8-16 bytes a URL,
are the one per-URL state left).

Usage:
    python bench/memory.py                       # 3,000 and 30,000 comparison pages
    python bench/memory.py --sitemap-urls 30000 --sitemap-urls 300000   # that leg alone
    python bench/memory.py --pages 3000 --pages 100000 --resume-cap 3000
    python bench/memory.py --quick               # the test suite's smoke run (tiny sites)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import crawl as bench_crawl  # noqa: E402
from bench import synthetic_site as bench_site  # noqa: E402
from bench.proctree import run_tree  # noqa: E402
from bench.workdir import scratch  # noqa: E402

#: Requests of the stopped crawl: robots.txt is not one; the start page and the sitemap are.
STOP_AFTER = 20
LEGS = ("stopped crawl", "resumed crawl", "unchanged re-crawl", "reparse --force")


@dataclass
class Run:
    """One leg at one size."""

    pages: int
    leg: str
    requests: int
    wall: float
    main_mb: float
    writer_mb: float
    tree_mb: float
    exit: int
    queued: int  # frontier entries left queued after this leg


def frontier_queued(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT count(*) FROM frontier WHERE state = 'queued' AND crawl_id = (SELECT max(id) FROM crawls)"
        ).fetchone()
        return int(row[0])
    finally:
        conn.close()


def crawl_run(pages: int, leg: str, origin: str, db: Path, logs: Path, max_pages: int | None) -> Run:
    if leg == "reparse --force":
        command = [bench_crawl.PY, "-m", "crawler.cli", "reparse", "--db", str(db), "--force"]
    else:
        command = [bench_crawl.PY, "-m", "crawler.cli", "crawl", f"{origin}/", "--db", str(db)]
        command += ["--delay", "0", "--concurrency", str(bench_crawl.CONCURRENCY)]
        command += ["--per-host", str(bench_crawl.CONCURRENCY)]
    if max_pages is not None:
        command += ["--max-pages", str(max_pages)]
    log = logs / f"{pages}-{leg.replace(' ', '_')}.log"
    wall, _, peak, tree, code = run_tree(command, log)
    text = log.read_text(encoding="utf-8", errors="replace")
    requests = 0
    for line in text.splitlines():
        # a crawl's summary line "requests N", reparse's "Re-parsed N of M snapshots"
        if line.strip().startswith("requests ") or line.startswith("Re-parsed "):
            requests = int(line.split()[1])
    if code != 0:
        print(f"  ! {leg}: exit code {code}; last lines of {log}:\n" + "\n".join(text.splitlines()[-8:]))
    roles = tree.by_role()
    main_mb, writer_mb = roles.get("main", (0.0, 0.0))[1], roles.get("writer", (0.0, 0.0))[1]
    return Run(pages, leg, requests, wall, main_mb, writer_mb, peak, code, frontier_queued(db))


def measure(pages: int, workdir: Path, stop_after: int, resume_cap: int | None = None) -> list[Run]:
    """The legs at one size, on one fresh archive (without the re-crawl and the reparse when the
    resumed crawl is capped: they need the whole site archived)."""
    site = bench_site.ensure(pages)
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    overlay = bench_site.ORIGIN_FILES if os.access(bench_crawl.NGINX, os.X_OK) else ()
    db = workdir / f"archive-{pages}.db"
    with bench_crawl.serve(site.root, workdir, overlay) as (origin, server):
        site.set_origin(origin, into=workdir if overlay else None)
        load = os.getloadavg()
        print(
            f"\n== {pages:,} comparisons ({len(site.pages):,} pages) served by {server}; "
            f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPU(s)",
            flush=True,
        )
        runs = []
        for leg, cap in zip(LEGS, (stop_after, resume_cap, None, None), strict=True):
            if leg in ("unchanged re-crawl", "reparse --force") and resume_cap is not None:
                break
            runs.append(crawl_run(pages, leg, origin, db, logs, cap))
            print(f"   {leg}: done in {runs[-1].wall:.1f} s", flush=True)
    return runs


#: URLs per sitemap file (the sitemaps.org limit); more URLs make a sitemap index.
SITEMAP_URLS_PER_FILE = 50_000


def write_sitemap_site(root: Path, urls: int, origin: str) -> None:
    """A start page and sitemaps (an index of `SITEMAP_URLS_PER_FILE`-URL files) naming `urls`
    comparison pages that do not exist: the stopped crawl reads the sitemaps, not the pages."""
    (root / "index.html").write_text(
        '<html><body><a href="/compare/">all</a></body></html>', encoding="utf-8"
    )
    names = []
    for part, first in enumerate(range(0, urls, SITEMAP_URLS_PER_FILE)):
        names.append(f"sitemap-{part}.xml")
        with (root / names[-1]).open("w", encoding="utf-8") as out:
            out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
            out.write('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n')
            for i in range(first, min(urls, first + SITEMAP_URLS_PER_FILE)):
                loc = f"{origin}/compare/tool-{i}-vs-tool-{i + 1}/"
                out.write(f"<url><loc>{loc}</loc><lastmod>2025-01-01</lastmod></url>\n")
            out.write("</urlset>\n")
    index = "".join(f"<sitemap><loc>{origin}/{name}</loc></sitemap>" for name in names)
    (root / "sitemap.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{index}</sitemapindex>\n",
        encoding="utf-8",
    )


def measure_sitemap(urls: int, workdir: Path, stop_after: int) -> Run:
    """The stopped crawl on a sitemap-only site of `urls` pages (`--sitemap-urls`)."""
    root = workdir / "site"
    root.mkdir()
    logs = workdir / "logs"
    logs.mkdir()
    # (stopped after the start page and every sitemap file: the whole list is queued)
    cap = stop_after + urls // SITEMAP_URLS_PER_FILE + 1
    with bench_crawl.serve(root, workdir) as (origin, _):
        write_sitemap_site(root, urls, origin)  # (served from disk: written once the origin is known)
        run = crawl_run(urls, "stopped crawl", origin, workdir / "archive.db", logs, cap)
    run.leg = "sitemap only"
    print(
        f"   {urls:,} sitemap URLs, stopped crawl: done in {run.wall:.1f} s ({run.queued:,} queued)",
        flush=True,
    )
    return run


def print_table(runs: list[Run]) -> None:
    print(
        f"\n{'pages':>8} {'leg':20} {'requests':>9} {'wall s':>7} {'queued':>7} "
        f"{'main MB':>8} {'writer MB':>9} {'tree MB':>8} {'exit':>4}"
    )
    for run in runs:
        print(
            f"{run.pages:>8,} {run.leg:20} {run.requests:>9,} {run.wall:>7.1f} {run.queued:>7,} "
            f"{run.main_mb:>8.1f} {run.writer_mb:>9.1f} {run.tree_mb:>8.1f} {run.exit:>4}"
        )


def print_ratios(runs: list[Run]) -> None:
    """Peak at the largest size / peak at the smallest, per leg and process (the site's legs
    and the sitemap-only leg each over their own sizes)."""

    def ratio(a: float, b: float) -> str:
        return f"{b / a:.2f}" if a else "-"

    for legs, unit in ((LEGS, "pages"), (("sitemap only",), "sitemap URLs")):
        measured = [run for run in runs if run.leg in legs]
        sizes = sorted({run.pages for run in measured})
        if len(sizes) < 2:
            continue
        small, large = sizes[0], sizes[-1]
        print(f"\npeak ratio, {large:,} / {small:,} {unit} ({large / small:.0f}x larger; flat = 1.0)")
        print(f"{'leg':20} {'main':>6} {'writer':>7} {'tree':>6}")
        for leg in legs:
            pair = [run for run in measured if run.leg == leg and run.pages in (small, large)]
            if len(pair) != 2:
                continue
            low, high = sorted(pair, key=lambda run: run.pages)
            print(
                f"{leg:20} {ratio(low.main_mb, high.main_mb):>6} {ratio(low.writer_mb, high.writer_mb):>7} "
                f"{ratio(low.tree_mb, high.tree_mb):>6}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, action="append", help="comparison pages [3000, 30000]")
    parser.add_argument("--stop-after", type=int, default=STOP_AFTER, help="requests of the stopped crawl")
    parser.add_argument(
        "--resume-cap",
        type=int,
        help="cap the resumed crawl at N requests (it still takes the whole frontier over); "
        "the re-crawl and reparse legs are then skipped: for 100,000 pages on a loaded machine",
    )
    parser.add_argument(
        "--sitemap-urls",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="also the stopped crawl on a site of only sitemaps listing N pages (repeatable)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: two tiny sites")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (archives, logs)")
    args = parser.parse_args(argv)
    sizes = args.pages or ([40, 120] if args.quick else [] if args.sitemap_urls else [3000, 30000])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (stop the server) on kill
    runs: list[Run] = []
    with scratch("verdicts-memory-bench-", args.keep) as workdir:
        for pages in sizes:
            size_dir = workdir / str(pages)
            size_dir.mkdir()
            runs += measure(pages, size_dir, args.stop_after, args.resume_cap)
        for urls in args.sitemap_urls:
            size_dir = workdir / f"sitemap-{urls}"
            size_dir.mkdir()
            runs.append(measure_sitemap(urls, size_dir, args.stop_after))
        print_table(runs)
        print_ratios(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
