"""The scratch folder of one benchmark run: removed at the end unless `--keep` asks for it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch(prefix: str, keep: bool) -> Iterator[Path]:
    """A fresh folder for archives, logs and sites; kept (and named) with `keep`, so a
    surprising figure can be looked into, else removed however the run ends."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        if keep:
            print(f"work folder kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
