"""`verdicts diff`: a page's change between two snapshots, printed for a person.

The archive side (db/page_history.py) finds the snapshots and computes the field
changes and the word diff; this module only prints them: with rich's colours on a
terminal (removed words red and struck through, added words green), with plain
word-diff markers ([-removed-] {+added+}) when piped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

STYLES = {"removed": "red strike", "added": "green bold", "same": "", "gap": "dim"}


def show_diff(db_path: Path, url: str, start: str | None, end: str | None) -> None:
    """Print the diff of `url` between the snapshots in force at `start` and `end`."""
    from rich.console import Console
    from rich.text import Text

    from db.archive import connect_read_only
    from db.page_history import HistoryError, describe, diff_snapshots, pick_pair, snapshots_of
    from db.text_diff import changed, word_diff

    conn = connect_read_only(db_path)
    try:
        snapshots = snapshots_of(conn, url)
        try:
            old, new = pick_pair(snapshots, url, start, end)
        except HistoryError as error:
            raise click.ClickException(str(error)) from error
        result = diff_snapshots(conn, snapshots[old], snapshots[new])
    finally:
        conn.close()
    console = Console(highlight=False, soft_wrap=True)
    echo = console.print
    echo(Text(f"{result.title or url}", style="bold"))
    echo(f"{result.url}")
    for label, snap in (("from", result.old), ("to", result.new)):
        where = f"(crawl {snap.crawl_id}, HTTP {snap.http_status})"
        echo(f"  {label:<4} snapshot {snap.id}  {snap.fetched_at}  {where}")
    echo(Text("\nFields", style="bold"))
    if not result.fields_compared:
        echo("  not compared: a copy did not parse complete (see `verdicts parse`)")
    elif not result.changes:
        echo("  no field changed")
    for change in result.changes:
        what, tool, text = describe(change, result.tool_names)
        if change.kind == "verdict_edited":  # the quote's own word diff, not both texts
            quote = word_diff([change.old or ""], [change.new or ""], context=6)
            echo(Text(f"  {what:<20} {tool:<18} ").append_text(render(quote, console.is_terminal)))
            continue
        echo(f"  {what:<20} {tool:<18} {text}".rstrip())
    echo(Text("\nText", style="bold"))
    if not changed(result.text):
        echo("  the visible text is the same")
        return
    echo(render(result.text, console.is_terminal))


def render(pieces: list[Any], colour: bool) -> Any:
    """Word-diff pieces as rich Text: coloured, or with plain [-removed-] {+added+} markers."""
    from rich.text import Text

    from db.text_diff import plain

    if not colour:
        return Text(plain(pieces))
    line = Text()
    for piece in pieces:
        if line:
            line.append(" ")
        line.append(piece.text, style=STYLES[piece.op])
    return line
