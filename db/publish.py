"""Publishing the archive with Datasette: read-only, described, searchable, downloadable.

Analysts browse the archive in Datasette and researchers download it as CSV, so the
configuration lives here as data (`db/metadata.yml`, `SETTINGS`) and this module only
wires it to whatever file the archive is: the database is always served as `/archive`
(stable URLs, whatever the file is called), the search boxes appear only for the
full-text indexes the file actually has, and nothing a visitor does can write.

Read-only is enforced in layers: Datasette 0.65 runs only SELECT from visitors and reads
the file through `?mode=ro` connections; `ReadOnlyDatabase` refuses every write a
plugin might attempt; plugins outside `ALLOWED_PLUGINS` are disabled; and
`ReadOnlyGuard` answers 405 to any request method but GET, HEAD and OPTIONS (which
also spares visitors Datasette 0.65's error 500 on a POST to a canned query).
"""

from __future__ import annotations

import copy
import logging
import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from datasette import hookimpl
from datasette.app import Datasette
from datasette.database import Database as DatasetteDatabase
from datasette.plugins import DEFAULT_PLUGINS, pm
from datasette.utils.asgi import Forbidden, Response

from db.archive import connect_read_only, open_archive
from db.feeds import ATOM_FEEDS
from db.history_plugin import HISTORY_PAGES
from db.publish_access import PUBLIC_TABLES_ONLY, authorizer, readable_relations
from db.publish_links import ID_LINKS
from db.publish_markdown import MARKDOWN_TEMPLATES
from db.publish_paging import QUERY_PAGING, paged_stream_request, stream_parameters
from db.publish_stream import Downloads, send_query, send_whole_relation, whole_relation_request
from db.views import COUNT_AS

log = logging.getLogger(__name__)

#: The name (and URL path) the archive is served under, whatever its file is called.
DATABASE_NAME = "archive"

HERE = Path(__file__).resolve().parent
METADATA_PATH = HERE / "metadata.yml"
TEMPLATES_DIR = HERE / "templates"

#: Datasette settings for the published archive (https://docs.datasette.io/en/0.65/settings.html).
SETTINGS: dict[str, Any] = {
    # Canned queries aggregate over every verdict; 1 s (the default) is too tight for a
    # million-verdict archive, 4 s still stops a runaway query.
    "sql_time_limit_ms": 4000,
    # Rows per JSON/CSV response of a query (tables and views stream past it with _stream=on).
    "max_returned_rows": 1000,
    # Streamed CSV is never cut short: researchers get every row (default would stop at 100 MB).
    "max_csv_mb": 0,
    "allow_csv_stream": True,
    # The whole SQLite file holds every raw page body; researchers take CSV, not gigabytes.
    "allow_download": False,
    # Facets on tool and category count over every verdict; give them time, but bounded.
    "facet_time_limit_ms": 800,
    "default_facet_size": 20,
    # The useful facets are configured per table; suggestions cost a query per column.
    "suggest_facets": False,
}

#: Third-party plugins the published archive may load; anything else is disabled.
#: datasette-dashboards draws the charts; it loads datasette-leaflet, its own dependency.
ALLOWED_PLUGINS: frozenset[str] = frozenset({"datasette_dashboards", "datasette_leaflet"})


#: Installed plugins whose work one of ours does (quietly unregistered): db/feeds.py renders
#: `.atom` with datasette-atom's renderer, plus a valid empty feed where it answers 500;
#: db/publish_markdown.py offers datasette-render-markdown's template helpers without its
#: costly hook on every cell.
REPLACED_PLUGINS: frozenset[str] = frozenset({"datasette_atom", "datasette_render_markdown"})


#: Request methods a visitor may use; anything else could only be an attempt to change data.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ArchiveNotFound(Exception):
    """The path given to serve is not an existing file."""


#: Datasette 0.65's row count of a whole table or view page: `select count(*) from NAME `.
_WHOLE_COUNT = re.compile(r"select count\(\*\) from \[?(\w+)\]?\s*")


def whole_count(sql: str) -> str:
    """`sql`, or for the whole count of a view in `COUNT_AS`, the same count from its table."""
    match = _WHOLE_COUNT.fullmatch(sql)
    if match and match[1] in COUNT_AS:
        return f"select count(*) from [{COUNT_AS[match[1]]}]"
    return sql


class ReadOnlyDatabase(DatasetteDatabase):
    """A Datasette database that refuses every write, whoever asks (a plugin, a hook)."""

    async def execute_write_fn(self, fn: Any, block: bool = True) -> Any:
        raise Forbidden("The published archive is read-only.")

    async def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        # Page counts of one-row-per-row views are their table's (db.views.COUNT_AS).
        return await super().execute(whole_count(sql), *args, **kwargs)

    def __init__(self, ds: Datasette, *, readable: frozenset[str], **kwargs: Any) -> None:
        super().__init__(ds, **kwargs)
        self.readable = readable

    def connect(self, write: bool = False) -> sqlite3.Connection:
        # Datasette 0.65 builds `file:{path}?mode=ro` unquoted: a `#` or `?` in the file
        # name would open another file. Every connection it makes is read-only anyway, and
        # reads only what a visitor may (db.publish_access).
        conn = connect_read_only(self.path, immutable=not self.is_mutable, check_same_thread=False)
        conn.set_authorizer(authorizer(self.readable))
        self._all_file_connections.append(conn)
        return conn


