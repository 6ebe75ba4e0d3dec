"""History pages of the published archive: every snapshot of a comparison page, and a
rendered diff of any two with previous / next stepping (a small Datasette plugin).

`/-/history/COMPARISON_ID` lists the page's snapshots in order with the change log
rows of the page; `/-/history/COMPARISON_ID/OLD..NEW` shows what changed from snapshot
OLD to snapshot NEW: the fields (db/changes.py) and the visible text, word by word
(db/text_diff.py), removed words struck through and added words highlighted. A
comparison's row page links to its history (templates/row-archive-comparisons.html).

The bodies are private to visitors (db/publish_access.py), so the reads go through
`read_unrestricted` with fixed SQL and parameters. Everything is rendered by Datasette's
Jinja templates with autoescaping (a quote with markup shows as text), and the pages
need nothing but Datasette's own stylesheet: they work offline.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response

from db.page_history import HistoryError, Snapshot, describe, diff_snapshots, snapshots_by_id
from db.publish_access import read_unrestricted

_ID = re.compile(r"^[0-9a-f]{16}$")


def _page(conn: sqlite3.Connection, comparison: str) -> tuple[dict[str, Any], list[Snapshot], list[Any]]:
    row = conn.execute(
        "SELECT id, url, title, snapshot_id, gone_at FROM comparisons WHERE id = ?", [comparison]
    ).fetchone()
    if row is None:
        raise HistoryError(f"No comparison {comparison} in the archive.")
    info = dict(zip(("id", "url", "title", "snapshot_id", "gone_at"), row, strict=True))
    snapshots = snapshots_by_id(conn, row[3]) if row[3] is not None else []
    changes = conn.execute(
        "SELECT ch.observed_at, ch.kind, t.name, ch.field, ch.old, ch.new, ch.detail FROM changes ch "
        "LEFT JOIN tools t ON t.id = ch.tool_id WHERE ch.comparison_id = ? ORDER BY ch.observed_at, ch.rowid",
        [comparison],
    ).fetchall()
    return info, snapshots, changes


async def history(datasette: Any, request: Any) -> Response:
    """Every snapshot of a comparison page, and its change log."""
    comparison = request.url_vars["comparison"]
    if not _ID.match(comparison):
        return await _not_found(datasette, request, f"No comparison {comparison} in the archive.")
    try:
        info, snapshots, changes = await read_unrestricted(datasette, lambda conn: _page(conn, comparison))
    except HistoryError as error:
        return await _not_found(datasette, request, str(error))
    by_time = {s.fetched_at: s for s in snapshots}
    rows = []
    for index, snap in enumerate(snapshots):
        previous = snapshots[index - 1] if index else None
        rows.append({"snapshot": snap, "diff": _diff_url(comparison, previous, snap) if previous else None})
    log = []
    for observed, kind, tool, field, old, new, _ in changes:
        snap = by_time.get(observed)
        index = snapshots.index(snap) if snap is not None else -1
        link = _diff_url(comparison, snapshots[index - 1], snap) if snap is not None and index > 0 else None
        log.append(
            {"observed_at": observed, "kind": kind.replace("_", " "), "tool": tool, "field": field,
             "old": old, "new": new, "diff": link}
        )  # fmt: skip
    context = {"page": info, "rows": rows, "log": log, "latest": _latest_pair(comparison, snapshots)}
    return Response.html(await datasette.render_template("history.html", context, request=request))


async def diff(datasette: Any, request: Any) -> Response:
    """What changed on a comparison page from one snapshot to another."""
    comparison = request.url_vars["comparison"]
    old_id, new_id = int(request.url_vars["old"]), int(request.url_vars["new"])

    def read(conn: sqlite3.Connection) -> tuple[dict[str, Any], list[Snapshot], Any]:
        info, snapshots, _ = _page(conn, comparison)
        ids = [s.id for s in snapshots]
        if old_id not in ids or new_id not in ids or old_id == new_id:
            raise HistoryError(f"Snapshots {old_id} and {new_id} are not two copies of this page.")
        old, new = sorted(
            (snapshots[ids.index(old_id)], snapshots[ids.index(new_id)]), key=lambda s: ids.index(s.id)
        )
        return info, snapshots, diff_snapshots(conn, old, new, context=30)

    try:
        info, snapshots, result = await read_unrestricted(datasette, read)
    except HistoryError as error:
        return await _not_found(datasette, request, str(error))
    ids = [s.id for s in snapshots]
    first, last = ids.index(result.old.id), ids.index(result.new.id)
    previous = _diff_url(comparison, snapshots[first - 1], snapshots[first]) if first > 0 else None
    following = _diff_url(comparison, snapshots[last], snapshots[last + 1]) if last + 1 < len(ids) else None
    fields = []
    for change in result.changes:
        what, tool, text = describe(change, result.tool_names)
        edit = None
        if change.kind == "verdict_edited":
            from db.text_diff import word_diff

            edit = word_diff([change.old or ""], [change.new or ""], context=None)
        fields.append({"what": what, "tool": tool, "text": text, "edit": edit})
    context = {
        "page": info,
        "diff": result,
        "fields": fields,
        "previous": previous,
        "next": following,
        "history": f"/-/history/{comparison}",
        "snapshots": snapshots,
    }
    return Response.html(await datasette.render_template("diff.html", context, request=request))


async def _not_found(datasette: Any, request: Any, message: str) -> Response:
    context = {"error": message, "status": 404, "title": "Not found"}
    return Response.html(await datasette.render_template("error.html", context, request=request), status=404)


def _diff_url(comparison: str, old: Snapshot, new: Snapshot) -> str:
    return f"/-/history/{comparison}/{old.id}..{new.id}"


def _latest_pair(comparison: str, snapshots: list[Snapshot]) -> str | None:
    return _diff_url(comparison, snapshots[-2], snapshots[-1]) if len(snapshots) > 1 else None


class HistoryPages:
    """A Datasette plugin (registered by `db.publish.make_datasette`)."""

    __name__ = "verdict_archive_history"

    @hookimpl
    def register_routes(self) -> list[tuple[str, Any]]:
        return [
            (r"^/-/history/(?P<comparison>[^/]+)$", history),
            (r"^/-/history/(?P<comparison>[^/]+)/(?P<old>\d+)\.\.(?P<new>\d+)$", diff),
        ]


HISTORY_PAGES = HistoryPages()
