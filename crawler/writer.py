"""The writer child process: parses and stores fetched pages off the fetch loop's core.

Parsing a page and writing it to SQLite cost more CPU than fetching it; doing them in
the asyncio process would cap the crawl at the speed of the slowest stage on one core.
So the engine sends fetch results through a pipe to this process, which parses each
with `parsers.parse_page` as it arrives and stores them with `db.store.ArchiveWriter` in
batches of `BATCH_PAGES` fetched pages, each with its frontier rows and crawl counters.
A thread reads the pipe ahead (`_Inbox`), so the fetch loop never waits for a batch. A
transaction holds several batches: it commits after `COMMIT_PAGES` fetched pages or,
once `COMMIT_SECONDS` have passed since its first item, when the pipe is empty (a batch
of 304s and failures alone commits after `REVISIT_PAGES` or `REVISIT_SECONDS`). The
crawl's first frontier (start URLs, archived pages, sitemaps: everything queued before
the first result) commits on its own, before any page: when the first transaction of
pages fails (a full disk, a crash), the crawl still has a frontier and the next run
resumes it, fetching again only what was not committed. It
talks to SQLite through a plain sqlite3 connection and imports the parsers only with the
first page to parse, so the writer of an unchanged re-crawl starts in a few hundredths
of a second.

The child is a fresh interpreter (`crawler.engine.WriterProcess`, like multiprocessing's
"spawn"), so it inherits no descriptor but its end of the pipe and the archive lock's
(`db.lock`: the lock stays held until the writer has exited too), and it exits as soon
as the pipe reports end-of-file: when the engine dies, even by SIGKILL, the writer
stores what it already received and goes away, and only then can another crawl start.

One writer serves every site of a run (each its own crawls row): it is the archive's only
writing connection while the crawl runs, and the sites' pages share its transactions.

Messages, parent to child (each a pickled list of items):
    ("to", crawl_id)                   the items after it are that crawl's (default: the first
                                       crawl id the writer was started with)
    ("add", [frontier.Entry, ...])     URLs discovered (queued in the frontier)
    ("result", FetchResult, [Entry], keep)  one fetch outcome (its `text` dropped: the body
                                       is decoded again here, half the bytes through the
                                       pipe) and the URLs found in it: queue
                                       those, store the result if `keep` (pages, not
                                       sitemaps), mark its URL done (failed: retried on resume)
    ("finish",)                        the crawl's fetching is over: flush, commit (with the
                                       crawls that finish meanwhile), reply ("finished",
                                       WriterReport); exit after the last crawl
Child to parent: ("finished", WriterReport) per crawl (its `crawl_id` says which), or
("error", one-line reason) once, for every crawl not finished.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from db import crawl_log, frontier, page_links
from db.archive import transaction

#: Fetched pages parsed and written at a time: bounds the memory of bodies and parses held.
BATCH_PAGES = 500
#: Fetched pages per transaction: the archive's indexes are keyed by content hashes, so
#: every batch inserts into leaves all over them, and on a large archive nearly every leaf
#: it touches is a different page to write to the WAL and copy back at the checkpoint
#: (16 pages per stored page at 30,000 pages, 7 at 3,000). Within one transaction a page
#: is written once however many batches touch it: 2,000 pages a transaction stored 17 %
#: cheaper than 500 into a 30,000-page archive and the same into a 3,000-page one
#: (in-process, store CPU only); with 4,000 the 30,000-page crawl's writer spent 1.3-1.4
#: ms a page instead of 1.5 (bench/crawl.py). `COMMIT_SECONDS` after its first item, a
#: transaction commits as soon as the pipe is empty: a slow crawl's pages wait little for
#: their commit, while a writer that is behind (a large crawl) meets the page bound.
COMMIT_PAGES = 4_000
COMMIT_SECONDS = 1.0
#: A batch without a fetched body (304s, failures: a few small row updates each, no
#: parse) may grow much larger: an unchanged re-crawl revisits pages in URL order, not in
#: the order their rows were written, so every batch rewrites pages all over the tables,
#: and one batch of 3,000 304s costs 40 % less than six of 500 (in-process, 3,000 pages).
#: Losing it in a crash only means those URLs are asked again, conditionally. Reaching
#: it commits the open transaction. The batch is the writer's working set (the results
#: held, then every verdict its pages show, read back to move `last_seen`): 5,000 a batch
#: peaked at 61 MB on a 10,000-page re-crawl where 2,000 peaked at 51 MB (48 MB at 3,000
#: pages), for 3 % more wall time (same minute, issue 14: flat memory).
REVISIT_PAGES = 2_000
REVISIT_SECONDS = 5.0
#: Frontier entries held before they are written: a re-crawl's seeding sends every archived
#: URL in a few seconds, which the time bound alone let pile up here (issue 14: flat memory).
ADDS_HELD = 2_500
#: Pipe messages read ahead while a batch is parsed and stored, in bytes (~160 pages).
#: Without them the engine's sends stall for the length of every batch: its fetch loop
#: stood idle a third of a 3,000-page crawl, waiting on a writer that was itself idle
#: the rest of the time.
INBOX_BYTES = 2 * 1024 * 1024
#: How long the writer waits for the archive's write lock: only this run's own end-of-site
#: steps (quality gate, crawls row) take it meanwhile, while the other sites still crawl.
BUSY_TIMEOUT_MS = 300_000
#: How long a crawl's "finish" may wait for others before its commit and reply: sites that
#: end together are committed and answered at once (the engine then concludes them in one
#: transaction) instead of one commit, reply and conclusion after another, each waiting
#: for the last (20 sites: ~4 s in turn). Only while more messages wait in the pipe.
FINISH_WAIT_SECONDS = 0.5
COUNTER_FIELDS = crawl_log.COUNTERS
#: Outcomes after which a URL needs another try when the crawl is resumed.
RETRY_OUTCOMES = frozenset({"failed", "skipped"})
#: Parse outcomes of a page no layout read; if it was a comparison before, it is parsed again
#: knowing so (then it is `unreadable`, and its problems say why).
_NOT_READ = frozenset({"not_comparison", "unreadable"})


@dataclass(slots=True)
class WriterReport:
    """What the writer did over the whole crawl."""

    crawl_id: int | None = None
    batches: int = 0
    commits: int = 0  # transactions: each holds up to COMMIT_PAGES fetched pages
    pages: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTER_FIELDS, 0))
    snapshots_new: int = 0
    parse_errors: list[str] = field(default_factory=list)
    store_seconds: float = 0.0
    parse_seconds: float = 0.0
    cpu_seconds: float = 0.0  # of the writer process, start-up included


_TIMED_OUT = object()


class _Inbox:
    """The pipe, read ahead by a thread, so that the engine's sends complete while this
    process parses and stores a batch (the thread waits in `recv_bytes` without the GIL).

    Holds at most `max_bytes` (plus the one message being read): past that the thread
    stops reading and the pipe pushes back on the engine, as before. End of file (or a
    broken pipe) comes out as None, after every message received before it.
    """

    def __init__(self, conn: Connection, max_bytes: int = INBOX_BYTES) -> None:
        self._conn = conn
        self._max_bytes = max_bytes
        self._messages: deque[bytes | None] = deque()
        self._bytes = 0
        self._changed = threading.Condition()
        threading.Thread(target=self._read, name="verdicts-inbox", daemon=True).start()

    def _read(self) -> None:
        changed = self._changed
        while True:
            with changed:
                changed.wait_for(lambda: self._bytes < self._max_bytes)
            try:
                data: bytes | None = self._conn.recv_bytes()
            except (EOFError, OSError):
                data = None
            with changed:
                self._messages.append(data)
                self._bytes += len(data) if data is not None else 0
                changed.notify_all()
            if data is None:
                return

    def empty(self) -> bool:
        """No message read ahead and waiting."""
        with self._changed:
            return not self._messages

    def get(self, timeout: float | None) -> Any:
        """The next message (bytes), None at end of file, or `_TIMED_OUT`."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._messages, timeout):
                return _TIMED_OUT
            data = self._messages.popleft()
            self._bytes -= len(data) if data is not None else 0
            self._changed.notify_all()
            return data


