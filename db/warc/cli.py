"""The `verdicts warc` commands' work: progress on stderr, a summary, clear errors."""

from __future__ import annotations

from pathlib import Path

import click


def run_export(db_path: Path, output: Path, *, site: str | None, since: str | None) -> None:
    """Export with a progress bar and a one-line summary."""
    from rich.progress import Progress

    from db.archive import open_current
    from db.snapshots import SnapshotNotFound, normalise_time
    from db.warc.export import count_captures, export_warc

    if since:
        try:
            normalise_time(since)
        except SnapshotNotFound as error:
            raise click.ClickException(str(error).replace("--at", "--since")) from error
    if not output.parent.is_dir():
        raise click.ClickException(f"The folder of {output} does not exist.")
    open_current(db_path).close()  # an archive made before the fetch log gets its tables
    total = count_captures(db_path)
    with Progress(transient=True, console=_stderr()) as progress:
        task = progress.add_task("exporting", total=total)
        report = export_warc(
            db_path, output, site=site, since=since, progress=lambda n: progress.advance(task, n)
        )
    click.echo(
        f"{report.records} records written to {report.output} ({report.responses} responses, "
        f"{report.revisits} revisits, {report.synthesised} with synthesised heads); index {report.index}",
        err=True,
    )


def _stderr():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True)
