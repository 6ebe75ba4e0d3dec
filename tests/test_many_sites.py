"""Several [[sites]] crawled together: one fetch loop and one writer, and per site its own
crawls row, summary, quality gate, exit code and resume state; a slow or failing host holds
up only its own site; each host keeps its delay however many sites ask it.

Real loopback servers (the bundled site served on several ports, and `tests/fault_server.py`
for the hosts that stall, answer 500 or refuse connections) and a real archive file.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from statistics import median

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import Settings, Site
from crawler.demo import DEMO_SITE
from crawler.engine import CrawlError, CrawlReport, crawl_sites
from crawler.static_server import StaticServer
from db.archive import connect_sqlite
from tests.fault_server import FaultServer, Reply

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "expected" / "site.json").read_text(encoding="utf-8"))
COMPARISONS = EXPECTED["counts"]["comparisons"]


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[StaticServer]]:
    """The bundled site on three loopback addresses: three hosts for the crawler, whose
    politeness is per host name (two ports of one address are one host)."""
    site = Path(shutil.copytree(DEMO_SITE, tmp_path / "site"))
    with ExitStack() as stack:
        yield [stack.enter_context(StaticServer(site, host=f"127.0.0.{n}")) for n in (2, 3, 4)]


@dataclass(frozen=True)
class StalledHost:
    """A host whose front page answers only once `release` is set, as the second of three sites."""

    sites: tuple[Site, ...]  # "healthy 1", "slow" (this host), "healthy 2"
    asked: threading.Event  # set once the stalled page was asked for
    release: threading.Event


@pytest.fixture
def stalled_host(servers: list[StaticServer]) -> Iterator[StalledHost]:
    asked, release = threading.Event(), threading.Event()

    def stall(headers: dict[str, str]) -> Reply:
        asked.set()
        release.wait(60)
        return Reply(body=b"<html><body><p>late</p></body></html>")

    with FaultServer("127.0.0.5") as slow:
        slow.routes["/"] = stall
        sites = (
            Site("healthy 1", (servers[0].origin + "/",)),
            Site("slow", (slow.origin + "/",)),
            Site("healthy 2", (servers[1].origin + "/",)),
        )
        try:
            yield StalledHost(sites, asked, release)
        finally:
            release.set()  # a failed test leaves no request waiting


def query(db_path: Path, sql: str, *params: object) -> list[tuple]:
    db = connect_sqlite(db_path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def comparisons_of(db_path: Path, origin: str) -> int:
    return query(db_path, "SELECT count(*) FROM comparisons WHERE url LIKE ?", origin + "/%")[0][0]


def gets(server: StaticServer) -> list:
    return [r for r in server.requests if r.method == "GET"]


def refused_origin() -> str:
    """An origin nothing listens on (a port just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.7", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.7:{port}"


def write_config(path: Path, db: Path, sites: dict[str, str], **top: object) -> Path:
    lines = [f'db = "{db}"'] + [f"{key} = {json.dumps(value)}" for key, value in top.items()]
    for name, origin in sites.items():
        lines += ["[[sites]]", f'name = "{name}"', f'start_urls = ["{origin}/"]']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_sites_of_a_run_crawl_together_each_into_its_own_crawls_row(
    servers: list[StaticServer], archive_path: Path, tmp_path: Path
) -> None:
    names = {f"site {n}": server.origin for n, server in enumerate(servers)}
    config = write_config(tmp_path / "verdicts.toml", archive_path, names, delay=0.02)
    result = CliRunner().invoke(cli, ["crawl", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "3 sites crawled together:" in result.output
    rows = query(archive_path, "SELECT id, status, start_urls, pages_fetched, resumable FROM crawls")
    assert len(rows) == 3
    for name, origin in names.items():
        (row,) = [r for r in rows if json.loads(r[2]) == [origin + "/"]]
        assert row[1] == "completed" and row[4] == 0
        assert f"Crawl {row[0]} of {name}: completed" in result.output
        assert f"  {name}: crawl {row[0]} completed (exit 0)" in result.output
        assert comparisons_of(archive_path, origin) == COMPARISONS
    # Together, not in turn: every site had started before any of them was done.
    spans = [(gets(s)[0].at, gets(s)[-1].at) for s in servers]
    assert max(first for first, _ in spans) < min(last for _, last in spans)
    # Every site's pages were parsed and counted in its own row, none in another's.
    fetched = query(archive_path, "SELECT sum(pages_fetched) FROM crawls")[0][0]
    assert fetched == query(archive_path, "SELECT count(*) FROM pages WHERE status = 'ok'")[0][0]


def test_a_stalling_host_holds_up_no_other_site(
    servers: list[StaticServer], stalled_host: StalledHost, archive_path: Path
) -> None:
    seen: dict[str, tuple] = {}
    release = stalled_host.release

    def on_report(report: CrawlReport) -> None:
        # What the archive holds as each site ends: the slow one is still waiting.
        slow_row = query(archive_path, "SELECT status FROM crawls WHERE id = 2")[0]
        seen[report.site_name] = (report.status, slow_row[0], stalled_host.asked.is_set(), release.is_set())
        if {"healthy 1", "healthy 2"} <= set(seen):
            release.set()

    sites = stalled_host.sites
    reports = crawl_sites(Settings(db_path=archive_path, sites=sites, delay=0.0), sites, on_report=on_report)
    assert seen["healthy 1"] == ("completed", "running", True, False)
    assert seen["healthy 2"] == ("completed", "running", True, False)
    assert list(seen) == ["healthy 1", "healthy 2", "slow"] or list(seen) == [
        "healthy 2",
        "healthy 1",
        "slow",
    ]
    assert [r.site_name for r in reports] == ["healthy 1", "slow", "healthy 2"]
    for server in servers[:2]:
        assert comparisons_of(archive_path, server.origin) == COMPARISONS
    statuses = dict(query(archive_path, "SELECT id, status FROM crawls"))
    assert statuses[1] == statuses[3] == "completed"
    assert statuses[2] != "running"  # released, the slow site ended too, in its own row


def test_failing_hosts_fail_their_own_site_and_the_run_exits_with_the_worst(
    servers: list[StaticServer], archive_path: Path, tmp_path: Path
) -> None:
    with FaultServer("127.0.0.6") as broken:
        for path in ("/", "/sitemap.xml"):  # robots.txt: 404, everything allowed
            broken.routes[path] = [Reply(status=500, body=b"<html>down</html>")]
        names = {
            "healthy": servers[0].origin,
            "errors": broken.origin,
            "refused": refused_origin(),
        }
        config = write_config(tmp_path / "verdicts.toml", archive_path, names, delay=0.0)
        result = CliRunner().invoke(cli, ["crawl", "--config", str(config)])
    assert result.exit_code == 1, result.output
    rows = {
        json.loads(r[0])[0]: r[1:]
        for r in query(archive_path, "SELECT start_urls, status, error FROM crawls")
    }
    assert rows[servers[0].origin + "/"] == ("completed", None)
    status, error = rows[broken.origin + "/"]
    assert status == "failed" and "HTTP 500" in error
    status, error = rows[names["refused"] + "/"]
    assert status == "failed" and "robots.txt unreachable" in error
    assert comparisons_of(archive_path, servers[0].origin) == COMPARISONS
    for name, code in (("healthy", 0), ("errors", 1), ("refused", 1)):
        assert (
            f"  {name}: crawl " in result.output
            and f"(exit {code})" in result.output.split(f"  {name}: ")[-1]
        )


def test_each_host_keeps_its_delay_when_several_sites_share_it(
    servers: list[StaticServer], archive_path: Path
) -> None:
    delay = 0.1
    shared, alone = servers[0], servers[1]
    sites = (  # two sites on one host (different start URLs and scopes), one on another
        Site("a", (shared.origin + "/",), include=("/compare/[a-l]",)),
        Site("b", (shared.origin + "/about/",), include=("/compare/[m-z]",)),
        Site("c", (alone.origin + "/",), include=("/compare/[q-s]",)),
    )
    settings = Settings(db_path=archive_path, sites=sites, delay=delay, per_host=2)
    reports = crawl_sites(settings, sites)
    assert [r.status for r in reports] == ["completed"] * 3, [r.reasons for r in reports]
    both = gets(shared)
    assert any(r.path.startswith("/compare/d") for r in both) and any(
        r.path.startswith("/compare/p") for r in both
    )
    for server in (shared, alone):
        times = sorted(r.at for r in gets(server))
        gaps = [b - a for a, b in pairwise(times)]
        assert len(gaps) >= 4
        # One host's requests stay `delay` apart whichever site asks: the typical gap is the
        # delay (two sites each spacing only their own requests would halve it), and the
        # span is never shorter than the gaps allow, but for a late first request.
        assert median(gaps) >= 0.8 * delay, gaps
        assert times[-1] - times[0] >= (len(gaps) - 2) * delay, gaps
    # ... while the two hosts were asked side by side.
    assert max(gets(shared)[0].at, gets(alone)[0].at) < min(gets(shared)[-1].at, gets(alone)[-1].at)


def test_max_pages_and_resume_hold_for_each_site(servers: list[StaticServer], archive_path: Path) -> None:
    sites = tuple(Site(f"site {n}", (s.origin + "/",)) for n, s in enumerate(servers[:2]))
    settings = Settings(db_path=archive_path, sites=sites, delay=0.0, max_pages=5)
    first = crawl_sites(settings, sites)
    assert [(r.status, r.requests) for r in first] == [("completed", 5), ("completed", 5)]
    assert query(archive_path, "SELECT resumable FROM crawls ORDER BY id") == [(1,), (1,)]
    asked = [len(gets(s)) for s in servers[:2]]

    second = crawl_sites(Settings(db_path=archive_path, sites=sites, delay=0.0), sites)
    assert [r.resumed_from for r in second] == [r.crawl_id for r in first]  # each its own
    assert [r.status for r in second] == ["completed", "completed"]
    for server, before in zip(servers[:2], asked, strict=True):
        assert comparisons_of(archive_path, server.origin) == COMPARISONS
        # the resumed run did not start over: the pages done before were not asked again unconditionally
        again = [r.path for r in gets(server)[before:] if not r.conditional]
        done = {
            r.path for r in gets(server)[:before] if r.status == 200 and not r.path.endswith((".txt", ".xml"))
        }
        assert done and not done & set(again)


def test_the_same_start_urls_twice_in_one_run_is_refused(
    servers: list[StaticServer], archive_path: Path
) -> None:
    sites = (Site("one", (servers[0].origin + "/",)), Site("two", (servers[0].origin + "/",)))
    with pytest.raises(CrawlError, match="sites one and two have the same start URLs"):
        crawl_sites(Settings(db_path=archive_path, sites=sites), sites)
    assert not archive_path.exists() or query(archive_path, "SELECT count(*) FROM crawls") == [(0,)]


def test_each_site_has_its_own_quality_gate_and_the_run_exits_with_the_worst(
    servers: list[StaticServer], archive_path: Path, tmp_path: Path
) -> None:
    from tests.test_never_silent import ABOUT, COMPARISON, INDEX, SHELL, TITLE_ONLY

    root = tmp_path / "unreadable"
    pages = {
        "index.html": INDEX,
        "about/index.html": ABOUT,
        "compare/quillstream-vs-ghostline/index.html": SHELL,
        "reviews/dashboards-42/index.html": TITLE_ONLY,
        "compare/cellwise-vs-querypilot/index.html": COMPARISON.read_text(encoding="utf-8"),
    }
    for path, text in pages.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    with StaticServer(root, host="127.0.0.8") as drifted:
        names = {"healthy": servers[0].origin, "drifted": drifted.origin}
        config = write_config(tmp_path / "verdicts.toml", archive_path, names, delay=0.0)
        result = CliRunner().invoke(cli, ["crawl", "--config", str(config)])
    assert result.exit_code == 2, result.output
    rows = dict(
        (json.loads(r[0])[0], r[1:])
        for r in query(archive_path, "SELECT start_urls, status, pages_unreadable FROM crawls")
    )
    assert rows[servers[0].origin + "/"] == ("completed", 0)
    assert rows[drifted.origin + "/"] == ("degraded", 2)
    assert "  healthy: crawl 1 completed (exit 0)" in result.output
    assert "  drifted: crawl 2 degraded (exit 2)" in result.output
    assert f"    {drifted.origin}/compare/quillstream-vs-ghostline/\n" in result.output


def test_twenty_sites_conclude_with_one_summary_refresh(
    tmp_path: Path, archive_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from db import summaries
    from db.archive import open_current
    from tests.test_summaries import assert_consistent

    open_current(archive_path).close()  # created and migrated first (a migration refreshes)
    refreshes: list[int] = []
    real_refresh = summaries.refresh

    def counted(conn: object, tools: bool = False) -> int:
        refreshes.append(1)
        return real_refresh(conn, tools=tools)

    monkeypatch.setattr(summaries, "refresh", counted)
    site = Path(shutil.copytree(DEMO_SITE, tmp_path / "site"))
    with ExitStack() as stack:
        hosts = [stack.enter_context(StaticServer(site, host=f"127.0.0.{20 + k}")) for k in range(20)]
        sites = tuple(
            Site(f"site {k}", (server.origin + "/",), include=("/compare/[c-d]",))
            for k, server in enumerate(hosts)
        )
        reports = crawl_sites(Settings(db_path=archive_path, sites=sites, delay=0.0), sites)
    assert [r.status for r in reports] == ["completed"] * 20, [r.reasons for r in reports]
    # Each site closed its own row with its own counts and quality statistics...
    rows = query(
        archive_path,
        "SELECT c.id, c.status, c.pages_fetched, (SELECT count(*) FROM crawl_field_stats f "
        "WHERE f.crawl_id = c.id) FROM crawls c ORDER BY c.id",
    )
    assert [row[0] for row in rows] == [r.crawl_id for r in reports]
    for (_, status, fetched, stats), server in zip(rows, hosts, strict=True):
        assert status == "completed" and fetched > 0 and stats > 0
        assert comparisons_of(archive_path, server.origin) > 0
    # ... while the archive-wide summaries were refreshed once for the run, and are exact.
    assert len(refreshes) == 1
    conn = connect_sqlite(archive_path)
    try:
        assert conn.execute("SELECT count(*) FROM summary_verdicts").fetchone()[0] > 0
        assert_consistent(conn)
    finally:
        conn.close()


def test_summaries_are_refreshed_while_a_slow_site_holds_the_run_open(
    stalled_host: StalledHost, archive_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the ended sites stored reaches the summary tables while a stalled host still holds
    the run open (at most every REFRESH_EVERY_SECONDS, 0 here), not only at the run's end."""
    from crawler import engine
    from db.archive import open_current
    from tests.test_summaries import assert_consistent

    open_current(archive_path).close()  # created and migrated first (a migration refreshes)
    monkeypatch.setattr(engine._Concluder, "REFRESH_EVERY_SECONDS", 0.0)
    seen: list[tuple[str, int]] = []
    real_refresh = engine._refresh_summaries

    def refresh_and_look(settings: Settings) -> None:
        real_refresh(settings)
        conn = connect_sqlite(archive_path)
        try:
            slow_status = conn.execute("SELECT status FROM crawls WHERE id = 2").fetchone()[0]
            if slow_status == "running":
                assert_consistent(conn)  # the summaries equal a recompute from the base tables
            verdicts = conn.execute("SELECT count(*) FROM summary_verdicts").fetchone()[0]
        finally:
            conn.close()
        seen.append((slow_status, verdicts))
        stalled_host.release.set()

    monkeypatch.setattr(engine, "_refresh_summaries", refresh_and_look)
    sites = stalled_host.sites
    reports = crawl_sites(Settings(db_path=archive_path, sites=sites, delay=0.0), sites)
    assert [r.status for r in reports][0::2] == ["completed", "completed"]
    # A refresh came while the slow site still ran, with the healthy sites' verdicts in it...
    assert seen[0][0] == "running" and seen[0][1] > 0, seen
    # ... and the run's own refresh after the slow site ended, as before.
    assert seen[-1][0] != "running" and len(seen) >= 2
