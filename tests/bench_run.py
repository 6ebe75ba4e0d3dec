"""Run one bench/ script as its smoke test does: a subprocess with its output in a temp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def run_bench(script: str, *args: str, out: Path, timeout: float) -> str:
    """Run `bench/<script>` with `args`, writing under `out`; assert it exited 0; return stdout."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "VERDICTS_BENCH_DIR": str(out)},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
