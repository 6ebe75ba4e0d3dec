"""The `verdicts` command line: one click group, thin commands over typed functions.

Each command parses flags and calls a function a user could import (as sqlite-utils
does); the work lives in `crawler/`, `parsers/` and `db/`. Imports are local to each
command so `verdicts --help` stays instant.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from crawler import __version__

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = "archive.db"
DEFAULT_LOCK_TIMEOUT = 60.0  # db.lock.DEFAULT_TIMEOUT, without importing db/ for --help


def db_option(func: F) -> F:
    """`--db PATH`, spelled the same on every command."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_DB,
        show_default=True,
        help="The archive: an SQLite file, created and upgraded as needed.",
    )(func)


def existing_db_option(func: F) -> F:
    """`--db PATH` for commands that read an archive that must already exist."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        default=DEFAULT_DB,
        show_default=True,
        help="The archive to read (an SQLite file made by `verdicts crawl`).",
    )(func)


def config_option(func: F) -> F:
    """`--config FILE`: verdicts.toml; flags given on the command line override it."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Settings file (default: ./verdicts.toml when it exists). Flags override it.",
    )(func)


def lock_timeout_option(default: float | None = DEFAULT_LOCK_TIMEOUT) -> Callable[[F], F]:
    """`--lock-timeout SECONDS`: how long a writing command waits for another's archive lock
    (None: verdicts.toml's `lock_timeout` or the default applies)."""
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0.0),
        default=default,
        help="Seconds to wait while another command writes to the archive (0: fail at once) "
        f"[{DEFAULT_LOCK_TIMEOUT:g}].",
    )


