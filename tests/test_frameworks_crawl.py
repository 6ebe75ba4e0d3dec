"""End to end: the framework corpus crawled over loopback HTTP builds the right archive.

Each template family of fixtures/frameworks/ is served by the bundled static server on its own
port and crawled into one real SQLite archive, as a site of its own. The archive must then hold
exactly what fixtures/expected/ says of every page: each comparison's title, its two listings
(tool, category, tagline, description, scores, price), and each verdict with its seat and
position; and the tools and verdicts tables hold nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.config import Settings, Site
from crawler.engine import crawl
from crawler.static_server import StaticServer
from db.archive import connect

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fixtures" / "frameworks"
EXPECTED = ROOT / "fixtures" / "expected"
FAMILIES = sorted(path.name for path in CORPUS.iterdir() if path.is_dir())
LISTING_KEYS = ("position", "name", "category", "tagline", "panel_ship_pct", "community_pct",
                "entry_price", "entry_price_usd", "entry_price_kind", "description")  # fmt: skip


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Every family crawled into one archive; returns it and each family's origin."""
    db_path = tmp_path_factory.mktemp("frameworks") / "archive.db"
    origins: dict[str, str] = {}
    for family in FAMILIES:
        with StaticServer(CORPUS / family) as server:
            site = Site(name=family, start_urls=(server.origin + "/",))
            report = crawl(Settings(db_path=db_path, sites=(site,), delay=0.0), site)
            assert (report.status, report.exit_code) == ("completed", 0), (family, report.reasons)
            origins[family] = server.origin
    return db_path, origins


def archived(db_path: Path, url: str) -> dict:
    """A comparison as the archive holds it, in the shape of fixtures/expected/*.json."""
    db = connect(db_path)
    try:
        row = db.execute("SELECT id, title, complete FROM comparisons WHERE url = ?", [url]).fetchone()
        assert row is not None, f"{url} is not in the archive"
        comparison_id, title, complete = row
        listings = [
            dict(zip(LISTING_KEYS, values, strict=True))
            for values in db.execute(
                """SELECT l.position, t.name, t.category, t.tagline, l.panel_ship_pct, l.community_pct,
                          l.entry_price, l.entry_price_usd, l.entry_price_kind, t.description
                   FROM listings l JOIN tools t ON t.id = l.tool_id
                   WHERE l.comparison_id = ? AND l.snapshot_id = (
                       SELECT snapshot_id FROM comparisons WHERE id = l.comparison_id)
                   ORDER BY l.position""",
                [comparison_id],
            )
        ]
        quotes = [
            {"position": position, "reviewer_seat": seat, "text": text}
            for position, seat, text in db.execute(
                """SELECT a.position, a.reviewer_seat, v.text
                   FROM verdict_appearances a JOIN verdicts v ON v.id = a.verdict_id
                   WHERE a.comparison_id = ? ORDER BY a.reviewer_seat, a.position""",
                [comparison_id],
            )
        ]
        return {"title": title, "complete": complete, "listings": listings, "quotes": quotes}
    finally:
        db.close()


@pytest.mark.parametrize("family", FAMILIES)
def test_every_comparison_of_the_family_is_archived_right(archive, family: str) -> None:
    db_path, origins = archive
    pages = sorted((CORPUS / family / "compare").glob("*/index.html"))
    assert len(pages) >= 4
    for page in pages:
        expected = json.loads((EXPECTED / f"{page.parent.name}.json").read_text(encoding="utf-8"))
        got = archived(db_path, f"{origins[family]}/compare/{page.parent.name}/")
        want = {k: expected[k] for k in ("title", "listings", "quotes")}
        assert got == {**want, "complete": 1}, f"{family}: {page.parent.name}"


def test_the_archive_holds_exactly_the_expected_tools_verdicts_and_appearances(archive) -> None:
    db_path, _ = archive
    answers = [
        json.loads((EXPECTED / f"{page.parent.name}.json").read_text(encoding="utf-8"))
        for page in CORPUS.glob("*/compare/*/index.html")
    ]
    tools = {listing["name"] for answer in answers for listing in answer["listings"]}
    verdicts = {
        (answer["listings"][quote["position"] - 1]["name"], quote["text"])
        for answer in answers
        for quote in answer["quotes"]
    }
    appearances = sum(len(answer["quotes"]) for answer in answers)
    db = connect(db_path)
    try:
        assert {row[0] for row in db.execute("SELECT name FROM tools")} == tools
        got_verdicts = set(
            db.execute("SELECT t.name, v.text FROM verdicts v JOIN tools t ON t.id = v.tool_id")
        )
        assert got_verdicts == verdicts
        assert db.execute("SELECT count(*) FROM verdict_appearances").fetchone()[0] == appearances
        statuses = dict(db.execute("SELECT parse_status, count(*) FROM snapshots GROUP BY parse_status"))
        assert statuses.get("ok") == len(answers), statuses
        assert db.execute("SELECT count(*) FROM comparisons").fetchone()[0] == len(answers)
    finally:
        db.close()
