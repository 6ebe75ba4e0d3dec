"""End to end: crawl the bundled site over real loopback HTTP into a real SQLite archive.

`fixtures/expected/site.json` says what the site holds (written with the site, not
derived from the crawler); these tests check the crawl finds exactly that, honours
robots.txt and scope, and re-crawls conditionally.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import Settings, Site
from crawler.engine import CrawlError, crawl
from crawler.static_server import StaticServer
from db.archive import connect
from db.lock import ArchiveLock

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "expected" / "site.json").read_text(encoding="utf-8"))


def settings_for(origin: str, db_path: Path, **overrides: object) -> Settings:
    site = Site(
        name="fixture",
        start_urls=(f"{origin}/",),
        include=tuple(overrides.pop("include", ())),  # type: ignore[call-overload]
        exclude=tuple(overrides.pop("exclude", ())),  # type: ignore[call-overload]
    )
    return Settings(db_path=db_path, sites=(site,), delay=0.0, **overrides)  # type: ignore[arg-type]


def column(db_path: Path, sql: str, *params: object) -> list:
    db = connect(db_path)
    try:
        return [row[0] for row in db.execute(sql, params).fetchall()]
    finally:
        db.close()


def crawl_row(db_path: Path, crawl_id: int) -> dict:
    db = connect(db_path)
    try:
        return dict(db["crawls"].get(crawl_id))
    finally:
        db.close()


def html_gets(server: StaticServer, since: int = 0) -> list:
    return [
        r
        for r in server.requests[since:]
        if r.method == "GET" and not r.path.endswith((".txt", ".xml", ".gz"))
    ]


def test_first_crawl_finds_exactly_what_the_site_holds(server: StaticServer, archive_path: Path) -> None:
    origin = server.origin
    report = crawl(settings_for(origin, archive_path))
    assert (report.status, report.exit_code) == ("completed", 0), report.reasons

    found = set(column(archive_path, "SELECT url FROM comparisons"))
    assert found == {origin + path for path in EXPECTED["crawlable_comparisons"]}
    assert {origin + p for p in EXPECTED["sitemap_only_comparisons"]} <= found
    counts = EXPECTED["counts"]
    for table in ("tools", "verdicts"):
        assert column(archive_path, f"SELECT count(*) FROM {table}") == [counts[table]]
    assert column(archive_path, "SELECT count(*) FROM verdict_appearances") == [counts["appearances"]]

    # robots.txt: the private page is linked but never requested.
    assert not [p for p in server.paths() if p.startswith("/private/")]
    # the broken link is recorded as a gone page, not a crash.
    for path in EXPECTED["broken_links"]:
        assert column(archive_path, "SELECT status FROM pages WHERE url = ?", origin + path) == ["gone"]
    # every page requested once: canonical URLs, one fetch each.
    repeated = [p for p, n in Counter(r.path for r in html_gets(server)).items() if n > 1]
    assert repeated == []

    row = crawl_row(archive_path, report.crawl_id)
    ok_pages = column(archive_path, "SELECT count(*) FROM pages WHERE status = 'ok'")[0]
    assert row["status"] == "completed" and row["finished_at"]
    assert row["pages_fetched"] == ok_pages
    assert (row["comparisons_new"], row["verdicts_new"]) == (counts["comparisons"], counts["verdicts"])
    states = column(archive_path, "SELECT DISTINCT state FROM frontier WHERE crawl_id = ?", row["id"])
    assert states == ["done"]


def test_recrawl_is_conditional_and_changes_nothing(server: StaticServer, archive_path: Path) -> None:
    settings = settings_for(server.origin, archive_path)
    crawl(settings)
    snapshots = column(archive_path, "SELECT count(*) FROM snapshots")
    before = len(server.requests)

    second = crawl(settings)
    assert second.status == "completed"
    pages = html_gets(server, before)
    ok = [r for r in pages if r.status != 404]
    assert ok and all(r.conditional and r.status == 304 for r in ok)
    assert column(archive_path, "SELECT count(*) FROM snapshots") == snapshots
    row = crawl_row(archive_path, second.crawl_id)
    assert row["pages_fetched"] == 0
    assert row["pages_not_modified"] == len(ok)
    assert (row["comparisons_new"], row["comparisons_changed"], row["verdicts_new"]) == (0, 0, 0)
    assert second.resumed_from is None


def test_recrawl_stores_a_changed_page_and_marks_a_removed_one_gone(
    server: StaticServer, site_dir: Path, archive_path: Path
) -> None:
    settings = settings_for(server.origin, archive_path)
    crawl(settings)
    snapshots = column(archive_path, "SELECT count(*) FROM snapshots")[0]
    first, second = EXPECTED["crawlable_comparisons"][:2]
    page = site_dir / first.strip("/") / "index.html"
    page.write_bytes(page.read_bytes().replace(b"</body>", b"<!-- edited --></body>"))
    shutil.rmtree(site_dir / second.strip("/"))

    report = crawl(settings)
    assert report.status == "completed"
    assert column(archive_path, "SELECT count(*) FROM snapshots") == [snapshots + 1]
    gone = column(archive_path, "SELECT gone_at FROM comparisons WHERE url = ?", server.origin + second)
    assert gone[0] is not None
    assert crawl_row(archive_path, report.crawl_id)["pages_fetched"] == 1


def test_scope_include_exclude_and_max_pages(server: StaticServer, archive_path: Path) -> None:
    report = crawl(settings_for(server.origin, archive_path, exclude=("/compare/page/",)))
    assert report.status == "completed"
    assert not [p for p in server.paths() if p.startswith("/compare/page/")]
    assert [p for p in server.paths() if p.startswith("/compare/")]

    capped = crawl(settings_for(server.origin, archive_path, max_pages=3))
    assert capped.requests == 3
    assert capped.status == "completed"
    assert any("max-pages 3" in reason for reason in capped.reasons)


def test_a_held_lock_refuses_to_crawl(server: StaticServer, archive_path: Path) -> None:
    with ArchiveLock(archive_path), pytest.raises(CrawlError) as caught:
        crawl(settings_for(server.origin, archive_path, lock_timeout=0))
    assert str(caught.value).startswith(f"another crawl is running on {archive_path} (pid ")
    assert not server.requests


def test_unreachable_robots_everywhere_fails_the_crawl(archive_path: Path, tmp_path: Path) -> None:
    with StaticServer(tmp_path) as server:  # start, learn a free port, stop
        origin = server.origin
    report = crawl(settings_for(origin, archive_path))
    assert (report.status, report.exit_code) == ("failed", 1)
    assert "robots.txt unreachable for every host" in report.reasons[0]
    assert crawl_row(archive_path, report.crawl_id)["status"] == "failed"


def test_cli_crawl_prints_a_summary(server: StaticServer, archive_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["crawl", f"{server.origin}/", "--db", str(archive_path), "--delay", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "Crawl 1 of command line: completed" in result.output
    assert "failures (" not in result.output or "/private/" not in result.output


def test_an_archive_that_cannot_be_written_is_a_one_line_error(server: StaticServer, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "archive.db"
    with pytest.raises(CrawlError, match=r"^archive .*archive\.db is not writable: "):
        crawl(settings_for(server.origin, missing))
    assert not server.requests


def test_a_drop_in_parse_quality_marks_the_crawl_degraded(
    server: StaticServer, site_dir: Path, archive_path: Path
) -> None:
    settings = settings_for(server.origin, archive_path)
    assert crawl(settings).status == "completed"
    for page in (site_dir / "compare").glob("*/index.html"):
        html = page.read_text(encoding="utf-8")
        page.write_text(
            re.sub(r'<p class="tool-card__tagline">.*?</p>', "", html, flags=re.S),
            encoding="utf-8",
        )

    report = crawl(settings)
    assert (report.status, report.exit_code) == ("degraded", 2)
    assert any("tagline" in reason for reason in report.reasons)
    row = crawl_row(archive_path, report.crawl_id)
    assert row["status"] == "degraded" and "tagline" in row["error"]


def test_a_bug_on_one_page_is_recorded_and_the_crawl_goes_on(
    server: StaticServer, archive_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import parsers.links

    real = parsers.links.extract_links

    def flaky(html: str, base_url: str, limit: int | None = None) -> list[str]:
        if base_url.endswith("/about/"):
            raise RuntimeError("boom")
        return real(html, base_url, limit)

    monkeypatch.setattr(parsers.links, "extract_links", flaky)
    report = crawl(settings_for(server.origin, archive_path))
    assert report.status == "completed"
    assert report.failures == [(server.origin + "/about/", "internal error: RuntimeError: boom")]
    found = column(archive_path, "SELECT count(*) FROM comparisons")
    assert found == [EXPECTED["counts"]["comparisons"]]


def test_results_that_cannot_reach_the_writer_fail_the_crawl_fast_and_harm_nothing(
    server: StaticServer, archive_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crawler.engine as engine

    first = crawl(settings_for(server.origin, archive_path))
    assert first.status == "completed"
    before = column(archive_path, "SELECT count(*) FROM verdict_appearances")
    real_dumps = engine.pickle.dumps

    def refuse_results(items: list, protocol: int) -> bytes:
        if any(item[0] == "result" for item in items):
            raise TypeError("cannot pickle a result")
        return real_dumps(items, protocol=protocol)

    monkeypatch.setattr(engine.pickle, "dumps", refuse_results)
    broken = crawl(settings_for(server.origin, archive_path))
    assert broken.status == "failed"
    assert any("results could not be sent to the writer: TypeError" in r for r in broken.reasons)
    assert crawl_row(archive_path, broken.crawl_id)["status"] == "failed"
    assert column(archive_path, "SELECT count(*) FROM verdict_appearances") == before

    monkeypatch.setattr(engine.pickle, "dumps", real_dumps)
    again = crawl(settings_for(server.origin, archive_path))
    assert again.status == "completed"


def test_the_configured_transport_crawls_the_whole_site(
    server: StaticServer, archive_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crawler.fetch

    chosen: list[str] = []
    real = crawler.fetch.make_wire

    def recording(transport: str, *args: object, **kwargs: object) -> object:
        chosen.append(transport)
        return real(transport, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(crawler.fetch, "make_wire", recording)
    report = crawl(settings_for(server.origin, archive_path, transport="httpx"))
    assert chosen == ["httpx"]
    assert report.status == "completed"
    found = column(archive_path, "SELECT count(*) FROM comparisons")
    assert found == [EXPECTED["counts"]["comparisons"]]
