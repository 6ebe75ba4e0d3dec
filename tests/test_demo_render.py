"""`verdicts demo --render browser` end to end: the plain demo, then the bundled client-rendered
example (crawler/demo_rendered/) served on loopback and crawled through real Chromium into a
real SQLite archive; every rendered comparison must read as fixtures/expected/ says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.demo import DEMO_RENDERED
from db.archive import connect
from tests.chromium import require_chromium
from tests.conftest import FIXTURES
from tests.test_frameworks_crawl import archived

pytestmark = pytest.mark.browser
require_chromium()

SLUGS = sorted(p.parent.name for p in (DEMO_RENDERED / "compare").glob("*/index.html"))


def test_demo_render_browser_reads_every_rendered_comparison(tmp_path: Path) -> None:
    db_path = tmp_path / "archive.db"
    args = ["demo", "--no-serve", "--site-port", "0", "--db", str(db_path), "--render", "browser"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    found = re.search(r"Serving the client-rendered example at (http://127\.0\.0\.1:\d+)/", result.output)
    assert found, result.output
    origin = found.group(1)
    assert "rendered in the browser: 5 pages (0 failed" in result.output  # its crawl's summary
    assert SLUGS
    for slug in SLUGS:
        expected = json.loads((FIXTURES / "expected" / f"{slug}.json").read_text(encoding="utf-8"))
        got = archived(db_path, f"{origin}/compare/{slug}/")
        assert got == {**{k: expected[k] for k in ("title", "listings", "quotes")}, "complete": 1}, slug
    db = connect(db_path)
    try:  # the plain demo's pages are there too, on their own port
        hosts = {row[0].rsplit("/compare/", 1)[0] for row in db.execute("SELECT url FROM comparisons")}
    finally:
        db.close()
    assert origin in hosts and len(hosts) == 2, hosts
