"""The `verdicts warc` commands' work: progress bars on stderr, summaries, clear errors.

Also where a capture read from a WARC meets the crawler's own reading of a page: its
encoding detection (crawler/encoding.py), URL canonicalisation (crawler/urls.py) and
the parsers, handed to the importer (db/warc/importer.py) so db/ stays below crawler/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def parse_capture(body: bytes, content_type: str | None, url: str) -> tuple[Any, str | None]:
    """(ParseResult, encoding) of a captured page, read as the crawl's writer reads
    a fetched one."""
    from crawler.encoding import decode_html
    from parsers import parse_page

    text, encoding = decode_html(body, content_type)
    try:
        return parse_page(text, url=url), encoding
    except Exception as error:  # a parser bug must not stop the import; the snapshot says it
        from parsers.registry import NO_LAYOUT, REGISTRY_VERSION, error_result

        return error_result(NO_LAYOUT, REGISTRY_VERSION, "the import", error), encoding


def canonical_url(url: str) -> str:
    """The crawler's canonical form of a captured URL (as is when it has none)."""
    from crawler.urls import try_canonicalize

    return try_canonicalize(url) or url


def _stderr() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def run_export(db_path: Path, output: Path, *, site: str | None, since: str | None) -> None:
    """Export with a progress bar and a one-line summary."""
    from rich.progress import Progress

    from db.archive import ArchiveError, open_current
    from db.snapshots import SnapshotNotFound, normalise_time
    from db.warc.export import count_captures, export_warc

    if since:
        try:
            normalise_time(since)
        except SnapshotNotFound as error:
            raise click.ClickException(str(error).replace("--at", "--since")) from error
    if not output.parent.is_dir():
        raise click.ClickException(f"The folder of {output} does not exist.")
    try:
        open_current(db_path).close()  # an archive made before the fetch log gets its tables
        total = count_captures(db_path)
        with Progress(transient=True, console=_stderr()) as progress:
            task = progress.add_task("exporting", total=total)
            report = export_warc(
                db_path, output, site=site, since=since, progress=lambda n: progress.advance(task, n)
            )
    except ArchiveError as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"Could not write {output}: {error.strerror or error}.") from None
    click.echo(
        f"{report.records} records written to {report.output} ({report.responses} responses, "
        f"{report.revisits} revisits, {report.synthesised} with synthesised heads); index {report.index}",
        err=True,
    )


def run_import(db_path: Path, paths: tuple[Path, ...], lock_timeout: float = 60.0) -> int:
    """Import with a progress bar (records read) and a summary; the exit status."""
    from rich.progress import Progress

    from db.archive import ArchiveError
    from db.lock import ArchiveLock, ArchiveLocked
    from db.warc.importer import import_warcs

    lock = ArchiveLock(db_path, timeout=lock_timeout, purpose="warc import")
    try:
        lock.acquire()  # an import writes as a crawl does: one writer at a time
    except ArchiveLocked as error:
        raise click.ClickException(f"{error}; import when it has finished.") from None
    except OSError as error:
        raise click.ClickException(f"The archive {db_path} is not writable: {error.strerror}.") from None
    try:
        with Progress(transient=True, console=_stderr()) as progress:
            task = progress.add_task("reading records", total=None)
            report = import_warcs(
                db_path, paths, parse_capture, canonical_url, progress=lambda n: progress.advance(task, n)
            )
    except ArchiveError as error:
        raise click.ClickException(str(error)) from None
    finally:
        lock.release()
    click.echo(report.summary())
    if report.errors:
        click.echo(f"Error: {len(report.errors)} file(s) could not be read to the end (see above).", err=True)
        return 1
    return 0


__all__ = ["canonical_url", "parse_capture", "run_export", "run_import"]
