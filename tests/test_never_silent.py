"""End to end (real loopback HTTP server, real writer process, real SQLite file): a candidate
comparison no layout reads is never lost silently (issue 13 §2, issue 14 "swallowed errors").

The site is written here in markup the project has never seen: a client-rendered shell at an
`a-vs-b` URL, a page whose only comparison signal is its title, a page that stops being a
comparison between two crawls. Only an `exclude` pattern silences a known non-comparison.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.demo import DEMO_SITE
from crawler.static_server import StaticServer
from db.archive import connect
from tests.test_candidates import SHELL

COMPARISON = DEMO_SITE / "compare" / "cellwise-vs-querypilot" / "index.html"

TITLE_ONLY = """<!doctype html><html><head><title>Dashwise versus Tracelens | Stackreview</title></head>
<body><header><nav><a href="/">Home</a></nav></header><main><article>
<p>This review is being rewritten. Our panel is re-testing both dashboards against the new
pricing announced this month, and the reviewer scorecard will be back shortly with a fresh vote
from the community. In the meantime, read our other comparisons from the home page.</p>
</article></main></body></html>"""

INDEX = """<!doctype html><html><head><title>Stackreview</title></head><body><h1>Stackreview</h1>
<ul><li><a href="/compare/cellwise-vs-querypilot/">Cellwise vs QueryPilot</a></li>
<li><a href="/compare/quillstream-vs-ghostline/">Quillstream vs Ghostline</a></li>
<li><a href="/reviews/dashboards-42/">Two dashboards</a></li>
<li><a href="/about/">About</a></li></ul></body></html>"""

SILENCED = ("--exclude", "quillstream-vs-ghostline", "--exclude", "/reviews/")
ABOUT = "<!doctype html><html><head><title>About</title></head><body><h1>About us</h1><p>We test.</p></body>"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    pages = {
        "index.html": INDEX,
        "about/index.html": ABOUT,
        "compare/quillstream-vs-ghostline/index.html": SHELL,
        "reviews/dashboards-42/index.html": TITLE_ONLY,
    }
    for path, text in pages.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    (root / "compare" / "cellwise-vs-querypilot").mkdir(parents=True)
    shutil.copy(COMPARISON, root / "compare" / "cellwise-vs-querypilot" / "index.html")
    return root


@pytest.fixture
def server(site: Path) -> Iterator[StaticServer]:
    with StaticServer(site) as running:
        yield running


def run(origin: str, db: Path, *flags: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["crawl", f"{origin}/", "--db", str(db), "--delay", "0", *flags])
    return result.exit_code, result.output


def rows(db_path: Path, sql: str) -> list[tuple]:
    db = connect(db_path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_unreadable_candidates_degrade_the_first_crawl(server: StaticServer, archive_path: Path) -> None:
    origin = server.origin
    shell, title_only = f"{origin}/compare/quillstream-vs-ghostline/", f"{origin}/reviews/dashboards-42/"
    code, output = run(origin, archive_path)
    assert code == 2, output
    assert "degraded" in output
    assert "unreadable candidate comparisons (2; parse_status 'unreadable' in the archive):" in output
    assert f"    {shell}\n" in output and f"    {title_only}\n" in output
    statuses = dict(rows(archive_path, "SELECT url, parse_status FROM snapshots"))
    assert statuses[shell] == statuses[title_only] == "unreadable"
    assert statuses[f"{origin}/compare/cellwise-vs-querypilot/"] == "ok"
    assert statuses[f"{origin}/about/"] == statuses[f"{origin}/"] == "not_comparison"
    sql = f"SELECT parse_problems FROM snapshots WHERE url = '{shell}'"
    problems = json.loads(rows(archive_path, sql)[0][0])
    assert any(p.startswith("page: looks client-rendered") for p in problems)
    crawl = rows(archive_path, "SELECT status, pages_unreadable, parse_errors, unreadable_urls FROM crawls")
    assert crawl == [("degraded", 2, 0, json.dumps(sorted([shell, title_only])))]
    health = rows(
        archive_path,
        "SELECT url, crawl_pages_unreadable FROM parse_health WHERE parse_status = 'unreadable' ORDER BY url",
    )
    assert health == [(shell, 2), (title_only, 2)]


def test_only_exclude_silences_and_drift_is_named(
    server: StaticServer, site: Path, archive_path: Path
) -> None:
    origin = server.origin
    assert run(origin, archive_path)[0] == 2
    # An unchanged re-crawl is still degraded: nothing but `exclude` silences a candidate.
    code, output = run(origin, archive_path)
    assert code == 2 and "unreadable candidate comparisons (2;" in output
    code, output = run(origin, archive_path, *SILENCED)
    assert code == 0, output
    assert "unreadable" not in output
    # The comparison page is rewritten so that no layout reads it: layout drift, by name.
    page = site / "compare" / "cellwise-vs-querypilot" / "index.html"
    page.write_text("<!doctype html><title>Moved</title><h1>This page moved</h1><p>See the home page.</p>")
    code, output = run(origin, archive_path, *SILENCED)
    assert code == 2, output
    drifted = f"{origin}/compare/cellwise-vs-querypilot/"
    assert f"layout drift: 1 page(s) were comparisons and now are not: {drifted}" in output
    sql = f"SELECT parse_status, parse_problems FROM snapshots WHERE url = '{drifted}'"
    problems = rows(archive_path, sql)
    assert problems[-1][0] == "unreadable"
    assert "an earlier snapshot of this URL was a comparison" in problems[-1][1]


def test_the_writer_stores_and_counts_parse_errors(
    archive_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parser that raises, in the registry (a layout's `recognises`) or around it, leaves an
    `error` snapshot naming the exception, counted on the crawls row and in the summary."""
    import pickle
    from multiprocessing import Pipe

    from crawler import writer as writer_module
    from crawler.engine import CrawlReport
    from crawler.progress import format_summary
    from db import crawl_log
    from db.archive import open_archive
    from parsers import parse_page
    from parsers.layouts import comparison
    from tests.archive_factory import at, fetched

    db = open_archive(archive_path)
    crawl_id = crawl_log.begin(db, "site", ["https://example.test/"]).crawl_id
    db.close()
    real_recognises = comparison.recognises

    def recognises(blocks: list[str]) -> bool:
        if "boom" in blocks:
            raise KeyError("boom")
        return real_recognises(blocks)

    def parse(html: str | bytes, url: str | None = None, was_comparison: bool = False) -> object:
        if "kaput" in str(html):
            raise RuntimeError("kaput")
        return parse_page(html, url, was_comparison)

    monkeypatch.setattr(comparison, "recognises", recognises)
    pages = {"a": "<p>boom</p>", "b": "<p>kaput</p>", "c": "<p>fine</p>"}
    items = [("result", fetched(f"https://example.test/{k}", v, at(1)), [], True) for k, v in pages.items()]
    parent, child = Pipe()
    parent.send_bytes(pickle.dumps([*items, ("finish",)]))
    writer = writer_module._Writer(str(archive_path), crawl_id)
    writer.parse_page = parse
    report = writer.run(child)
    stored = dict(
        (url, (status, json.loads(problems)))
        for url, status, problems in rows(
            archive_path, "SELECT url, parse_status, parse_problems FROM snapshots"
        )
    )
    assert stored == {
        "https://example.test/a": (
            "error",
            ["page: parser error in comparison.recognises (KeyError: 'boom')"],
        ),
        "https://example.test/b": ("error", ["page: parser error in the writer (RuntimeError: kaput)"]),
        "https://example.test/c": ("not_comparison", []),
    }
    assert rows(archive_path, "SELECT parse_errors FROM crawls") == [(2,)]
    assert report.counts["parse_errors"] == 2
    summary = format_summary(
        CrawlReport(site_name="site", crawl_id=crawl_id, writer=report, counts=dict(report.counts))
    )
    assert "  parse errors (2):" in summary
    assert "https://example.test/a: page: parser error in comparison.recognises (KeyError: 'boom')" in summary


