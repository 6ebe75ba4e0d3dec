"""bench/memory.py keeps working: a tiny run at two sizes prints its table and ratios (figures
are printed, never asserted: memory and timing move with the machine's load)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.bench_run import run_bench


def test_memory_benchmark_smoke_run(tmp_path: Path) -> None:
    stdout = run_bench(
        "memory.py", "--quick", "--sitemap-urls", "1000", "--sitemap-urls", "60000", out=tmp_path, timeout=300
    )
    assert "load average" in stdout
    for size in ("40", "120"):
        for leg in ("stopped crawl", "resumed crawl", "unchanged re-crawl", "reparse --force"):
            row = re.search(rf"^ +{size} {leg} .* (\d+)$", stdout, re.MULTILINE)
            assert row is not None, (size, leg, stdout)
            assert row[1] == "0", row[0]  # every crawl and the reparse exited 0
    # the stopped crawl left the site queued; the resumed one fetched it all
    stopped = re.search(r"^ +120 stopped crawl +(\d+) +[\d.]+ +([\d,]+)", stdout, re.MULTILINE)
    resumed = re.search(r"^ +120 resumed crawl +([\d,]+) +[\d.]+ +([\d,]+)", stdout, re.MULTILINE)
    assert stopped is not None and resumed is not None
    assert int(stopped[2].replace(",", "")) > 100 and resumed[2] == "0"
    # the reparse read every snapshot the crawls stored (its count is in the requests column)
    reparsed = re.search(r"^ +120 reparse --force +([\d,]+) ", stdout, re.MULTILINE)
    assert reparsed is not None and int(reparsed[1].replace(",", "")) > 100
    assert "peak ratio, 120 / 40 pages" in stdout
    # the sitemap-only leg read every URL of an index of two sitemap files and queued them all
    # but the few pages fetched before the stop
    for urls in (1000, 60000):
        row = re.search(rf"^ +{urls:,} sitemap only +(\d+) +[\d.]+ +([\d,]+) .* (\d+)$", stdout, re.MULTILINE)
        assert row is not None, (urls, stdout)
        assert urls - 25 <= int(row[2].replace(",", "")) < urls and row[3] == "0", row[0]
    assert "peak ratio, 60,000 / 1,000 sitemap URLs" in stdout
    assert "exit code" not in stdout