class ArchiveDatasette(Datasette):
    """Datasette, with its answer to "which `allow` rules cover this table?" kept per table.

    Datasette 0.65.5 works that answer out on every check by deep-copying the whole
    metadata (descriptions, canned queries, dashboards): the database page checks each of
    ~50 tables and views, and spent most of its time copying. The metadata is fixed when
    the archive starts serving, so each table's answer is too.
    """

    def _table_permission_allows(self, database: str, table: str) -> Any:
        allows: dict[tuple[str, str], Any] = self.__dict__.setdefault("_archive_allows", {})
        if (database, table) not in allows:
            allows[database, table] = super()._table_permission_allows(database, table)
        return copy.deepcopy(allows[database, table])


class ReadOnlyGuard:
    """A Datasette plugin: 405 to every request that is not a read, and complete CSVs.

    A plain `/archive/NAME.csv?_stream=on` (a whole table or view, no filters) is
    streamed by `db.publish_stream` from one cursor, since Datasette 0.65 pages it
    under the SQL time limit and can stop short (see that module).
    """

    __name__ = "verdict_archive_read_only"

    @hookimpl
    def asgi_wrapper(self, datasette: Datasette) -> Any:
        def wrap(app: Any) -> Any:
            async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
                if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
                    response = Response.text(
                        "The published archive is read-only.",
                        status=405,
                        headers={"Allow": ", ".join(sorted(SAFE_METHODS))},
                    )
                    await response.asgi_send(send)
                    return
                if scope["type"] == "http" and await _streamed_query(datasette, scope, send):
                    return
                name = whole_relation_request(scope, DATABASE_NAME) if scope["type"] == "http" else None
                if name is not None and not PUBLIC_TABLES_ONLY.may_read(datasette, name):
                    name = None  # Datasette answers 403 (db.publish_access)
                if name is not None and DATABASE_NAME in datasette.databases:
                    database = datasette.get_database(DATABASE_NAME)
                    download = b"_dl=" in scope.get("query_string", b"")
                    immutable = not database.is_mutable
                    downloads = DOWNLOADS.setdefault(id(datasette), Downloads())
                    if await send_whole_relation(database.path, immutable, name, download, send, downloads):
                        return
                await app(scope, receive, send)

            return guarded

        return wrap


async def _streamed_query(datasette: Datasette, scope: dict[str, Any], send: Any) -> bool:
    """Stream the whole answer of a paged canned query (`NAME.csv?_stream=on`); False if
    `scope` asks for something else (db/publish_paging.py)."""
    if DATABASE_NAME not in datasette.databases:
        return False
    queries = QUERY_PAGING.paged_queries(datasette, DATABASE_NAME)
    name = paged_stream_request(scope, DATABASE_NAME, queries)
    if name is None:
        return False
    database = datasette.get_database(DATABASE_NAME)
    query_string = scope.get("query_string", b"").decode("latin-1")
    readable = PUBLIC_TABLES_ONLY.readable.get(id(datasette))
    await send_query(
        database.path,
        not database.is_mutable,
        queries[name],
        stream_parameters(query_string),
        name,
        "_dl=" in query_string,
        send,
        DOWNLOADS.setdefault(id(datasette), Downloads()),
        authorizer(readable) if readable is not None else None,
    )
    return True


READ_ONLY_GUARD = ReadOnlyGuard()
#: id(Datasette) -> the limits and counts of its streamed downloads (set by make_datasette).
DOWNLOADS: dict[int, Downloads] = {}
#: The project's own plugins, registered on every Datasette it makes.
OUR_PLUGINS = (
    READ_ONLY_GUARD,
    ID_LINKS,
    PUBLIC_TABLES_ONLY,
    HISTORY_PAGES,
    ATOM_FEEDS,
    MARKDOWN_TEMPLATES,
    QUERY_PAGING,
)


def load_metadata(path: Path = METADATA_PATH) -> dict[str, Any]:
    """The project's metadata file as a dict (YAML)."""
    with path.open(encoding="utf-8") as handle:
        metadata: dict[str, Any] = yaml.safe_load(handle)
    return metadata


def disable_unlisted_plugins(allowed: frozenset[str] = ALLOWED_PLUGINS) -> list[str]:
    """Unregister installed Datasette plugins that are not allowed; returns their names.

    Datasette 0.65 loads every installed plugin; a write plugin (datasette-write,
    datasette-insert, ...) installed in the same environment must not go live here.
    """
    disabled = []
    for plugin in list(pm.get_plugins()):
        name = getattr(plugin, "__name__", repr(plugin))
        if name in DEFAULT_PLUGINS or name in allowed or plugin in OUR_PLUGINS:
            continue
        pm.unregister(plugin)
        if name not in REPLACED_PLUGINS:
            disabled.append(name)
    if disabled:
        log.warning("Datasette plugins disabled for the published archive: %s", disabled)
    return disabled