def _serve_one(root: Path, path: str, html: str) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(html, encoding="utf-8")
    links = f'<a href="/{path.removesuffix("index.html")}">the page</a>'
    home = f"<!doctype html><title>Home</title><h1>Home</h1>{links}"
    (root / "index.html").write_text(home, encoding="utf-8")


def test_react_title_split_by_comments_is_read_or_flagged_never_lost(tmp_path: Path) -> None:
    """React server output puts `<!-- -->` between text pieces: `{a} vs {b}` in JSX. Whatever
    the text reader makes of it, the page is either read as the comparison or flagged."""
    page = COMPARISON.read_text(encoding="utf-8")
    react = page.replace(
        ">Cellwise vs QueryPilot</h1>", ">Cellwise<!-- --> <!-- -->vs<!-- --> <!-- -->QueryPilot</h1>"
    )
    assert react != page
    _serve_one(tmp_path / "site", "compare/cellwise-vs-querypilot/index.html", react)
    with StaticServer(tmp_path / "site") as server:
        code, output = run(server.origin, tmp_path / "a.db")
        url = f"{server.origin}/compare/cellwise-vs-querypilot/"
    status = dict(rows(tmp_path / "a.db", "SELECT url, parse_status FROM snapshots"))[url]
    assert (status, code) in {("ok", 0), ("unreadable", 2)}, output
    if status == "ok":
        assert rows(tmp_path / "a.db", "SELECT title FROM comparisons") == [("Cellwise vs QueryPilot",)]
    else:
        assert f"    {url}\n" in output


def test_json_ld_that_disagrees_on_a_price_is_kept_and_listed(tmp_path: Path) -> None:
    offer = {"@type": "Product", "name": "QueryPilot", "offers": {"@type": "Offer", "price": "15.00"}}
    script = f'<script type="application/ld+json">{json.dumps(offer)}</script>'
    page = COMPARISON.read_text(encoding="utf-8").replace("</head>", script + "</head>", 1)
    _serve_one(tmp_path / "site", "compare/cellwise-vs-querypilot/index.html", page)
    with StaticServer(tmp_path / "site") as server:
        code, output = run(server.origin, tmp_path / "a.db")
        url = f"{server.origin}/compare/cellwise-vs-querypilot/"
    assert code == 0, output  # a disagreement is a signal, not a failure
    compare = "SELECT url, parse_status FROM snapshots WHERE url LIKE '%/compare/%'"
    assert rows(tmp_path / "a.db", compare) == [(url, "ok")]
    sql = "SELECT url, source, field, tool_position, visible, embedded FROM field_disagreements"
    listed = rows(tmp_path / "a.db", sql)
    assert listed == [(url, "json-ld", "entry_price", 2, "$12/user/mo", "15.00")]
    kept = rows(tmp_path / "a.db", "SELECT kind, data FROM snapshot_embedded")
    assert [kind for kind, _ in kept] == ["json-ld"]
    assert offer in json.loads(kept[0][1])  # the page's own JSON-LD and the one added here
