"""`verdicts demo` end to end: real loopback server, real crawl, real SQLite, real Datasette.

The seed figures (5 comparisons, 28 distinct verdicts, 40 appearances) are computed
here from the seed texts themselves, not copied from the code under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from tests.conftest import FIXTURES

SEEDS = FIXTURES / "data" / "seeds"
SITE = json.loads((FIXTURES / "expected" / "site.json").read_text())


def seed_figures() -> tuple[set[str], int, int]:
    """(titles, distinct (tool, quote) pairs, appearances) read from the seed texts."""
    titles: set[str] = set()
    verdicts: set[tuple[str, str]] = set()
    appearances = 0
    for path in sorted(SEEDS.glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        titles.add(lines[1])
        tools = lines[1].split(" vs ")
        start = lines.index("Reviewer scorecard") + 1
        quotes = [line for line in lines[start:] if line.startswith("\u201c")]
        for index, quote in enumerate(quotes):
            verdicts.add((tools[index % 2], quote))
            appearances += 1
    return titles, len(verdicts), appearances


def counts(db_path: Path) -> dict[str, int]:
    from db.archive import connect

    db = connect(db_path)
    try:
        return {
            table: db.execute(f"select count(*) from [{table}]").fetchone()[0]
            for table in (
                "pages",
                "snapshots",
                "comparisons",
                "tools",
                "listings",
                "verdicts",
                "verdict_appearances",
                "bodies",
            )
        }
    finally:
        db.close()


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """Run the demo twice into one archive; keep both outputs."""
    db_path = tmp_path_factory.mktemp("demo") / "archive.db"
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "--db", str(db_path), "--no-serve"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    before = counts(db_path)
    second = runner.invoke(cli, ["demo", "--db", str(db_path), "--no-serve"], catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert counts(db_path) == before, "a second demo run must not add rows"
    return db_path, first.output, second.output


def test_demo_archives_the_five_seed_pages_with_the_figures_their_texts_imply(demo_archive) -> None:
    from db.archive import connect

    db_path, _, _ = demo_archive
    titles, distinct, appearances = seed_figures()
    assert (len(titles), distinct, appearances) == (5, 28, 40)
    db = connect(db_path)
    marks = ",".join("?" * len(titles))
    found = db.execute(f"select count(*) from comparisons where title in ({marks})", list(titles)).fetchone()[
        0
    ]
    row = db.execute(
        f"""select count(distinct a.verdict_id), count(*)
            from verdict_appearances a join comparisons c on c.id = a.comparison_id
            where c.title in ({marks})""",
        list(titles),
    ).fetchone()
    assert found == 5
    assert tuple(row) == (distinct, appearances)


def test_demo_archives_the_whole_bundled_site(demo_archive) -> None:
    db_path, first, second = demo_archive
    got = counts(db_path)
    assert got["comparisons"] == len(SITE["crawlable_comparisons"])
    assert got["verdicts"] == SITE["counts"]["verdicts"]
    assert got["verdict_appearances"] == SITE["counts"]["appearances"]
    assert got["tools"] == SITE["counts"]["tools"]
    # The summary printed to the user says the same as the archive.
    assert re.search(rf"comparisons\s+{got['comparisons']}\b", first)
    assert re.search(rf"verdicts\s+{got['verdicts']}\b", first)
    # The second run was conditional: nothing new.
    assert re.search(r"verdicts new 0\b", second)


def test_the_private_page_was_never_archived(demo_archive) -> None:
    from db.archive import connect

    db_path, _, _ = demo_archive
    db = connect(db_path)
    assert db.execute("select count(*) from comparisons where url like '%/private/%'").fetchone()[0] == 0
    assert db.execute("select count(*) from snapshots where url like '%/private/%'").fetchone()[0] == 0


async def test_datasette_serves_the_demo_archive(demo_archive) -> None:
    from db.publish import make_datasette

    db_path, _, _ = demo_archive
    ds = make_datasette(db_path)
    response = await ds.client.get("/archive.json?sql=select+count(*)+as+n+from+verdicts&_shape=array")
    assert response.status_code == 200
    assert response.json() == [{"n": SITE["counts"]["verdicts"]}]
