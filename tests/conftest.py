"""Shared pytest fixtures: real servers on 127.0.0.1 and fresh archives in tmp dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@pytest.fixture
def archive_path(tmp_path: Path) -> Path:
    """Where a test's archive lives (created on first open)."""
    return tmp_path / "archive.db"