def archive_relations(db_path: Path) -> dict[str, set[str]]:
    """{"table": names, "view": names} of the archive (read without changing it)."""
    conn = connect_read_only(db_path)
    try:
        rows = conn.execute("select type, name from sqlite_master where type in ('table', 'view')")
        relations: dict[str, set[str]] = {"table": set(), "view": set()}
        for kind, name in rows:
            relations[kind].add(name)
        return relations
    finally:
        conn.close()


def metadata_for(
    existing: set[str], base: Mapping[str, Any] | None = None, name: str = DATABASE_NAME
) -> dict[str, Any]:
    """The metadata to serve for an archive holding the tables and views `existing`.

    Keys the database under `name`, points the dashboards at it, and keeps a search
    box (`fts_table`) only where that full-text index exists, so an archive made
    before the indexes were added still serves every page without errors.
    """
    metadata = copy.deepcopy(dict(base if base is not None else load_metadata()))
    databases = metadata.get("databases", {})
    (database,) = databases.values()
    metadata["databases"] = {name: database}
    for table in database.get("tables", {}).values():
        if "fts_table" in table and table["fts_table"] not in existing:
            del table["fts_table"]
            table.pop("fts_pk", None)
    dashboards = metadata.get("plugins", {}).get("datasette-dashboards", {})
    for dashboard in dashboards.values():
        for chart in dashboard.get("charts", {}).values():
            if "db" in chart:
                chart["db"] = name
        for dashboard_filter in dashboard.get("filters", {}).values():
            if "db" in dashboard_filter:
                dashboard_filter["db"] = name
    return metadata


def make_datasette(
    db_path: str | Path,
    immutable: bool = False,
    settings: Mapping[str, Any] | None = None,
    downloads: Downloads | None = None,
    lock_timeout: float | None = None,
) -> Datasette:
    """A configured Datasette serving `db_path` as `/archive` (read-only).

    A mutable archive is first brought up to the current schema (the same upgrade
    every entry point runs), then served through read-only connections, so it keeps
    serving while a crawl writes to it (WAL). `immutable=True` is for a published
    copy nobody writes to: opened as immutable, never upgraded. `settings` override
    `SETTINGS` (tests use a small max_returned_rows). `downloads` bounds streamed CSV
    downloads (`db.publish_stream.Downloads`: concurrent streams, stall timeout).
    """
    path = Path(db_path)
    if not path.is_file():
        raise ArchiveNotFound(f"No archive at {path}: run `verdicts crawl` or give --db PATH.")
    if not immutable:
        archive = open_archive(path, lock_timeout=lock_timeout)  # an upgrade waits for the lock
        try:
            _refresh_summaries(path, archive)
        finally:
            archive.close()
    disable_unlisted_plugins()
    for plugin in OUR_PLUGINS:
        if not pm.is_registered(plugin):
            pm.register(plugin, name=plugin.__name__)
    relations = archive_relations(path)
    metadata = metadata_for(relations["table"] | relations["view"])
    readable = readable_relations(metadata, relations["view"])
    ds = ArchiveDatasette(
        memory=False,
        metadata=metadata,
        settings={**SETTINGS, **(settings or {})},
        template_dir=str(TEMPLATES_DIR) if TEMPLATES_DIR.is_dir() else None,
    )
    # With no files Datasette adds an in-memory database; the archive is the only one.
    ds.remove_database("_memory")
    ds.add_database(
        ReadOnlyDatabase(ds, path=str(path.resolve()), is_mutable=not immutable, readable=readable),
        name=DATABASE_NAME,
    )
    PUBLIC_TABLES_ONLY.allow(ds, readable)
    DOWNLOADS[id(ds)] = downloads or Downloads()
    return ds


def _refresh_summaries(path: Path, archive: Any) -> None:
    """Summarise rows written since the last crawl's end (by hand, a merge, an old release),
    unless a crawl holds the archive: its end refreshes them (db/summaries.py)."""
    from db.lock import ArchiveLocked, archive_lock
    from db.summaries import is_dirty, refresh

    if not is_dirty(archive.conn):
        return
    try:
        with archive_lock(path, timeout=0, purpose="summary refresh", reentrant=True):
            refresh(archive.conn)
    except ArchiveLocked:
        log.info("a crawl holds the archive; its end refreshes the summaries")


def serve(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    immutable: bool = False,
    downloads: Downloads | None = None,
    lock_timeout: float | None = None,
) -> None:
    """Serve the archive with Datasette until interrupted (what `verdicts serve` runs)."""
    import uvicorn

    ds = make_datasette(db_path, immutable=immutable, downloads=downloads, lock_timeout=lock_timeout)
    # Datasette's app runs its startup hooks on the first request (AsgiRunOnFirstRequest).
    uvicorn.run(ds.app(), host=host, port=port, log_level="info", lifespan="on", workers=1)
