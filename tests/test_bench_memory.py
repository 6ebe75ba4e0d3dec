"""bench/memory.py keeps working: a tiny run at two sizes prints its table and ratios (figures
are printed, never asserted: memory and timing move with the machine's load)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_memory_benchmark_smoke_run(tmp_path: Path) -> None:
    env = {**os.environ, "VERDICTS_BENCH_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "memory.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "load average" in done.stdout
    for size in ("40", "120"):
        for leg in ("stopped crawl", "resumed crawl", "unchanged re-crawl"):
            row = re.search(rf"^ +{size} {leg} .* (\d+)$", done.stdout, re.MULTILINE)
            assert row is not None, (size, leg, done.stdout)
            assert row[1] == "0", row[0]  # every crawl exited 0
    # the stopped crawl left the site queued; the resumed one fetched it all
    stopped = re.search(r"^ +120 stopped crawl +(\d+) +[\d.]+ +([\d,]+)", done.stdout, re.MULTILINE)
    resumed = re.search(r"^ +120 resumed crawl +([\d,]+) +[\d.]+ +([\d,]+)", done.stdout, re.MULTILINE)
    assert stopped is not None and resumed is not None
    assert int(stopped[2].replace(",", "")) > 100 and resumed[2] == "0"
    assert "peak ratio, 120 / 40 pages" in done.stdout
    assert "exit code" not in done.stdout
