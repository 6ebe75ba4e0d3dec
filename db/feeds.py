"""Atom feeds of the change log (datasette-atom 0.9's renderer, made safe for an empty feed).

A canned query whose columns include `atom_id`, `atom_title` and `atom_updated` can be
read as `/archive/QUERY.atom` (db/metadata.yml: `changes_feed`, with `?tool=` for one
tool, and `price_moves_feed`, with `?pct=`). datasette-atom 0.9 answers 500 when the
query returns no rows (it takes the max of no timestamps), and a feed with nothing in it
yet must still be a valid feed: so this plugin registers the `.atom` renderer itself,
hands every non-empty result to datasette-atom and writes the empty feed with feedgen
(the library datasette-atom builds on). Times in the archive carry `+00:00`, which
feed readers need. An entry's text (`atom_content`, quotes as published, markup and all)
goes out as escaped HTML, one paragraph a line, with a link to the diff page; the link
(`atom_link`, a path) is made absolute under Datasette's base_url.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response


def render_atom(
    datasette: Any, request: Any, sql: str, columns: list[str], rows: list[Any], database: str,
    table: str | None, query_name: str | None, view_name: str, data: dict[str, Any],
) -> Response:  # fmt: skip
    import datasette_atom

    if rows or not datasette_atom.REQUIRED_COLUMNS.issubset(columns):
        if "atom_content" in columns or "atom_link" in columns:
            columns, rows = _as_html(datasette, request, columns, rows)
        return datasette_atom.render_atom(
            datasette, request, sql, columns, rows, database, table, query_name, view_name, data
        )
    from feedgen.feed import FeedGenerator

    feed = FeedGenerator()
    feed.id(request.url)
    feed.link(href=request.url, rel="self")
    title = sql
    if query_name:
        title = (
            (datasette.metadata(database=database) or {})
            .get("queries", {})
            .get(query_name, {})
            .get("title", query_name)
        )
    feed.title(title)
    feed.updated(datetime.now(UTC))
    return Response(feed.atom_str(pretty=True), content_type="application/xml; charset=utf-8", status=200)


def _as_html(
    datasette: Any, request: Any, columns: list[str], rows: list[Any]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The rows with `atom_content_html` (escaped text, one paragraph a line, and a link to
    `atom_link`) in place of `atom_content`, and `atom_link` absolute under base_url."""
    out = []
    for row in rows:
        item = dict(zip(columns, row, strict=True))
        link = item.get("atom_link")
        if link:
            item["atom_link"] = link = datasette.absolute_url(request, datasette.urls.path(link))
        text = item.pop("atom_content", None) or ""
        paragraphs = [f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line.strip()]
        if link:
            paragraphs.append(f'<p><a href="{html.escape(link)}">What changed on the page</a></p>')
        item["atom_content_html"] = "\n".join(paragraphs)
        out.append(item)
    names = [c for c in columns if c != "atom_content"]
    return [*names, "atom_content_html"] if "atom_content_html" not in names else names, out


class AtomFeeds:
    """A Datasette plugin (registered by `db.publish.make_datasette`)."""

    __name__ = "verdict_archive_atom"

    @hookimpl
    def register_output_renderer(self) -> dict[str, Any]:
        import datasette_atom

        return {"extension": "atom", "render": render_atom, "can_render": datasette_atom.can_render_atom}


ATOM_FEEDS = AtomFeeds()
