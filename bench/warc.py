"""How fast are `verdicts warc export` and `verdicts warc import`, next to warcio's own read?

For each site size: the synthetic comparison site (bench/synthetic_site.py) is served on
loopback (crawler/static_server.py), crawled twice with `verdicts crawl` (the second
crawl's 304s become revisit records), then, each as a subprocess of its own:

- `verdicts warc export` of the archive (CDXJ index included): records/s, peak RSS;
- the floor: warcio's ArchiveIterator reading the same file, every record's content
  stream read to its end (no parsing, nothing stored): records/s, peak RSS;
- `verdicts warc import` of that file into an empty archive: records/s, peak RSS.

Figures are printed, never asserted; ratios against the floor measured in the same
minute move less with the machine's load than the rates. Memory is flat when the
export's and import's peaks at the largest size stay within 20 % of the smallest's.

Usage:
    python bench/warc.py                      # 300 and 3,000 comparison pages
    python bench/warc.py --pages 3000 --pages 30000
    python bench/warc.py --pages 40 --quick   # the test suite's smoke run (one size)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synthetic_site as bench_site  # noqa: E402
from workdir import scratch  # noqa: E402

from crawler.static_server import StaticServer  # noqa: E402

PY = sys.executable

#: Every measured process reports its own peak RSS (VmHWM) as it exits: the rusage of a
#: child counts the pages it shared with this process at fork, before its exec.
HWM = """
import atexit, sys
def _hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("VmHWM", line.split()[1], file=sys.stderr, flush=True)
atexit.register(_hwm)
"""
FLOOR = (
    HWM
    + """
import time
from warcio.archiveiterator import ArchiveIterator
started, records = time.perf_counter(), 0
with open(sys.argv[1], "rb") as fh:
    for record in ArchiveIterator(fh):
        record.content_stream().read()
        records += 1
print(records, time.perf_counter() - started)
"""
)
CLI = HWM + "from crawler.cli import cli\nsys.argv[0] = 'verdicts'\ncli()\n"


@dataclass
class Run:
    """One subprocess: wall seconds, peak RSS (MB), its output."""

    seconds: float
    peak_mb: float
    output: str


def run(command: list[str], log: Path) -> Run:
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        code = proc.wait()
    seconds = time.perf_counter() - started
    text = log.read_text(encoding="utf-8", errors="replace")
    if code != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed ({code}):\n{text[-2000:]}")
    peaks = [int(line.split()[1]) for line in text.splitlines() if line.startswith("VmHWM ")]
    return Run(seconds, max(peaks, default=0) / 1024, text)


def verdicts(*args: str) -> list[str]:
    return [PY, "-c", CLI, *args]


def measure(pages: int, work: Path, quick: bool) -> dict[str, float]:
    site = bench_site.ensure(pages)
    folder = work / f"site-{pages}"
    folder.mkdir()
    db = folder / "archive.db"
    with StaticServer(site.root) as server:
        site.set_origin(server.origin)
        crawl = verdicts("crawl", f"{server.origin}/", "--db", str(db), "--delay", "0")
        crawl += ["--concurrency", "16", "--per-host", "16"]
        run(crawl, folder / "crawl1.log")
        run(crawl, folder / "crawl2.log")
    warc = folder / "archive.warc.gz"
    export = run(verdicts("warc", "export", "--db", str(db), "--output", str(warc)), folder / "export.log")
    floor = run([PY, "-c", FLOOR, str(warc)], folder / "floor.log")
    records, floor_seconds = next(line for line in floor.output.splitlines() if line[:1].isdigit()).split()
    imported = run(
        verdicts("warc", "import", str(warc), "--db", str(folder / "imported.db")), folder / "import.log"
    )
    count = int(records)
    facts = {
        "records": count,
        "bytes": warc.stat().st_size,
        "export/s": count / export.seconds,
        "floor/s": count / float(floor_seconds),
        "import/s": count / imported.seconds,
        "export MB": export.peak_mb,
        "floor MB": floor.peak_mb,
        "import MB": imported.peak_mb,
    }
    print(
        f"{pages:>7,} pages  {count:>7,} records  {facts['bytes'] / 1e6:7.1f} MB WARC  "
        f"export {facts['export/s']:8,.0f} rec/s {export.peak_mb:5.0f} MB  "
        f"warcio read {facts['floor/s']:8,.0f} rec/s {floor.peak_mb:5.0f} MB  "
        f"import {facts['import/s']:7,.0f} rec/s {imported.peak_mb:5.0f} MB",
        flush=True,
    )
    if quick:
        print(next(line for line in imported.output.splitlines() if line.startswith("records read")))
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pages", type=int, action="append", help="comparison pages (repeatable) [300, 3000]"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: one small size")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    sizes = sorted(args.pages or ([40] if args.quick else [300, 3000]))
    with scratch("verdicts-warc-bench-", args.keep) as work:
        load = os.getloadavg()[0]
        print(f"load average {load:.1f} on {os.cpu_count()} CPU(s); Python {sys.version.split()[0]}")
        results = [measure(pages, work, args.quick) for pages in sizes]
        last = results[-1]
        print(f"export / warcio read: {last['export/s'] / last['floor/s']:.2f}x the floor's records/s")
        print(f"import / warcio read: {last['import/s'] / last['floor/s']:.2f}x the floor's records/s")
        if len(results) > 1:
            first = results[0]
            for key in ("export MB", "import MB"):
                spread = last[key] / first[key] - 1
                verdict = "flat" if spread <= 0.2 else "NOT flat"
                print(
                    f"{key[:6]} peak memory {first[key]:.0f} MB at {sizes[0]:,} pages, {last[key]:.0f} MB "
                    f"at {sizes[-1]:,} ({spread:+.0%}): {verdict} (target <= +20 %)"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
