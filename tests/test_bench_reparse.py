"""bench/reparse.py keeps working: a tiny run through the real crawler (figures printed,
never asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.bench_run import run_bench


def test_reparse_benchmark_smoke_run(tmp_path: Path) -> None:
    stdout = run_bench("reparse.py", "--quick", out=tmp_path, timeout=300)
    for line in (
        "BeautifulSoup text walk, 1 core",
        "verdicts reparse, after the crawl",
        "verdicts reparse, after a parser change",
        "verdicts reparse --force",
        "ratio verdicts reparse, after the crawl / walk:",
        "ratio verdicts reparse --force / walk:",
        "load",
    ):
        assert line in stdout, stdout
