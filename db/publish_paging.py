"""Canned queries that answer a page at a time, with every row still one click away.

Datasette 0.65 pages tables and views but shows a canned query's whole answer (up to
`max_returned_rows`) on one page: at 100,000 pages the change log's queries render 1,000-2,000
rows, and rendering them costs ten times a table page. So a query whose SQL ends in

    limit coalesce(cast(nullif(:_page_size, '') as integer), -1)
    offset coalesce(cast(nullif(:_page_offset, '') as integer), 0)

is paged: `:_page_size` and `:_page_offset` are magic parameters (not in the query's form),
read from the request's `_size` (rows, or `max`; `PAGE_SIZE` by default) and `_next` (the
first row, as a view's `_next` is) for HTML and JSON. The query page gets "next" and
"previous" links (db/templates/query-archive.html). A CSV is always the whole answer: its
"CSV" link asks for `?_stream=on`, which `send_query` streams from one cursor past
`max_returned_rows` (db/publish_stream.py); a plain `.csv` is the answer's first
`max_returned_rows`, as before. Blank page parameters (what the query-plan test and SQL
clients give) mean the whole answer, so the paged SQL and the unpaged SQL are the same text.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.app import Datasette

#: Rows a paged query shows per page (Datasette's page size for tables).
PAGE_SIZE = 100
#: Request keys that choose the page, not the answer.
PAGE_KEYS = frozenset({"_size", "_next"})
#: Request keys a streamed download of a query leaves out of its parameters.
STREAM_KEYS = frozenset({"_stream", "_dl", "_size", "_next"})
_PAGED = re.compile(r":_page_size\b")
_CSV_PATH = re.compile(r"^/(?P<database>[^/]+)/(?P<name>[A-Za-z0-9_]+)\.csv$")


def is_paged(sql: str) -> bool:
    """Whether a canned query's SQL takes the page parameters."""
    return bool(_PAGED.search(sql))


def _count(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def page_size(args: Mapping[str, str], fmt: str | None, max_rows: int) -> int:
    """Rows to answer: `_size` or PAGE_SIZE; -1 (all) for CSV, `max` or `max_rows` and more."""
    if fmt == "csv":
        return -1
    wanted = args.get("_size")
    size = _count(wanted)
    if wanted == "max" or (size and size >= max_rows):
        return -1  # all: Datasette stops at max_returned_rows and says the answer was cut
    return size or PAGE_SIZE


def page_offset(args: Mapping[str, str], fmt: str | None) -> int:
    """The first row to answer: `_next`, or 0 (always 0 for CSV: a CSV is the whole answer)."""
    return 0 if fmt == "csv" else (_count(args.get("_next")) or 0)


class BlankParameters(dict[str, Any]):
    """Query parameters where any the request does not give are blank (as in Datasette)."""

    def __missing__(self, key: str) -> str:
        return ""


def stream_parameters(query_string: str) -> BlankParameters:
    """Parameters of a streamed download of a paged query: the request's, whole answer."""
    params = BlankParameters(
        (key, value)
        for key, value in parse_qsl(query_string, keep_blank_values=True)
        if key not in STREAM_KEYS
    )
    params["_page_size"] = -1
    params["_page_offset"] = 0
    return params


def paged_stream_request(scope: Mapping[str, Any], database: str, queries: Mapping[str, str]) -> str | None:
    """The paged query's name if `scope` asks for its whole answer as streamed CSV."""
    match = _CSV_PATH.match(scope.get("path", ""))
    if not match or match["database"] != database or match["name"] not in queries:
        return None
    args = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    return match["name"] if args.get("_stream") else None


def with_args(path: str, args: list[tuple[str, str]], **changes: str | None) -> str:
    """`path` with query-string `args`, where `changes` set (a value) or drop (None) keys."""
    kept = [(key, value) for key, value in args if key not in changes]
    kept += [(key, value) for key, value in changes.items() if value is not None]
    return path + ("?" + urlencode(kept) if kept else "")


class QueryPaging:
    """A Datasette plugin (registered by `db.publish.make_datasette`)."""

    __name__ = "verdict_archive_query_paging"

    def __init__(self) -> None:
        self._queries: weakref.WeakKeyDictionary[Datasette, dict[str, str]] = weakref.WeakKeyDictionary()

    def paged_queries(self, datasette: Datasette, database: str) -> dict[str, str]:
        """{name: SQL} of the paged canned queries of `database` (read once per Datasette)."""
        cached = self._queries.get(datasette)
        if cached is None:
            queries = (datasette.metadata(database=database) or {}).get("queries", {})
            cached = {
                name: q["sql"] for name, q in queries.items() if isinstance(q, dict) and is_paged(q["sql"])
            }
            self._queries[datasette] = cached
        return cached

    @hookimpl
    def register_magic_parameters(self, datasette: Datasette) -> list[tuple[str, Any]]:
        max_rows = int(datasette.setting("max_returned_rows"))

        def page(key: str, request: Any) -> int:
            fmt = request.url_vars.get("format")
            if key == "size":
                return page_size(request.args, fmt, max_rows)
            if key == "offset":
                return page_offset(request.args, fmt)
            raise KeyError(key)

        return [("page", page)]

    @hookimpl
    def extra_template_vars(self, database: str | None, request: Any, datasette: Datasette) -> dict[str, Any]:
        if request is None or database is None:
            return {}
        name = request.url_vars.get("table")
        if name not in self.paged_queries(datasette, database):
            return {}
        max_rows = int(datasette.setting("max_returned_rows"))
        size = page_size(request.args, None, max_rows)
        size = max_rows if size < 0 else size
        offset = page_offset(request.args, None)
        args = parse_qsl(request.query_string, keep_blank_values=True)
        path = datasette.urls.query(database, name)
        previous = max(0, offset - size)
        return {
            "paging": {
                "size": size,
                "offset": offset,
                "next_url": with_args(path, args, _next=str(offset + size)),
                "previous_url": with_args(path, args, _next=str(previous) if previous else None)
                if offset
                else None,
            },
            # The "CSV" link downloads the whole answer, whichever page this is.
            "url_csv": with_args(
                f"{path}.csv",
                [(k, v) for k, v in args if k not in STREAM_KEYS],
                _stream="on",
            ),
        }


QUERY_PAGING = QueryPaging()
