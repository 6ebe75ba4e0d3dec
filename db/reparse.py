"""`verdicts reparse`: re-parse every archived snapshot with the current parsers.

After a parser fix the archive heals itself without fetching anything: snapshots keep
the bytes as served, so every page can be read again. Parsing is the expensive part,
so it runs in worker processes (one per core by default) over groups of pages; the
main process is the single writer. A page every snapshot of which the current parser
code already read (`snapshots.parsed_with`, db/parse_record.py: a fingerprint of the
parser's code and the one input besides the bytes) is not read again: parsing is a pure
function of those, so its outcome is what is stored. A parser change changes the
fingerprint and every page is read again; `--force` reads them all anyway. A page read
again whose parse outcome is unchanged (same fingerprint of the whole ParseResult) costs
nothing more; for a changed page (or every page with --force) the snapshot's parse
columns are updated and the page's derived
rows (comparison, listings, appearances) are rebuilt from all its snapshots in order,
each with the window it was in force (fetched_at .. last_seen). Ids are content
hashes, so rows that did not change keep their ids; verdicts and tools no longer
yielded by any page are removed, and the near-duplicate pass runs on the new ones.

Derived rows are a function of the kept snapshots, so a reparse with a regressed
parser loses nothing for good: it exits 2 with a warning when fewer comparison pages
parse complete than before, and a reparse with the fixed parser restores them.
Exit codes: 0 done, 1 failed, 2 done but fewer complete comparisons.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from db import parse_record
from db.archive import connect_read_only, open_current, transaction
from db.identity import comparison_id
from db.lock import DEFAULT_TIMEOUT, archive_lock
from db.parse_record import PARSE_COLUMNS, decode_body, parse_columns, parse_fingerprint
from db.renders import PARSED_ENCODING, PARSED_SHA
from db.reparse_rows import DERIVED, change_parses, derive, drop_scratch, ingest_items, scratch
from db.snapshots import decompress, existing_keys

if TYPE_CHECKING:  # the parsers are imported by the processes that parse, when they do
    from parsers.model import ParseResult

#: Snapshots per task handed to a worker (whole pages are never split).
TASK_SNAPSHOTS = 200
PROGRESS_SECONDS = 1.0
#: Snapshots to read per worker process: fewer are read in this process (a worker's
#: start-up, imports included, costs as much as parsing a few hundred pages).
SMALL_RUN = 400

#: Each snapshot's parsed text: the HTML a browser rendered when there is one (db/renders.py).
_SNAPSHOTS = f"""
SELECT s.id, s.url, s.fetched_at, coalesce(s.last_seen, s.fetched_at), s.crawl_id,
       coalesce(s.last_crawl_id, s.crawl_id), {PARSED_ENCODING}, b.data, b.compression,
       {", ".join(f"s.{column}" for column in PARSE_COLUMNS)}
FROM snapshots s JOIN bodies b ON b.sha256 = {PARSED_SHA}
WHERE s.page_id = ? AND (s.parse_status IS NOT NULL OR s.content_type LIKE '%html%')
ORDER BY s.fetched_at, s.id
"""


@dataclass(frozen=True, slots=True)
class Reparsed:
    """One snapshot's new parse (sent from a worker to the writer)."""

    snapshot_id: int
    url: str
    fetched_at: str
    last_seen: str
    crawl_id: int | None
    last_crawl_id: int | None
    parse: ParseResult
    columns: dict[str, Any]
    #: Its parse outcome (`parse_hash`) differs from the stored one.
    changed: bool
    #: Its parse columns but `parsed_with` equal the stored ones.
    same_columns: bool


#: What a worker returns: (snapshots parsed, the snapshots of the pages to rebuild,
#: (parsed_with, id) of snapshots read again with an unchanged outcome).
Parsed = tuple[int, list[Reparsed], list[tuple[str, int]]]


def run_reparse(
    db_path: str | Path,
    force: bool = False,
    workers: int | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT,
) -> int:
    """Re-parse the archive at `db_path`; returns the process exit code.

    Holds the archive lock throughout (`db.lock`): a crawl committing while the derived
    rows are rebuilt would have its fresh rows judged stale. Raises ArchiveLocked when
    another command keeps the lock past `lock_timeout` seconds.
    """
    with archive_lock(db_path, timeout=lock_timeout, purpose="reparse"):
        return _reparse(db_path, force, workers)


