"""`verdicts demo`: the whole product on the bundled site, over real HTTP.

Serves the bundled site (crawler/demo_site/, written by fixtures/build_site.py) on a loopback port
and crawls it with the real crawler into an archive, then serves the site's second edition
(crawler/demo_site_2/: some prices changed,
a quote rewritten, a quote dropped, a page removed, a page added, a score moved) on
the same port and crawls again, so the change log, the price charts, the history pages
and the feeds all have something to show. Prints what landed and what changed, stops
that server and publishes the archive with Datasette. A second run only re-crawls the
second edition (conditional requests): nothing is duplicated and nothing "changes back".

With ``render="browser"`` it also serves the client-rendered example (crawler/demo_rendered/,
written by fixtures/build_rendered.py: empty shells a same-host script builds from inline or
fetched JSON) and crawls it through headless Chromium (docs/render.md). Without it, nothing
about the plain demo changes and no browser is needed.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import click

from crawler.config import Settings, Site

#: The bundled site and its second edition: package data (so the demo works from a wheel) and
#: the only copy, which the tests and benchmarks serve too. fixtures/build_site.py writes both.
DEMO_SITE = Path(__file__).resolve().parent / "demo_site"
DEMO_SITE_2 = DEMO_SITE.with_name("demo_site_2")
#: The client-rendered example, crawled only by `verdicts demo --render browser`.
DEMO_RENDERED = DEMO_SITE.with_name("demo_rendered")
#: The bundled site's port. Page URLs (and so comparison ids) include it, so a fixed
#: port is what makes a second `verdicts demo` update the same rows instead of adding.
SITE_PORT = 8765
#: The client-rendered example's port (fixed for the same reason).
RENDERED_PORT = 8766


@dataclass(frozen=True, slots=True)
class ArchiveSummary:
    """The counts the demo prints: what an analyst will find in Datasette."""

    pages: int
    comparisons: int
    tools: int
    verdicts: int
    appearances: int
    repeated_verdicts: int
    changes: str = "nothing changed"  # the change log, by kind (db/change_log.py)

    def lines(self) -> list[str]:
        return [
            f"pages        {self.pages:>6}",
            f"comparisons  {self.comparisons:>6}",
            f"tools        {self.tools:>6}",
            f"verdicts     {self.verdicts:>6}  ({self.appearances} appearances)",
            f"repeated     {self.repeated_verdicts:>6}  verdicts published on more than one page",
        ]


def summarise(db_path: Path) -> ArchiveSummary:
    """Count the archive's main tables (read-only)."""
    from db.archive import connect
    from db.change_log import describe_counts, ordered

    db = connect(db_path)
    try:
        one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
        return ArchiveSummary(
            pages=one("select count(*) from pages"),
            comparisons=one("select count(*) from comparisons"),
            tools=one("select count(*) from tools"),
            verdicts=one("select count(*) from verdicts"),
            appearances=one("select count(*) from verdict_appearances"),
            repeated_verdicts=one(
                "select count(*) from (select verdict_id from verdict_appearances"
                " group by verdict_id having count(*) > 1)"
            ),
            changes=describe_counts(
                ordered(dict(db.execute("select kind, count(*) from changes group by kind")))
            ),
        )
    finally:
        db.close()


def _crawled_before(db_path: Path) -> bool:
    """Whether the archive already holds a crawl (then the first edition is in it)."""
    import sqlite3

    if not db_path.is_file():
        return False
    from db.archive import connect

    db = connect(db_path)
    try:
        return (
            db.execute("select 1 from crawls where status in ('completed', 'degraded') limit 1").fetchone()
            is not None
        )
    except sqlite3.Error:
        return False
    finally:
        db.close()


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _crawl_rendered(db_path: Path, port: int) -> int:
    """Serve the client-rendered example and crawl it with render="browser"."""
    from crawler.engine import run_crawl
    from crawler.static_server import serve_directory

    if port and not _free(port):
        click.echo(f"Port {port} is busy; serving the rendered example on another port.", err=True)
        port = 0
    with serve_directory(DEMO_RENDERED, port) as origin:
        click.echo(f"Serving the client-rendered example at {origin}/ (loopback only)", err=True)
        site = Site(name="demo-rendered", start_urls=(f"{origin}/",), render="browser")
        return run_crawl(Settings(db_path=db_path, sites=(site,), delay=0.0))


def run_demo(
    db_path: Path,
    *,
    serve: bool = True,
    port: int = 8001,
    site: Path = DEMO_SITE,
    second: Path | None = DEMO_SITE_2,
    site_port: int = SITE_PORT,
    render: str = "plain",
) -> int:
    """Crawl the bundled site's editions into `db_path` (and, with render="browser", the
    client-rendered example); then serve the archive unless `serve` is False."""
    from crawler.engine import run_crawl
    from crawler.static_server import serve_directory

    folders = [site, second] if second is not None else [site]
    if render == "browser":
        from crawler.render import BrowserMissing, check_browser

        try:
            check_browser()  # fail before crawling anything, with the crawl's install sentence
        except BrowserMissing as error:
            raise click.ClickException(str(error)) from None
        folders.append(DEMO_RENDERED)
    for folder in folders:
        if not (folder / "index.html").is_file():
            raise click.ClickException(f"The bundled site is missing: {folder} has no index.html.")
    if serve and not _free(port):
        raise click.ClickException(f"Port {port} is in use: pass --port N for Datasette.")
    if site_port and not _free(site_port):
        click.echo(
            f"Port {site_port} is busy; serving the site on another port, so its pages get"
            " new URLs in this archive.",
            err=True,
        )
        site_port = 0
    editions = [site, second] if second is not None else [site]
    if len(editions) == 2 and _crawled_before(db_path):
        editions = editions[1:]  # the first edition is in: crawl the latest one again
    code = 0
    for number, edition in enumerate(editions, start=1):
        with serve_directory(edition, site_port) as origin:
            site_port = int(origin.rsplit(":", 1)[1])  # the next edition keeps the same URLs
            label = "the bundled site" if len(editions) == 1 else f"edition {number} of the bundled site"
            click.echo(f"Serving {label} at {origin}/ (loopback only)", err=True)
            # Our own fixture server: no politeness delay needed, robots.txt is still honoured.
            settings = Settings(
                db_path=db_path,
                sites=(Site(name="demo", start_urls=(f"{origin}/",)),),
                delay=0.0,
            )
            code = run_crawl(settings)
        if code != 0:
            break
    if code == 0 and render == "browser":
        code = _crawl_rendered(db_path, 0 if site_port == 0 else RENDERED_PORT)
    summary = summarise(db_path)
    click.echo(f"\nArchive {db_path}:")
    for line in summary.lines():
        click.echo(f"  {line}")
    if second is not None:
        click.echo(f"  changed      {summary.changes}")
    if code != 0:
        click.echo(f"The crawl exited with status {code}; see the messages above.", err=True)
        return code
    if serve:
        from db.publish import serve as serve_archive

        click.echo(f"\nDatasette on http://127.0.0.1:{port}/  (Ctrl+C to stop)")
        serve_archive(db_path, host="127.0.0.1", port=port, immutable=False)
    return 0
