"""bench/render.py keeps working: a tiny run through real Chromium (figures printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.chromium import require_chromium
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

require_chromium()


def test_render_benchmark_smoke_run() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "render.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()}
    assert lines["plain"][1] == lines["browser"][1] == "9"  # 8 comparisons and the index, both legs
    assert lines["plain"][4] == "0" and lines["browser"][4] == "8"  # complete comparisons
    for figure in ("pages/s are 1/", "chromium peak:", "load average", "subrequests fetched"):
        assert figure in done.stdout
