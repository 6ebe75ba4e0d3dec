"""End to end: the client-rendered example crawled with `--render browser` through real Chromium.

crawler/demo_rendered/ (fixtures/build_rendered.py) is served by the bundled static server on
127.0.0.1 and crawled into a real SQLite archive with render = "browser": the crawl is
stopped after three fetches and resumed, then crawled again. The archive must hold exactly
what fixtures/expected/ says of every page (comparisons, tools, verdicts, appearances),
the raw shells as snapshots with the rendered HTML beside them, and every subrequest must
have gone through the crawler (its User-Agent, robots.txt, the allowed hosts). The same
pages crawled plainly are unreadable (tests/test_render.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from crawler.config import Settings, Site
from crawler.demo import DEMO_RENDERED
from crawler.engine import CrawlReport, crawl, crawl_sites
from crawler.progress import format_summary
from crawler.static_server import StaticServer
from db.archive import connect
from db.reparse import run_reparse
from db.snapshots import read_body, read_snapshot
from tests.chromium import require_chromium
from tests.conftest import FIXTURES
from tests.test_frameworks_crawl import archived

pytestmark = pytest.mark.browser

require_chromium()

RENDERED = DEMO_RENDERED
EXPECTED = FIXTURES / "expected"
SLUGS = sorted(p.parent.name for p in (RENDERED / "compare").glob("*/index.html"))
USER_AGENT = "verdict-archive-test/1.0 (+http://127.0.0.1/contact)"


def settings(db_path: Path, site: Site, **extra: object) -> Settings:
    return Settings(db_path=db_path, sites=(site,), delay=0.0, user_agent=USER_AGENT, **extra)  # type: ignore[arg-type]


class Run:
    """Two crawls of the example (stopped after three fetches, then resumed) and a re-crawl."""

    def __init__(self, db_path: Path, origin: str) -> None:
        self.db_path, self.origin = db_path, origin
        self.reports: list[CrawlReport] = []
        self.requests: list[list] = []


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    db_path = tmp_path_factory.mktemp("render") / "archive.db"
    with StaticServer(RENDERED) as server:
        result = Run(db_path, server.origin)
        site = Site(name="rendered", start_urls=(server.origin + "/",), render="browser")
        for max_pages in (3, None, None):  # stopped, resumed, crawled again
            before = len(server.requests)
            report = crawl(settings(db_path, site, max_pages=max_pages), site)
            result.reports.append(report)
            result.requests.append(list(server.requests[before:]))
    return result


def paths(requests: list) -> list[str]:
    return [r.path for r in requests]


def test_the_crawl_is_stopped_resumed_and_completes(run: Run) -> None:
    first, resumed, again = run.reports
    assert (first.status, resumed.status, again.status) == ("completed", "completed", "completed")
    assert resumed.resumed_from == first.crawl_id, format_summary(resumed)
    assert again.resumed_from is None
    assert [r.exit_code for r in run.reports] == [0, 0, 0]


def assert_comparisons_as_expected(db_path: Path, origin: str) -> list[dict]:
    """Every comparison of the example served at `origin` is archived as fixtures/expected/ says."""
    answers = []
    for slug in SLUGS:
        expected = json.loads((EXPECTED / f"{slug}.json").read_text(encoding="utf-8"))
        answers.append(expected)
        got = archived(db_path, f"{origin}/compare/{slug}/")
        assert got == {**{k: expected[k] for k in ("title", "listings", "quotes")}, "complete": 1}, slug
    return answers


def test_every_comparison_tool_verdict_and_appearance_is_right(run: Run) -> None:
    answers = assert_comparisons_as_expected(run.db_path, run.origin)
    tools = {listing["name"] for answer in answers for listing in answer["listings"]}
    verdicts = {
        (answer["listings"][quote["position"] - 1]["name"], quote["text"])
        for answer in answers
        for quote in answer["quotes"]
    }
    db = connect(run.db_path)
    try:
        assert {row[0] for row in db.execute("SELECT name FROM tools")} == tools
        got = set(db.execute("SELECT t.name, v.text FROM verdicts v JOIN tools t ON t.id = v.tool_id"))
        assert got == verdicts
        appearances = sum(len(answer["quotes"]) for answer in answers)
        assert db.execute("SELECT count(*) FROM verdict_appearances").fetchone()[0] == appearances
        assert db.execute("SELECT count(*) FROM comparisons").fetchone()[0] == len(SLUGS)
    finally:
        db.close()


def test_the_snapshot_is_the_raw_shell_and_the_rendering_is_kept_beside_it(run: Run) -> None:
    db = connect(run.db_path)
    try:
        for slug in SLUGS:
            url = f"{run.origin}/compare/{slug}/"
            raw = (RENDERED / "compare" / slug / "index.html").read_bytes()
            assert read_snapshot(run.db_path, url) == raw  # `verdicts snapshot` prints what was served
            rows = db.execute(
                "SELECT body_sha256, rendered_sha256, parse_status FROM snapshots WHERE url = ?", [url]
            ).fetchall()
            assert len(rows) == 1, rows  # the re-crawl added no snapshot
            body_sha, rendered_sha, status = rows[0]
            assert body_sha == hashlib.sha256(raw).hexdigest()
            assert status == "ok"
            rendered = read_body(db.conn, rendered_sha).decode("utf-8")
            assert rendered.startswith("<html") and 'class="tool-card tool-card--1"' in rendered
            assert hashlib.sha256(rendered.encode()).hexdigest() == rendered_sha
    finally:
        db.close()


def test_every_subrequest_went_through_the_crawler(run: Run) -> None:
    fetched = run.requests[0] + run.requests[1]
    asked = Counter(paths(fetched))
    pages = sum(1 for path in asked if path.startswith("/compare/"))
    assert pages == len(SLUGS)
    assert asked["/assets/app.js"] == len(SLUGS)  # once per rendered comparison (the index has none)
    fetched_variant = sorted(p.name for p in (RENDERED / "data").glob("*.json"))
    assert sorted(p.rsplit("/", 1)[1] for p in asked if p.startswith("/data/")) == fetched_variant
    assert all(asked[f"/data/{name}"] == 1 for name in fetched_variant)
    assert not any(path.startswith("/tracking/") for path in asked)  # robots.txt disallows it
    assert {r.user_agent for r in fetched} == {USER_AGENT}
    blocked: Counter[str] = Counter()
    for report in run.reports[:2]:
        blocked.update(report.rendered.blocked)
    assert blocked == {"disallowed by robots.txt": len(SLUGS), "host not allowed": len(SLUGS)}
    summary = format_summary(run.reports[1])
    assert "blocked http://127.0.0.2/widget.js: host not allowed" in summary
    assert "/tracking/beacon.js: disallowed by robots.txt" in summary


def test_a_re_crawl_sends_validators_and_renders_nothing_on_304(run: Run) -> None:
    again = run.requests[2]
    pages = [r for r in again if r.path.startswith("/compare/")]
    assert len(pages) == len(SLUGS)
    assert all(r.conditional and r.status == 304 for r in pages)
    assert not any(r.path.startswith(("/assets/", "/data/")) for r in again)
    assert run.reports[2].rendered.pages == 0
    assert run.reports[2].counts["pages_not_modified"] == len(SLUGS) + 1


def test_the_resumed_crawl_renders_only_pages_not_committed_before(run: Run) -> None:
    first, resumed = (set(p for p in paths(r) if p.startswith("/compare/")) for r in run.requests[:2])
    db = connect(run.db_path)
    try:
        stored = db.execute("SELECT url FROM snapshots WHERE crawl_id = ?", [run.reports[0].crawl_id])
        committed = {url.removeprefix(run.origin) for (url,) in stored}
    finally:
        db.close()
    assert first and resumed and not committed & resumed
    # a page whose render the --max-pages stop cut short was not stored: it is fetched again
    assert first - committed <= resumed
    assert len(first - committed) <= run.reports[0].rendered.stopped
    assert run.reports[0].rendered.pages + run.reports[1].rendered.pages == len(SLUGS) + 1


def test_reparse_reads_the_rendered_html(run: Run, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(run.db_path, copy)
    before = {slug: archived(copy, f"{run.origin}/compare/{slug}/") for slug in SLUGS}
    assert run_reparse(copy, force=True, workers=1) == 0
    assert {slug: archived(copy, f"{run.origin}/compare/{slug}/") for slug in SLUGS} == before


async def test_subrequests_wait_for_the_crawls_own_politeness_slots() -> None:
    """The Renderer asks the crawl's Fetcher, so every subrequest takes a slot of its one
    politeness scheduler (per-host delay and concurrency), as a plain fetch does."""
    from crawler.fetch import Fetcher, FetchSettings
    from crawler.politeness import Politeness
    from crawler.render import Browser, Renderer, check_browser

    slug = next(p.stem for p in (RENDERED / "data").glob("*.json"))  # a page whose script fetches data
    with StaticServer(RENDERED) as server:
        host = server.origin.split("//")[1].split(":")[0]
        fetch_settings = FetchSettings(delay=0.05, user_agent=USER_AGENT, allowed_hosts=frozenset({host}))
        async with Fetcher(fetch_settings) as fetcher:
            slots: list[str] = []

            class Counted(Politeness):
                async def acquire(self, host: str) -> None:
                    slots.append(host)
                    await super().acquire(host)

            fetcher.politeness = Counted(fetch_settings.delay, fetch_settings.per_host, 16)
            page = await fetcher.fetch(f"{server.origin}/compare/{slug}/", decode=False)
            async with (
                Browser(check_browser()) as browser,
                Renderer(fetcher, browser, frozenset({host}), user_agent=USER_AGENT) as renderer,
            ):
                rendered = await renderer.render(page)
        asked = [r.path for r in server.requests]
    assert rendered.rendered is not None and "tool-card__name" in rendered.rendered
    assert renderer.stats.subrequests == 2  # app.js and the data it fetches
    # robots.txt, the page, then one slot per subrequest: nothing reached the server without one
    assert slots == [host] * (2 + renderer.stats.subrequests)
    assert asked == ["/robots.txt", f"/compare/{slug}/", "/assets/app.js", f"/data/{slug}.json"]


def test_history_reads_the_rendered_html(run: Run) -> None:
    from db.page_history import diff_snapshots, snapshots_of

    db = connect(run.db_path)
    try:
        for slug in SLUGS:
            (snapshot,) = snapshots_of(db.conn, f"{run.origin}/compare/{slug}/")
            rendered = db.execute("SELECT rendered_sha256 FROM snapshots WHERE id = ?", [snapshot.id])
            assert snapshot.body_sha256 == rendered.fetchone()[0]
            expected = json.loads((EXPECTED / f"{slug}.json").read_text(encoding="utf-8"))
            assert diff_snapshots(db.conn, snapshot, snapshot).title == expected["title"]
    finally:
        db.close()


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The pid of every Chromium launched while the test runs."""
    from crawler import render

    launched: list[int | None] = []
    launch = render.Browser._launch

    async def counted(self: render.Browser) -> None:
        await launch(self)
        launched.append(self.pid())

    monkeypatch.setattr(render.Browser, "_launch", counted)
    return launched


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_rendered_sites_of_one_run_share_one_chromium(tmp_path: Path, launches: list[int | None]) -> None:
    db_path = tmp_path / "archive.db"
    with StaticServer(RENDERED) as first, StaticServer(RENDERED, host="127.0.0.3") as second:
        origins = [first.origin, second.origin]
        sites = tuple(
            Site(name=f"rendered-{n}", start_urls=(origin + "/",), render="browser")
            for n, origin in enumerate(origins)
        )
        run_settings = Settings(db_path=db_path, sites=sites, delay=0.0, user_agent=USER_AGENT)
        reports = crawl_sites(run_settings, sites)
    assert [r.status for r in reports] == ["completed", "completed"], [format_summary(r) for r in reports]
    for origin in origins:
        assert_comparisons_as_expected(db_path, origin)
    assert [r.rendered.pages for r in reports] == [len(SLUGS) + 1] * 2  # the index is rendered too
    assert len(launches) == 1 and launches[0] is not None, launches
    assert [r.rendered.browser_pid for r in reports] == launches * 2
    assert not alive(launches[0])  # closed with the run


def test_a_run_with_no_rendered_site_starts_no_chromium(tmp_path: Path, launches: list[int | None]) -> None:
    with StaticServer(FIXTURES / "frameworks" / "react") as server:
        site = Site(name="plain", start_urls=(server.origin + "/",))
        report = crawl(settings(tmp_path / "archive.db", site), site)
    assert report.status == "completed" and report.rendered is None
    assert launches == []
