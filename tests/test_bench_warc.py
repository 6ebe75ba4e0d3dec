"""bench/warc.py keeps working: a tiny run (figures printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_warc_benchmark_smoke_run() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "warc.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for figure in ("export", "warcio read", "import", "rec/s", "the floor's records/s", "HTML responses"):
        assert figure in done.stdout