def crawl_options(func: F) -> F:
    """Flags shared by `crawl` and `schedule`; each overrides verdicts.toml."""
    options = [
        click.option("--delay", type=float, help="Seconds between requests to one host [1.0]."),
        click.option("--concurrency", type=int, help="Requests in flight per site [16]."),
        click.option("--per-host", type=int, help="Requests in flight per host [4]."),
        click.option("--user-agent", help="User-Agent header (names the tool and a contact URL)."),
        click.option("--include", multiple=True, help="Only URLs matching this regex (repeatable)."),
        click.option("--exclude", multiple=True, help="Skip URLs matching this regex (repeatable)."),
        click.option("--max-pages", type=int, help="Stop after this many fetches (the next crawl resumes)."),
        lock_timeout_option(None),
        click.option(
            "--durability",
            type=click.Choice(["normal", "full"]),
            help="normal: a power loss may lose the last commits, never consistency; "
            "full: sync every commit (slower) [normal].",
        ),
        click.option("--timeout", type=float, help="Seconds one page may take in all [120]."),
        click.option(
            "--render",
            type=click.Choice(["plain", "browser"]),
            help="plain: parse pages as served; browser: load each page in headless Chromium "
            "and parse the DOM its scripts build, for sites that send an empty shell "
            "(needs `pip install 'verdict-archive[browser]'` and Chromium) [plain, or each "
            "site's render in verdicts.toml].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _given(db_path: Path) -> Path | None:
    """`--db` when typed, else None so that verdicts.toml's `db` (or the default) applies."""
    source = click.get_current_context().get_parameter_source("db_path")
    return None if source is click.core.ParameterSource.DEFAULT else db_path


class ArchiveGroup(click.Group):
    """The command group; an archive that cannot be opened (`db.archive.ArchiveError`: not
    SQLite, truncated, written by a newer version) or that another command is writing to
    (`db.lock.ArchiveLocked`) is a one-sentence error, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from db.archive import ArchiveError
        from db.lock import ArchiveLocked

        try:
            return super().invoke(ctx)
        except ArchiveError as error:
            raise click.ClickException(str(error)) from error
        except ArchiveLocked as error:
            raise click.ClickException(f"{error}.") from error


@click.group(cls=ArchiveGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="verdicts")
def cli() -> None:
    """Archive "X vs Y" comparison pages and their reviewer verdicts.

    Crawl a site into an SQLite archive, deduplicate the reviewer quotes it repeats
    across pages, and publish the archive with Datasette.

    Start with `verdicts demo`, which does all of it on the bundled example site.
    """


@cli.command()
@db_option
@click.option("--no-serve", is_flag=True, help="Stop after the crawl instead of starting Datasette.")
@click.option("--port", type=int, default=8001, show_default=True, help="Datasette port.")
@click.option(
    "--site-port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port of the bundled site (0: any free port). Page URLs include it.",
)
@click.option(
    "--render",
    type=click.Choice(["plain", "browser"]),
    default="plain",
    show_default=True,
    help="browser: also crawl the client-rendered example through headless Chromium.",
)
def demo(db_path: Path, no_serve: bool, port: int, site_port: int, render: str) -> None:
    """Crawl the bundled example site over real HTTP, then publish the archive.

    Serves the bundled site on a 127.0.0.1 port and crawls it into the archive, then
    does the same with the site's second edition (prices changed, a quote rewritten, a
    page gone, a page new), prints a summary with what changed, stops that server and
    starts Datasette on http://127.0.0.1:8001 (unless --no-serve). Running it again
    re-crawls the second edition only: no duplicates. With --render browser it also
    crawls the client-rendered example (needs Chromium and the browser extra).
    """
    from crawler.demo import run_demo

    sys.exit(run_demo(db_path, serve=not no_serve, port=port, site_port=site_port, render=render))


@cli.command()
@click.argument("urls", nargs=-1)
@db_option
@config_option
@crawl_options
def crawl(urls: tuple[str, ...], db_path: Path, config_path: Path | None, **flags: Any) -> None:
    """Crawl start URLs (or the sites in verdicts.toml) into the archive.

    Follows links and sitemaps on the start URLs' hosts, honours robots.txt,
    re-fetches conditionally, parses every page and stores comparisons. Resumes an
    interrupted crawl of the same start URLs. Exits non-zero when the crawl could not
    run or its parse quality degraded.
    """
    from crawler.stopping import catch_stop_signals, ignore_stop_signals

    stop = catch_stop_signals()  # first: a signal at any moment stops the crawl cleanly (exit 130)
    try:
        from crawler.config import load_settings
        from crawler.engine import run_crawl

        settings = load_settings(config_path, urls=urls, db_path=_given(db_path), **flags)
        code = run_crawl(settings, stop)
    finally:
        ignore_stop_signals()  # the outcome is recorded: a late signal must not make it -15
    sys.exit(code)


@cli.command()
@db_option
@config_option
@crawl_options
@click.option("--run-now", is_flag=True, help="Also crawl once at start.")
def schedule(db_path: Path, config_path: Path | None, run_now: bool, **flags: Any) -> None:
    """Run crawls on a schedule (cron from verdicts.toml; default 03:00 local time)."""
    from crawler.config import load_settings
    from crawler.schedule import run_schedule

    settings = load_settings(config_path, urls=(), db_path=_given(db_path), **flags)
    sys.exit(run_schedule(settings, run_now=run_now))


@cli.command()
@existing_db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=int, default=8001, show_default=True, help="Port to listen on.")
@click.option("--immutable", is_flag=True, help="Serve a published copy read-only as immutable.")
@click.option(
    "--max-downloads",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Whole-table CSV downloads at once; more get 503 and a Retry-After.",
)
@click.option(
    "--stall-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds a download may wait on a client that accepts nothing before it is dropped.",
)
@lock_timeout_option()
def serve(
    db_path: Path,
    host: str,
    port: int,
    immutable: bool,
    max_downloads: int,
    stall_timeout: float,
    lock_timeout: float,
) -> None:
    """Publish the archive with Datasette (read-only, with the project's metadata).

    An archive made by an older version is upgraded first, under the archive lock.
    """
    from db.publish import serve as serve_archive
    from db.publish_stream import Downloads

    downloads = Downloads(max_streams=max_downloads, stall_seconds=stall_timeout)
    serve_archive(
        db_path, host=host, port=port, immutable=immutable, downloads=downloads, lock_timeout=lock_timeout
    )


@cli.command()
@click.argument("name", required=False)
@existing_db_option
@click.option("--sql", help="Export the rows of this read-only query instead of a table.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "jsonl"]),
    default="csv",
    show_default=True,
    help="csv (with a header row), json (one array) or jsonl (one object per line).",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout."
)
def export(name: str | None, db_path: Path, sql: str | None, fmt: str, output: Path | None) -> None:
    """Stream a table, view or query out as CSV, JSON or JSON lines (constant memory)."""
    from db.export import export_rows

    if not name and not sql:
        raise click.UsageError("Give a table or view NAME, or --sql QUERY.")
    export_rows(db_path, name=name, sql=sql, fmt=fmt, output=output)


@cli.command()
@existing_db_option
@click.option(
    "--quick", is_flag=True, help="quick_check only: every page read, indexes not compared (~7x faster)."
)
def check(db_path: Path, quick: bool) -> None:
    """Check that the archive is intact: every page (PRAGMA integrity_check) and every
    reference between rows (foreign_key_check). Reads only; a crawl may run meanwhile.

    Exits 1, naming the file, when anything is damaged. Takes about a minute and a half per
    GB on a loaded 2-core machine (--quick: a few seconds).
    """
    from db.integrity import check_integrity

    result = check_integrity(db_path, quick=quick)
    what = "quick_check" if quick else "integrity_check and foreign_key_check"
    if result.intact:
        click.echo(f"{db_path}: intact ({what} found nothing).")
        return
    for problem in [*result.problems, *result.foreign_keys][:20]:
        click.echo(f"  {problem}", err=True)
    found = []
    if result.problems:
        found.append(f"{len(result.problems)} damaged page or index entries")
    if result.foreign_keys:
        found.append(f"{len(result.foreign_keys)} rows referring to missing rows")
    raise click.ClickException(
        f"{db_path} is damaged ({' and '.join(found)}): restore it from a copy, "
        f"or salvage its rows with `sqlite3 {db_path} .recover`."
    )


@cli.command()
@click.argument("url")
@existing_db_option
@click.option("--at", "at", help="ISO time: the snapshot in force then (default: newest).")
def snapshot(url: str, db_path: Path, at: str | None) -> None:
    """Write an archived page body to stdout, byte for byte as it was served."""
    from db.snapshots import SnapshotNotFound, read_snapshot

    try:
        body = read_snapshot(db_path, url, at=at)
    except SnapshotNotFound as error:
        raise click.ClickException(str(error)) from error
    sys.stdout.buffer.write(body)
    sys.stdout.buffer.flush()


@cli.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print the parse result as JSON.")
def parse(source: str, as_json: bool) -> None:
    """Show what the parser sees in one page (a file path or an http(s) URL)."""
    from crawler.sources import read_source
    from parsers import format_parse_result, parse_page

    try:
        html = read_source(source)
    except OSError as error:
        raise click.ClickException(f"Could not read {source}: {error}") from error
    result = parse_page(html, url=source)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_parse_result(result))


@cli.command()
@existing_db_option
@click.option(
    "--force",
    is_flag=True,
    help=(
        "Read every snapshot again, also those this parser code already read, rebuild each page's "
        "rows and write what differs from the archive (repairs damaged rows)."
    ),
)
@click.option("--workers", type=int, default=None, help="Parser processes [all cores].")
@lock_timeout_option()
def reparse(db_path: Path, force: bool, workers: int | None, lock_timeout: float) -> None:
    """Re-parse every archived snapshot with the current parser, without fetching.

    Snapshots the current parser code already read (a crawl or an earlier reparse) are
    skipped; a parser change makes it read them all. Holds the archive lock: it waits for
    (or refuses, with --lock-timeout 0) a crawl.
    """
    from db.reparse import run_reparse

    sys.exit(run_reparse(db_path, force=force, workers=workers, lock_timeout=lock_timeout))


@cli.group()
def warc() -> None:
    """Web archives (WARC): export the archive's captures, import others' captures."""


@warc.command("export")
@existing_db_option
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The WARC file to write (gzip per record when it ends in .gz); its CDXJ index goes beside it.",
)
@click.option("--site", help="Only captures of this host (or crawls.site key).")
@click.option("--since", help="Only captures fetched at or after this ISO time.")
def warc_export(db_path: Path, output: Path, site: str | None, since: str | None) -> None:
    """Write every capture as WARC 1.1 records (response / revisit + request), streamed."""
    from crawler.warc_cli import run_export

    run_export(db_path, output, site=site, since=since)


@warc.command("import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@db_option
@lock_timeout_option()
def warc_import(files: tuple[Path, ...], db_path: Path, lock_timeout: float) -> None:
    """Import every HTML capture of WARC / ARC files as snapshots at their capture dates."""
    from crawler.warc_cli import run_import

    sys.exit(run_import(db_path, files, lock_timeout=lock_timeout))


if __name__ == "__main__":  # pragma: no cover
    cli()


@cli.command()
@click.argument("url")
@existing_db_option
@click.option(
    "--from",
    "start",
    help="ISO time: compare from the snapshot in force then (default: the one before --to).",
)
@click.option("--to", "end", help="ISO time: compare to the snapshot in force then (default: newest).")
def diff(url: str, db_path: Path, start: str | None, end: str | None) -> None:
    """Show what changed on an archived page between two snapshots: fields and words.

    By default the last two snapshots; fields as old -> new (prices, scores, quotes),
    then a word-level diff of the visible text, in colour on a terminal.
    """
    from crawler.diff_view import show_diff

    show_diff(db_path, url, start, end)


@cli.command()
@config_option
@click.option("--test", "test", is_flag=True, help="Send a sample message to every [[notify]] target.")
def notify(config_path: Path | None, test: bool) -> None:
    """Check the [[notify]] targets of verdicts.toml: with --test, send each a sample message.

    After every crawl each target gets one message with the crawl's changes that match
    its filters (nothing when none matched); this sends a made-up sample instead.
    """
    from crawler.config import load_settings
    from crawler.notify import compose, deliver, sample_changes

    settings = load_settings(config_path)
    if not settings.notify:
        raise click.ClickException("No [[notify]] block in the settings file: add one with urls = [...].")
    if not test:
        for target in settings.notify:
            click.echo(f"{target.label()}: on {', '.join(sorted(target.on or ())) or 'every kind'}")
        return
    title, body = compose("test", 0, sample_changes(), settings.public_url)
    failed = 0
    for target in settings.notify:
        attempts, error = deliver(target, "[test] " + title, body)
        failed += error is not None
        click.echo(
            f"{target.label()}: " + (f"FAILED after {attempts} attempts: {error}" if error else "sent")
        )
    if failed:
        raise click.ClickException(f"{failed} of {len(settings.notify)} target(s) could not be reached.")
