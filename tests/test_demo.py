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
from tests.loopback import free_port

SEEDS = FIXTURES / "data" / "seeds"
SITE = json.loads((FIXTURES / "expected" / "site.json").read_text())
SITE_2 = json.loads((FIXTURES / "expected-2" / "site.json").read_text())
EDITION_2 = json.loads((FIXTURES / "data" / "edition-2.json").read_text())


def both_editions() -> tuple[set[str], set[tuple[str, str]], set[tuple[str, str, str]], set[str]]:
    """(comparison paths, (tool, quote) verdicts, (tool, quote, path) appearances, tools) that
    crawling edition 1 then edition 2 archives, read from the golden JSON of both."""
    paths: set[str] = set()
    verdicts: set[tuple[str, str]] = set()
    appearances: set[tuple[str, str, str]] = set()
    tools: set[str] = set()
    for folder, site in (("expected", SITE), ("expected-2", SITE_2)):
        for path in site["crawlable_comparisons"]:
            golden = json.loads((FIXTURES / folder / f"{path.strip('/').split('/')[-1]}.json").read_text())
            paths.add(path)
            names = {item["position"]: item["name"] for item in golden["listings"]}
            tools.update(names.values())
            for quote in golden["quotes"]:
                verdicts.add((names[quote["position"]], quote["text"]))
                appearances.add((names[quote["position"]], quote["text"], path))
    return paths, verdicts, appearances, tools


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
    # Not 8765 (something else may hold it): one free port, the same for both runs, so page
    # URLs (and ids) are the same and the second run can prove it adds nothing.
    args = ["demo", "--db", str(db_path), "--no-serve", "--site-port", str(free_port())]
    first = runner.invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    before = counts(db_path)
    second = runner.invoke(cli, args, catch_exceptions=False)
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
    paths, verdicts, appearances, tools = both_editions()
    assert got["comparisons"] == len(paths)
    assert got["verdicts"] == len(verdicts)
    assert got["verdict_appearances"] == len(appearances)
    assert got["tools"] == len(tools)
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
    assert response.json() == [{"n": len(both_editions()[1])}]


def test_the_demo_crawls_two_editions_and_says_what_changed(demo_archive) -> None:
    from db.archive import connect

    db_path, first, second = demo_archive
    db = connect(db_path)
    try:
        kinds = dict(db.execute("select kind, count(*) from changes group by kind").fetchall())
        moved = db.execute(
            "select c.url, t.name from changes ch join comparisons c on c.id = ch.comparison_id "
            "join tools t on t.id = ch.tool_id where ch.kind = 'price_changed'"
        ).fetchall()
        gone = db.execute(
            "select c.url from changes ch join comparisons c on c.id = ch.comparison_id "
            "where kind = 'page_gone'"
        ).fetchall()
        crawls = db.execute("select count(*) from crawls").fetchone()[0]
    finally:
        db.close()
    priced = {(slug, tool) for slug, page in EDITION_2["pages"].items() for tool in page.get("prices", {})}
    assert {(url.rstrip("/").rsplit("/", 1)[1], tool) for url, tool in moved} == priced
    assert [url.rstrip("/").rsplit("/", 1)[1] for (url,) in gone] == EDITION_2["removed"]
    assert kinds["page_new"] == len(EDITION_2["added"])
    rewritten = {rewrite["tool"] for rewrite in EDITION_2["quotes"]}
    old_pages_with = [
        p for p in SITE["crawlable_comparisons"] if any(t.lower().replace(" ", "-") in p for t in rewritten)
    ]
    assert kinds["verdict_edited"] == len(old_pages_with)
    assert kinds["verdict_removed"] == kinds["verdict_added"] == 1  # the dropped quote
    assert kinds["score_changed"] == 1
    assert crawls == 3  # edition 1, edition 2, and the second run's re-crawl of edition 2
    # The summary says what changed, and the second run changed nothing back.
    assert f"{len(priced)} price changed" in first and f"{len(old_pages_with)} verdict edited" in first
    assert re.search(r"changes: nothing changed", second)


async def test_the_demo_diff_page_shows_the_rewritten_quote(demo_archive) -> None:
    from db.archive import connect
    from db.publish import make_datasette

    db_path, _, _ = demo_archive
    db = connect(db_path)
    try:
        cid = db.execute(
            "select comparison_id from changes where kind = 'verdict_edited' order by observed_at limit 1"
        ).fetchone()[0]
    finally:
        db.close()
    ds = make_datasette(db_path)
    history = (await ds.client.get(f"/-/history/{cid}")).text
    latest = re.search(r'href="(/-/history/[0-9a-f]+/\d+\.\.\d+)"', history)
    assert latest is not None
    page = (await ds.client.get(latest.group(1))).text
    rewrite = EDITION_2["quotes"][0]
    removed = set(rewrite["from"].split()) - set(rewrite["to"].split())
    assert any(
        f"<del>{word}</del>" in page or word in "".join(re.findall(r"<del>(.*?)</del>", page))
        for word in removed
    )
    assert "verdict edited" in page
