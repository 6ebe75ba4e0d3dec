"""`verdicts demo`: the whole product on the bundled site, over real HTTP.

Serves fixtures/site/ on a free loopback port, crawls it with the real crawler into
an archive, prints what landed, stops that server and publishes the archive with
Datasette. The crawl is conditional on a second run, so nothing is duplicated.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import click

from crawler.config import Settings, Site

FIXTURE_SITE = Path(__file__).resolve().parent.parent / "fixtures" / "site"
#: The bundled site's port. Page URLs (and so comparison ids) include it, so a fixed
#: port is what makes a second `verdicts demo` update the same rows instead of adding.
SITE_PORT = 8765


@dataclass(frozen=True, slots=True)
class ArchiveSummary:
    """The counts the demo prints: what an analyst will find in Datasette."""

    pages: int
    comparisons: int
    tools: int
    verdicts: int
    appearances: int
    repeated_verdicts: int

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
        )
    finally:
        db.close()


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def run_demo(
    db_path: Path,
    *,
    serve: bool = True,
    port: int = 8001,
    site: Path = FIXTURE_SITE,
    site_port: int = SITE_PORT,
) -> int:
    """Crawl the bundled site into `db_path`; then serve it unless `serve` is False."""
    from crawler.engine import run_crawl
    from crawler.static_server import serve_directory

    if not (site / "index.html").is_file():
        raise click.ClickException(f"The bundled site is missing: {site} has no index.html.")
    if serve and not _free(port):
        raise click.ClickException(f"Port {port} is in use: pass --port N for Datasette.")
    if site_port and not _free(site_port):
        click.echo(
            f"Port {site_port} is busy; serving the site on another port, so its pages get"
            " new URLs in this archive.",
            err=True,
        )
        site_port = 0
    with serve_directory(site, site_port) as origin:
        click.echo(f"Serving the bundled site at {origin}/ (loopback only)", err=True)
        # Our own fixture server: no politeness delay needed, robots.txt is still honoured.
        settings = Settings(
            db_path=db_path,
            sites=(Site(name="demo", start_urls=(f"{origin}/",)),),
            delay=0.0,
        )
        code = run_crawl(settings)
    summary = summarise(db_path)
    click.echo(f"\nArchive {db_path}:")
    for line in summary.lines():
        click.echo(f"  {line}")
    if code != 0:
        click.echo(f"The crawl exited with status {code}; see the messages above.", err=True)
        return code
    if serve:
        from db.publish import serve as serve_archive

        click.echo(f"\nDatasette on http://127.0.0.1:{port}/  (Ctrl+C to stop)")
        serve_archive(db_path, host="127.0.0.1", port=port, immutable=False)
    return 0
