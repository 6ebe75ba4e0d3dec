"""The parse benchmark runs (figures are printed by the script, never asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_bench_parse_smoke() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "parse.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "pages/s" in run.stdout
    assert "ratio parse_page / BeautifulSoup" in run.stdout
    assert "ratio parse_page / parse_page without embedded data" in run.stdout