#: SQLite's result codes for a write the disk (or a file-size limit) did not take.
_NO_SPACE_CODES = frozenset({13, 778, 1034, 1546, 4874})  # FULL, IOERR_WRITE/FSYNC/TRUNCATE/SHMSIZE
_NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


def describe_failure(error: BaseException, db_path: str) -> str:
    """One line for the crawl summary: a full disk said as such, anything else with where it
    was raised (a bug to report)."""
    if getattr(error, "sqlite_errorcode", None) in _NO_SPACE_CODES or (
        isinstance(error, OSError) and error.errno in _NO_SPACE_ERRNOS
    ):
        return (
            f"could not write to the archive {db_path} (disk full or file-size limit): {error}; "
            "what was committed is intact"
        )
    last = traceback.extract_tb(error.__traceback__)[-1:]
    where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(error).__name__}: {error}{where}"


def writer_main(
    conn: Connection, db_path: str, crawl_id: int | Sequence[int], durability: str = "normal"
) -> None:
    """The writer's work on its end of the pipe, until "finish" or end-of-file."""
    # Ctrl-C and a service stop reach the whole process group; the engine decides when
    # to stop, and the writer follows by the pipe (finish message or end-of-file).
    # They were blocked from birth (crawler.engine.WriterProcess): one that came meanwhile
    # is dropped as the mask lifts.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGINT, signal.SIGTERM))
    try:
        report = _Writer(db_path, crawl_id, durability).run(conn)
    except EOFError:  # the engine died: what was received is stored, nothing to reply to
        os._exit(0)
    except BaseException as error:
        with contextlib.suppress(OSError):
            conn.send(("error", describe_failure(error, db_path)))
        os._exit(1)
    conn.send(("finished", report))
    conn.close()


