"""bench/reparse.py keeps working: a tiny run through the real crawler (figures printed,
never asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_reparse_benchmark_smoke_run(tmp_path: Path) -> None:
    env = {**os.environ, "VERDICTS_BENCH_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "reparse.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for line in (
        "BeautifulSoup text walk, 1 core",
        "verdicts reparse, after the crawl",
        "verdicts reparse, after a parser change",
        "verdicts reparse --force",
        "ratio verdicts reparse, after the crawl / walk:",
        "ratio verdicts reparse --force / walk:",
        "load",
    ):
        assert line in done.stdout, done.stdout