def _reparse(db_path: str | Path, force: bool, workers: int | None) -> int:
    started = time.perf_counter()
    conn = open_current(db_path)  # plain sqlite3: sqlite-utils only for a schema upgrade
    done = changed_snapshots = rebuilt = 0
    last_report = time.perf_counter()
    try:
        total, page_count = conn.execute(f"SELECT count(*), count(DISTINCT page_id) {_PARSEABLE}").fetchone()
        complete_before = _complete_comparisons(conn)
        todo = _plan(conn, force)
        workers = max(1, min(workers or os.cpu_count() or 1, -(-todo // SMALL_RUN)))
        size = max(1, min(TASK_SNAPSHOTS, -(-todo // (workers * 4))))  # >= 4 tasks per worker
        tasks = ((str(db_path), group, force) for group in _groups(_pages(conn), size))
        columns: dict[str, list[str]] = {}
        for parsed_count, results, fresh in _map(tasks, workers):
            done += parsed_count
            if fresh:  # read again with the same outcome: only the note of who read it moves
                with transaction(conn):
                    conn.executemany("UPDATE snapshots SET parsed_with = ? WHERE id = ?", fresh)
            if results:
                changed_snapshots += sum(r.changed for r in results)
                columns = columns or scratch(conn)
                rebuilt += _rebuild(conn, results, columns)
            if time.perf_counter() - last_report >= PROGRESS_SECONDS:
                _progress(f"{done}/{todo} snapshots re-parsed, {rebuilt} pages rebuilt")
                last_report = time.perf_counter()
        drop_scratch(conn)
        _remove_orphans(conn)
        from db.near_duplicates import mark_near_duplicates  # not in the workers: rensa

        near = mark_near_duplicates(conn)
        from db.summaries import refresh

        refresh(conn)
        complete_after = _complete_comparisons(conn)
    except (sqlite3.Error, OSError, ValueError) as error:
        _progress(f"reparse of {db_path} failed: {error}")
        return 1
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    rate = done / seconds if seconds else 0.0
    skipped = f" ({total - done} already read by this parser code)" if total - done else ""
    _progress(
        f"Re-parsed {done} of {total} snapshots{skipped} of {page_count} pages with {workers} "
        f"worker(s) in {seconds:.1f} s ({rate:.0f}/s): {changed_snapshots} changed outcomes, "
        f"{rebuilt} pages rebuilt, {near.marked} near duplicates marked."
    )
    if complete_after < complete_before:
        _progress(
            f"Warning: {complete_before - complete_after} comparison page(s) no longer parse "
            f"complete ({complete_before} -> {complete_after}); the parser may have regressed. "
            "The snapshots are intact: fix the parser and run reparse again."
        )
        return 2
    return 0


def _complete_comparisons(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM comparisons WHERE complete = 1").fetchone()[0])


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


_PARSEABLE = "FROM snapshots WHERE parse_status IS NOT NULL OR content_type LIKE '%html%'"
#: Pages read at a time, in page id order (a keyset: memory flat whatever the archive's size).
PAGE_CHUNK = 1000
#: Tasks handed to the pool ahead of the results taken, per worker: the back-pressure that
#: keeps parsed pages from piling up while the single writer rebuilds.
TASKS_AHEAD = 2

#: The pages to read again: every one with --force, else those with a snapshot the current
#: parser code has not read with the `was_comparison` it would now be given (whether an
#: earlier snapshot of the page parsed as a comparison; db/parse_record.py).
_TODO = """
INSERT INTO temp.reparse_todo (page_id, snapshots)
SELECT page_id, count(*) FROM (
    SELECT page_id, parsed_with, CASE WHEN parse_status IN ('ok', 'incomplete') THEN '-'
        ELSE coalesce(max(parse_status IN ('ok', 'incomplete')) OVER (PARTITION BY page_id
            ORDER BY fetched_at, id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) END AS was
    FROM snapshots WHERE parse_status IS NOT NULL OR content_type LIKE '%html%'
)
GROUP BY page_id
HAVING :force OR max(parsed_with IS NULL OR parsed_with != :code || ' ' || was)
"""


def _plan(conn: sqlite3.Connection, force: bool) -> int:
    """Fill `temp.reparse_todo` with the pages to read; returns their snapshot count."""
    conn.execute("DROP TABLE IF EXISTS temp.reparse_todo")
    conn.execute("CREATE TEMP TABLE reparse_todo (page_id TEXT PRIMARY KEY, snapshots INTEGER NOT NULL)")
    conn.execute(_TODO, {"force": int(force), "code": parse_record.parser_fingerprint()})
    return int(conn.execute("SELECT coalesce(sum(snapshots), 0) FROM temp.reparse_todo").fetchone()[0])


def _pages(conn: sqlite3.Connection) -> Iterator[tuple[str, int]]:
    """(page id, parseable snapshots) of every page to read, a chunk at a time."""
    last = ""
    while True:
        rows = conn.execute(
            "SELECT page_id, snapshots FROM temp.reparse_todo WHERE page_id > ? ORDER BY page_id LIMIT ?",
            [last, PAGE_CHUNK],
        ).fetchall()
        yield from rows
        if len(rows) < PAGE_CHUNK:
            return
        last = rows[-1][0]


def _groups(pages: Iterable[tuple[str, int]], size_limit: int) -> Iterator[list[str]]:
    group: list[str] = []
    size = 0
    for page, count in pages:
        group.append(page)
        size += count
        if size >= size_limit:
            yield group
            group, size = [], 0
    if group:
        yield group


def _map(tasks: Iterable[tuple[str, list[str], bool]], workers: int) -> Iterator[Parsed]:
    """Results in task order; at most `TASKS_AHEAD` tasks per worker are handed out ahead of
    the results taken (`Pool.imap` would read every task and queue every result at once)."""
    if workers == 1:
        yield from map(parse_pages, tasks)
        return
    import multiprocessing  # only when there are pages to parse in worker processes

    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        pending: deque[Any] = deque()
        for task in tasks:
            pending.append(pool.apply_async(parse_pages, (task,)))
            if len(pending) >= TASKS_AHEAD * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


_CONNECTIONS: dict[str, tuple[sqlite3.Connection, dict[str, list[str]]]] = {}
#: The parse columns compared with the stored ones (`parsed_with` is a note written apart).
_COMPARED = [column for column in PARSE_COLUMNS if column != "parsed_with"]


def parse_pages(task: tuple[str, list[str], bool]) -> Parsed:
    """Worker: parse every snapshot of the given pages (see `Parsed`). The pages whose
    outcome changed go back whole, to be rebuilt; with --force, so do the pages whose
    rebuild would change something stored (db/reparse_rows.py builds and compares their
    rows here, so an intact page costs the writer nothing)."""
    from parsers import parse_page

    db_path, page_ids, force = task
    found = _CONNECTIONS.get(db_path)
    if found is None:
        conn = connect_read_only(db_path)
        conn.isolation_level = None  # autocommit: no read transaction is left open
        found = _CONNECTIONS[db_path] = (conn, {})
    conn, scratch_columns = found
    parsed = 0
    out: list[Reparsed] = []
    fresh: list[tuple[str, int]] = []
    checked: list[tuple[list[Reparsed], list[tuple[str, int]]]] = []
    for page in page_ids:
        read = []
        was_comparison = False  # an earlier snapshot of the page parsed as one: then unreadable
        for sid, url, fetched, last_seen, crawl, last_crawl, encoding, data, how, *stored in conn.execute(
            _SNAPSHOTS, [page]
        ):
            text = decode_body(decompress(data, how), encoding)
            parse = parse_page(text, url, was_comparison=was_comparison)
            was_comparison = was_comparison or parse.is_comparison
            old = dict(zip(PARSE_COLUMNS, stored, strict=True))
            # Without --force, the outcome's fingerprint first: the other columns only for a page to rebuild.
            columns = parse_columns(parse) if force else {}
            changed = (columns.get("parse_hash") or parse_fingerprint(parse)) != old["parse_hash"]
            same = bool(columns) and all(columns[c] == old[c] for c in _COMPARED)
            read.append(
                (
                    Reparsed(sid, url, fetched, last_seen, crawl, last_crawl, parse, columns, changed, same),
                    old,
                )
            )
            parsed += 1
        if any(r.changed for r, _ in read):
            results = [r if r.columns else _with_columns(r, old) for r, old in read]
        else:
            results = [r for r, _ in read]
        notes = [(note, r.snapshot_id) for r, old in read if (note := _note(r.parse)) != old["parsed_with"]]
        if any(r.changed for r in results):
            out.extend(results)
        elif force:
            checked.append((results, notes))
        else:
            fresh.extend(notes)
    if checked:
        from db.reparse_rows import differing_pages, scratch

        if not scratch_columns:
            scratch_columns.update(scratch(conn, merged=True))
        differ = differing_pages(conn, [results for results, _ in checked], scratch_columns)
        for index, (results, notes) in enumerate(checked):
            if index in differ:
                out.extend(results)
            else:
                fresh.extend(notes)
    return parsed, out, fresh


def _with_columns(result: Reparsed, old: dict[str, Any]) -> Reparsed:
    """`result` with its parse columns, and whether they equal the stored ones `old`."""
    columns = parse_columns(result.parse)
    same = all(columns[c] == old[c] for c in _COMPARED)
    return replace(result, columns=columns, same_columns=same)


def _note(parse: ParseResult) -> str | None:
    """`parse_columns(parse)["parsed_with"]` without the other columns (db/parse_record.py)."""
    if parse.was_comparison is None or parse.status == "error":
        return None
    return parse_record.parsed_with(parse.status, parse.was_comparison)


def _rebuild(conn: sqlite3.Connection, results: list[Reparsed], columns: dict[str, list[str]]) -> int:
    """Store new parse outcomes and rebuild the derived rows of their pages.

    The rows are rebuilt from an empty slate in the TEMP tables of `_scratch` (what
    deleting and re-ingesting them would leave), then only the rows that differ are
    written to the archive: a `--force` run whose outcomes did not change reads every
    page's rows but rewrites none of them.
    """
    from db.change_log import rebuild as rebuild_changes
    from db.embedded import EmbeddedRows

    ids = sorted({comparison_id(r.url) for r in results})
    cids = json.dumps(ids)
    with transaction(conn):
        conn.executemany(
            "UPDATE snapshots SET parse_status = :parse_status, parse_problems = :parse_problems, "
            "parser = :parser, parser_version = :parser_version, parse_missing = :parse_missing, "
            "parse_hash = :parse_hash, parsed_with = :parsed_with WHERE id = :id",
            [{**r.columns, "id": r.snapshot_id} for r in results],
        )
        embedded = EmbeddedRows()
        for r in results:
            embedded.add(r.snapshot_id, r.parse)
        embedded.write(conn, replace=True)
        items = ingest_items(results)
        derive(conn, items, cids)  # tools and verdicts into the archive, the rest into temp
        for table in ("changes", "change_states"):  # pages that are no comparison any more
            conn.execute(
                f"DELETE FROM main.{table} WHERE comparison_id IN (SELECT value FROM json_each(?)) "
                "AND comparison_id NOT IN (SELECT id FROM temp.comparisons)",
                [cids],
            )
        changes = [_differences(conn, table, key, by, columns[table], cids) for table, key, by in DERIVED]
        for (table, key, _), (_, stale) in reversed(list(zip(DERIVED, changes, strict=True))):
            match = " AND ".join(f"{k} = ?" for k in key)
            conn.executemany(f"DELETE FROM main.{table} WHERE {match}", stale)
        for (table, key, _), (rows, _) in zip(DERIVED, changes, strict=True):
            names = columns[table]
            update = ", ".join(f"{c} = excluded.{c}" for c in names if c not in key)
            conn.executemany(
                f"INSERT INTO main.{table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
                f"ON CONFLICT({', '.join(key)}) DO UPDATE SET {update}",
                rows,
            )
        rebuild_changes(
            conn, change_parses(items)
        )  # the change log of these pages, from their parses in order
    return len(existing_keys(conn, "SELECT id FROM main.comparisons WHERE id IN ({})", ids))


def _differences(
    conn: sqlite3.Connection, table: str, key: tuple[str, ...], by: str, names: list[str], cids: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(rebuilt rows the archive lacks or holds otherwise, keys of archived rows not rebuilt).

    Compared in SQL (EXCEPT treats NULLs as equal, as a row rewrite would leave them).
    """
    columns, keys = ", ".join(names), ", ".join(key)
    archived = f"FROM main.{table} WHERE {by} IN (SELECT value FROM json_each(?))"
    changed = conn.execute(f"SELECT {columns} FROM temp.{table} EXCEPT SELECT {columns} {archived}", [cids])
    stale = conn.execute(f"SELECT {keys} {archived} EXCEPT SELECT {keys} FROM temp.{table}", [cids])
    return changed.fetchall(), stale.fetchall()


def _remove_orphans(conn: sqlite3.Connection) -> None:
    """Verdicts and tools that no page yields any more (artefacts of an older parser)."""
    with transaction(conn):
        orphan = (
            "SELECT id FROM verdicts v WHERE NOT EXISTS "
            "(SELECT 1 FROM verdict_appearances a WHERE a.verdict_id = v.id)"
        )
        conn.execute(f"UPDATE verdicts SET near_duplicate_of = NULL WHERE near_duplicate_of IN ({orphan})")
        conn.execute(f"DELETE FROM verdicts WHERE id IN ({orphan})")
        conn.execute(
            "DELETE FROM tools WHERE NOT EXISTS (SELECT 1 FROM listings l WHERE l.tool_id = tools.id) "
            "AND NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.tool_id = tools.id) "
            "AND NOT EXISTS (SELECT 1 FROM changes ch WHERE ch.tool_id = tools.id) "
            "AND NOT EXISTS (SELECT 1 FROM comparisons c WHERE tools.id IN (c.tool1_id, c.tool2_id))"
        )