def main() -> None:
    """Entry point of the writer process that `crawler.engine.WriterProcess` starts:
    argv = [sys.path, pipe descriptor, archive path, crawl ids (comma-separated), durability]."""
    import sys
    from multiprocessing.connection import Connection as PipeEnd

    fd, db_path, crawl_ids, durability = sys.argv[2:6]
    writer_main(PipeEnd(int(fd)), db_path, [int(i) for i in crawl_ids.split(",")], durability)


class _Crawl:
    """One crawl's share of the writer: its store (change log, fetch log), its report, and
    what it holds for the next batch."""

    __slots__ = ("adds", "finished", "report", "results", "states", "store")

    def __init__(self, db: Any, crawl_id: int) -> None:
        from db.store import ArchiveWriter

        self.store = ArchiveWriter(db, crawl_id, summaries=False)  # refreshed at crawl end
        self.report = WriterReport(crawl_id=crawl_id)
        self.results: list[Any] = []
        self.adds: list[Any] = []
        self.states: list[tuple[str, str]] = []
        self.finished = False

    def holds(self) -> bool:
        return bool(self.states or self.adds)


class _Writer:
    def __init__(self, db_path: str, crawl_id: int | Sequence[int], durability: str = "normal") -> None:
        from db.archive import connect_sqlite, set_durability

        # A plain sqlite3 connection: the writer needs neither sqlite-utils nor, until
        # the first fetched page, the parsers (a re-crawl of 304s never imports them).
        self.db = connect_sqlite(db_path)
        self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        set_durability(self.db, durability)
        ids = [crawl_id] if isinstance(crawl_id, int) else list(crawl_id)
        self.crawls = {i: _Crawl(self.db, i) for i in ids}
        self.current = self.crawls[ids[0]]
        self.bodies = 0  # results held (all crawls) with a fetched body
        self.written = 0  # fetched pages written in the open transaction
        self.first_at: float | None = None  # when the first item not yet committed came
        self.parse_page: Any = None
        self.conn: Connection | None = None  # the pipe, once `run` has it: replies go there
        self.replying: list[_Crawl] = []  # finished crawls whose reply waits for the next commit
        self.replying_since = 0.0

    # The crawl that items are for (selected by "to"): what a one-site caller sees.
    @property
    def store(self) -> Any:
        return self.current.store

    @property
    def report(self) -> WriterReport:
        return self.current.report

    @property
    def results(self) -> list[Any]:
        return self.current.results

    @property
    def adds(self) -> list[Any]:
        return self.current.adds

    @property
    def states(self) -> list[tuple[str, str]]:
        return self.current.states

    def run(self, conn: Connection) -> WriterReport:
        """Store what arrives until every crawl has finished; returns the last one's report
        (the others' go back through `conn` as they finish)."""
        self.conn = conn
        inbox = _Inbox(conn)
        while True:
            timeout = None
            if self.first_at is not None:
                bound = COMMIT_SECONDS if self.bodies or self.written else REVISIT_SECONDS
                timeout = max(0.0, self.first_at + bound - time.monotonic())
            data = inbox.get(timeout)
            if data is not _TIMED_OUT:
                if data is None:  # end of file: the engine is gone
                    self.flush(commit=True)
                    raise EOFError
                for item in pickle.loads(data):
                    kind = item[0]
                    if kind == "to":
                        self.current = self.crawls[item[1]]
                        continue
                    if kind == "finish":
                        done = self.finish_crawl()
                        if done is not None:
                            return done
                        continue
                    if kind == "add":
                        self.adds.extend(item[1])
                    else:
                        if not self.report.commits and self.adds and not self.states:
                            self.flush(commit=True)  # the first frontier, before any page
                        _, result, found, keep = item
                        self.adds.extend(found)
                        self.states.append(
                            (result.url, "failed" if result.outcome in RETRY_OUTCOMES else "done")
                        )
                        if keep:
                            self.hold(result)
                    if self.first_at is None:
                        self.first_at = time.monotonic()
                held = self.crawls.values()
                if self.replying and (
                    inbox.empty() or time.monotonic() - self.replying_since >= FINISH_WAIT_SECONDS
                ):
                    self.flush(commit=True)  # and the finished crawls get their replies
                elif (
                    sum(len(c.states) for c in held) >= REVISIT_PAGES
                    or sum(len(c.adds) for c in held) >= ADDS_HELD
                ):
                    self.flush(commit=True)
                elif self.bodies >= BATCH_PAGES:
                    self.flush(commit=self.written + self.bodies >= COMMIT_PAGES)
                elif self.first_at is not None and inbox.empty():
                    # a steady trickle of pages never lets `get` time out: commit once the
                    # bound has passed and nothing is waiting, or a crash loses it all
                    bound = COMMIT_SECONDS if self.bodies or self.written else REVISIT_SECONDS
                    if time.monotonic() - self.first_at >= bound:
                        self.flush(commit=True)
            elif self.first_at is not None:
                self.flush(commit=True)

    def finish_crawl(self) -> WriterReport | None:
        """The current crawl's fetching is over: its reply goes with the next commit (see
        FINISH_WAIT_SECONDS). When it was the last crawl, commit everything held, answer the
        others and return its report (the connection is closed then), else None."""
        self.current.finished = True
        self.report.cpu_seconds = time.process_time()
        if not all(c.finished for c in self.crawls.values()):
            if not self.replying:
                self.replying_since = time.monotonic()
            self.replying.append(self.current)
            return None
        self.flush(commit=True)
        self.db.close()
        return self.report

    def flush(self, commit: bool) -> None:
        """Write the batch held (in the open transaction); then commit if `commit`, and
        answer the finished crawls that it holds (all they sent is committed then)."""
        if any(c.holds() for c in self.crawls.values()):
            self.write()
        if commit:
            if self.db.in_transaction:
                started = time.perf_counter()
                self.db.execute("COMMIT")
                self.report.commits += 1
                self.report.store_seconds += time.perf_counter() - started
            self.first_at, self.written = None, 0
            if self.replying and self.conn is not None:
                replying, self.replying = self.replying, []
                for crawl in replying:
                    with contextlib.suppress(OSError):  # the engine gone: nothing to answer
                        self.conn.send(("finished", crawl.report))

    def hold(self, result: Any) -> None:
        """Keep a result for the next batch, parsed now: the writer works while pages
        arrive, and only the store waits for the batch."""
        self.results.append((result, self.parse(result)))
        self.bodies += result.outcome == "fetched"

    def write(self) -> None:
        """Write every crawl's batch held, each whole or not at all (a savepoint)."""
        if not self.db.in_transaction:
            # IMMEDIATE: the write lock is waited for here, not refused at the first write
            # after a read (the end-of-site steps of a run may have committed meanwhile)
            self.db.execute("BEGIN IMMEDIATE")
        for held in self.crawls.values():
            if held.holds():
                self._write(held)
        self.written += self.bodies
        self.bodies = 0

    def _write(self, held: _Crawl) -> None:
        started = time.perf_counter()
        batch, crawl_id = held.results, held.report.crawl_id
        assert crawl_id is not None
        try:
            with transaction(self.db):  # a savepoint: the batch is written whole or not at all
                frontier.add(self.db, crawl_id, held.adds)
                stats = held.store.store(batch) if batch else None
                page_links.keep(self.db, (result for result, _ in batch))
                frontier.mark(self.db, crawl_id, held.states)
                if stats is not None:
                    counts = [getattr(stats, name) for name in COUNTER_FIELDS]
                    crawl_log.add_counts(self.db, crawl_id, counts)
        except BaseException:
            if self.db.in_transaction:  # the batches before this one stand, as if committed each
                self.db.execute("COMMIT")
            raise
        report = held.report
        report.batches += 1
        report.pages += len(batch)
        if stats is not None:
            for name in COUNTER_FIELDS:
                report.counts[name] += getattr(stats, name)
            report.snapshots_new += stats.snapshots_new
        report.store_seconds += time.perf_counter() - started
        held.results, held.adds, held.states = [], [], []

    def parse(self, result: Any) -> Any:
        """The ParseResult of a fetched HTML page; None for anything else."""
        if result.outcome != "fetched" or result.kind != "html":
            return None
        started = time.perf_counter()
        try:
            return self._parse(result)
        finally:
            self.report.parse_seconds += time.perf_counter() - started

    def _parse(self, result: Any) -> Any:
        if self.parse_page is None:
            from parsers import parse_page

            self.parse_page = parse_page
        url = result.final_url or result.url
        try:
            html = getattr(result, "rendered", None) or result.text  # the DOM Chromium built, if any
            if html is None:  # the engine sends bytes only; decode as the fetcher did
                from crawler.encoding import decode_as

                html = decode_as(result.body, result.encoding) if result.encoding else result.body
            parse = self.parse_page(html, url=url)
            if parse.status in _NOT_READ and self.store.was_comparison(result.url, url):
                parse = self.parse_page(html, url=url, was_comparison=True)  # unreadable, say why
        except Exception as error:  # a parser bug must not lose the rest of the crawl
            from parsers.registry import NO_LAYOUT, REGISTRY_VERSION, error_result

            parse = error_result(NO_LAYOUT, REGISTRY_VERSION, "the writer", error)
        if parse.status == "error" and len(self.report.parse_errors) < 100:
            self.report.parse_errors.append(f"{result.url}: {parse.problems[0]}")
        return parse
