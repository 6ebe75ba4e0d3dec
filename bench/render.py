"""What the browser fetch costs: rendered pages per second and the browser's memory, beside plain fetches.

One run, one site: crawler/demo_rendered/'s client-rendered comparison pages (an empty shell,
`/assets/app.js` building the page from inline JSON or from `/data/<slug>.json` it fetches)
copied N times under new paths, served on 127.0.0.1 by crawler/static_server.py. The same
pages are crawled twice into fresh archives, in-process through `crawler.engine.crawl`
with --delay 0 and 16 requests in flight:

- plain: the shells fetched and parsed as served (every comparison `unreadable`);
- browser: `render = "browser"`, every page loaded in the one headless Chromium
  (crawler/render.py, 4 pages open at once), its subrequests through the Fetcher.

Printed: wall time and pages/s of each, their ratio, the comparisons each archived, the
subrequests the browser made, and peak memory sampled every 50 ms as PSS (shared pages
divided among the processes sharing them): the Chromium process tree (the largest sum at
one time), Playwright's driver, the writer and this process. The load average is printed
beside them: on a shared machine only the ratio means much. Figures are printed, never
asserted.

Usage: python bench/render.py [--pages 200] [--quick]
`--quick` (the test suite's smoke run): 8 pages.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.proctree import children  # noqa: E402
from bench.proctree import load_average as load  # noqa: E402
from crawler.config import Settings, Site  # noqa: E402
from crawler.engine import CrawlReport, crawl  # noqa: E402
from crawler.progress import Progress  # noqa: E402
from crawler.static_server import StaticServer  # noqa: E402

EXAMPLE = ROOT / "crawler" / "demo_rendered"


def build_site(out: Path, pages: int) -> int:
    """crawler/demo_rendered/ with its comparison pages copied until there are `pages` of them."""
    shutil.copytree(EXAMPLE, out)
    shells = sorted((EXAMPLE / "compare").glob("*/index.html"))
    links = []
    for number in range(pages):
        source = shells[number % len(shells)]
        slug = source.parent.name
        copy = f"{slug}-{number}"
        text = source.read_text(encoding="utf-8").replace(f"/data/{slug}.json", f"/data/{copy}.json")
        target = out / "compare" / copy / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        data = EXAMPLE / "data" / f"{slug}.json"
        if data.exists():
            shutil.copy(data, out / "data" / f"{copy}.json")
        links.append(f'<li><a href="/compare/{copy}/">{copy}</a></li>')
    for shell in shells:  # only the copies are crawled
        shutil.rmtree(out / "compare" / shell.parent.name)
    (out / "index.html").write_text(
        "<!DOCTYPE html><html><head><title>copies</title></head><body><ul>"
        + "\n".join(links)
        + "</ul></body></html>\n",
        encoding="utf-8",
    )
    return pages


# ---- memory of process trees, from /proc ----------------------------------------------------------


def _memory_kb(pid: int) -> int:
    """The process's proportional set size (shared pages divided among their sharers), so a
    tree's sum is not inflated by the libraries Chromium's processes share; RSS without it."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _is_driver(pid: int) -> bool:
    """Playwright's driver (a node process), whose descendants are the browser's."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as handle:
        command = handle.read()
        return b"playwright" in command or command.split(b"\0")[0].endswith(b"node")
    return False


class Sampler:
    """Every 50 ms, the memory (PSS) of this process's tree summed by role: this process, the
    writer, Playwright's driver and Chromium (every process under the driver); keeps each
    role's peak sum."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self.processes: dict[str, int] = {}  # role -> most processes seen at once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            tree, i = [(me, "this process")], 0
            while i < len(tree):
                pid, role = tree[i]
                for child in children(pid):
                    if role in ("driver", "chromium"):
                        tree.append((child, "chromium"))
                    else:
                        tree.append((child, "driver" if _is_driver(child) else "writer"))
                i += 1
            sums: dict[str, int] = {}
            counts: dict[str, int] = {}
            for pid, role in tree:
                sums[role] = sums.get(role, 0) + _memory_kb(pid)
                counts[role] = counts.get(role, 0) + 1
            for role, kb in sums.items():
                self.peaks[role] = max(self.peaks.get(role, 0), kb)
                self.processes[role] = max(self.processes.get(role, 0), counts[role])
            self._stop.wait(self.interval)

    def stop(self) -> dict[str, float]:
        """role -> peak MB."""
        self._stop.set()
        self._thread.join()
        return {role: kb / 1024 for role, kb in self.peaks.items()}


def run_leg(origin: str, db_path: Path, render: str) -> tuple[CrawlReport, dict[str, float], dict[str, int]]:
    site = Site(name=render, start_urls=(origin + "/",), render=render)
    settings = Settings(db_path=db_path, sites=(site,), delay=0.0, concurrency=16, per_host=16)
    sampler = Sampler()
    try:
        with open(os.devnull, "w") as quiet:
            report = crawl(settings, site, progress=Progress(render, stream=quiet, live=False))
    finally:
        peaks = sampler.stop()
    return report, peaks, sampler.processes


def comparisons(db_path: Path) -> int:
    import sqlite3

    db = sqlite3.connect(db_path)
    try:
        return int(db.execute("SELECT count(*) FROM comparisons WHERE complete = 1").fetchone()[0])
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200, help="client-rendered comparison pages")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 8 pages")
    args = parser.parse_args(argv)
    pages = 8 if args.quick else args.pages
    with tempfile.TemporaryDirectory(prefix="verdicts-render-bench-") as work:
        root = Path(work)
        build_site(root / "site", pages)
        print(f"{pages} client-rendered comparison pages (+ the index), load average {load()}")
        rows = []
        with StaticServer(root / "site") as server:
            for render in ("plain", "browser"):
                db_path = root / f"{render}.db"
                report, peaks, processes = run_leg(server.origin, db_path, render)
                fetched = report.counts.get("pages_fetched", 0)
                rate = fetched / report.seconds if report.seconds else 0.0
                rows.append((render, report, peaks, processes, rate, comparisons(db_path)))
        print(f"{'leg':8} {'pages':>6} {'wall s':>7} {'pages/s':>8} {'complete':>9}  peak MB")
        for render, report, peaks, processes, rate, complete in rows:
            memory = ", ".join(
                f"{role} {mb:.0f}" + (f" ({processes[role]} processes)" if processes[role] > 1 else "")
                for role, mb in sorted(peaks.items())
            )
            fetched = report.counts.get("pages_fetched", 0)
            print(f"{render:8} {fetched:>6} {report.seconds:>7.1f} {rate:>8.1f} {complete:>9}  {memory}")
        plain, browser = rows
        if browser[4]:
            print(f"rendered pages/s are 1/{plain[4] / browser[4]:.1f} of plain fetches of the same pages")
        stats = browser[1].rendered
        if stats is not None:
            blocked = sum(stats.blocked.values())
            print(
                f"browser: {stats.pages} pages rendered, {stats.failed} failed, {stats.timed_out} cut at the "
                f"idle timeout; {stats.subrequests} subrequests fetched, {blocked} blocked"
            )
        print(f"chromium peak: {browser[2].get('chromium', 0.0):.0f} MB; load average after: {load()}")
        return 0 if browser[1].status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
