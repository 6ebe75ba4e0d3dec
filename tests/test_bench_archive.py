"""bench/archive.py keeps working: a tiny run (figures printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_archive_benchmark_smoke_run() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "archive.py"), "--pages", "200", "--nd-verdicts", "500"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for figure in ("appearances/s", "raw inserts alone", "near-duplicate pass", "per page"):
        assert figure in done.stdout
