"""Links from id columns of views and canned queries to the rows they name.

Datasette 0.65 links foreign keys only on table pages; a view or a canned query shows
`tool_id` or `verdict_id` as bare text, and an analyst has to copy it into a table's
filter to see the tool or the quote. This plugin renders those ids as links to their
rows, by column name (the archive names id columns consistently), on view and query
pages only: table pages keep Datasette's own foreign-key links.
"""

from __future__ import annotations

import re
import weakref
from typing import Any

import markupsafe
from datasette import hookimpl
from datasette.app import Datasette
from datasette.utils import tilde_encode

from db.views import VIEWS

#: Column name -> the table whose primary key it holds.
ID_COLUMNS: dict[str, str] = {
    "tool_id": "tools",
    "tool1_id": "tools",
    "tool2_id": "tools",
    "rival_id": "tools",
    "verdict_id": "verdicts",
    "near_duplicate_of": "verdicts",
    "comparison_id": "comparisons",
    "snapshot_id": "snapshots",
    "page_id": "pages",
    "crawl_id": "crawls",
}


#: What Datasette's tilde encoding leaves unchanged (and HTML needs no escaping of).
_KEPT_BY_TILDE_ENCODING = re.compile(r"[A-Za-z0-9_-]+")


def link_target(column: str, table: str | None, value: Any) -> str | None:
    """The table a cell's value should link into, or None to leave the cell to Datasette."""
    if table is not None and table not in VIEWS:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return None
    return ID_COLUMNS.get(column)


class IdLinks:
    """A Datasette plugin (registered by `db.publish.make_datasette`)."""

    __name__ = "verdict_archive_id_links"

    def __init__(self) -> None:
        # Datasette -> {(database, table): the table's URL}: built once, not once a cell (a
        # 1,000-row query page has thousands of id cells).
        self._tables: weakref.WeakKeyDictionary[Datasette, dict[tuple[str, str], str]] = (
            weakref.WeakKeyDictionary()
        )

    @hookimpl
    def render_cell(
        self, row: Any, value: Any, column: str, table: str | None, database: str, datasette: Datasette
    ) -> markupsafe.Markup | None:
        target = link_target(column, table, value)
        if target is None:
            return None
        tables = self._tables.setdefault(datasette, {})
        base = tables.get((database, target))
        if base is None:
            base = tables[database, target] = str(markupsafe.escape(datasette.urls.table(database, target)))
        text = str(value)
        # Ids are hex digits or numbers (what tilde encoding keeps as is); escaped parts
        # joined by hand, since Markup.format costs several times as much per cell.
        key = text if _KEPT_BY_TILDE_ENCODING.fullmatch(text) else markupsafe.escape(tilde_encode(text))
        return markupsafe.Markup(f'<a href="{base}/{key}">{markupsafe.escape(text)}</a>')


ID_LINKS = IdLinks()
