"""The crawl: discovery, the asyncio fetch loop, and the hand-off to the writer process.

This process only fetches and discovers (robots, politeness and retries live in
`crawler.fetch.Fetcher`; link extraction is cheap with lexbor). Every result goes
through a bounded queue and a pipe to the writer child (`crawler.writer`), which
parses and stores in batched transactions on the other core; memory stays flat
because a body is dropped as soon as it is handed over.

A crawl of a site is one `crawls` row. Seeds are the start URLs, the sitemaps named
by robots.txt plus `/sitemap.xml`, and every page of the site already in the archive.
A page that answers 304 has its links followed from those kept with its body
(`crawler.stored_links`), so a re-crawl reaches what a first crawl would. A run that
finds the site's last crawl unfinished (killed, or stopped by a signal) resumes it: the
old row is closed as `interrupted`, its frontier is copied to the new row, and only URLs
not yet done are fetched.

Exit codes: 0 completed, 1 could not run or failed, 2 quality degraded, 130 stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import multiprocessing
import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.config import Settings, Site
from crawler.pending import PendingQueue
from crawler.progress import Progress, format_summary
from crawler.revisits import Validators, known_pages
from crawler.seen import HashSet
from crawler.stopping import STOP_SIGNALS, stop_on_signals
from crawler.stored_links import StoredLinks
from crawler.urls import MAX_URL_CHARS, Scope, host_matches, host_of, origin_of, try_canonicalize
from db import crawl_log, frontier
from db.change_log import count_changes
from db.frontier import Entry
from db.lock import ArchiveLock, ArchiveLocked

if TYPE_CHECKING:
    from crawler.writer import WriterReport

EXIT_OK, EXIT_FAILED, EXIT_DEGRADED, EXIT_STOPPED = 0, 1, 2, 130
_EXIT = {"completed": EXIT_OK, "failed": EXIT_FAILED, "degraded": EXIT_DEGRADED}
#: Results waiting for the pipe; bounds memory whatever the site's size.
OUT_QUEUE_ITEMS = 256
SEND_CHUNK_ITEMS = 64
#: Frontier entries per "add" message, and at most about this many per pipe message: a
#: 30,000-URL sitemap sent as one message cost ~14 MB of pickling at the crawl's peak.
ADD_CHUNK_ENTRIES = 1000
#: Entries of "add" messages waiting for the sender before a sitemap's next chunk is read.
MAX_ADDS_WAITING = 2 * ADD_CHUNK_ENTRIES
MAX_FAILURES_KEPT = 1000
#: Links followed from one page: real index pages hold a few thousand, sitemaps hold more.
MAX_LINKS_PER_PAGE = 10_000
#: How long the writer may take to store its last batch once the fetching is over.
WRITER_FINISH_SECONDS = 300.0
#: Page cache of the connection for a site's end-of-crawl steps (KiB; SQLite's default is
#: 2,000). Their statements scan whole tables (per-tool summaries, the quality gate), and
#: SQLite sizes a sort's memory by the cache: at 10,000 pages they took 9.1 MB above the
#: connection's start with the default, 3.8 MB with 512, in as little time (issue 14).
CLOSING_CACHE_KIB = 512
REACHED = frozenset({"fetched", "not_modified", "gone", "disallowed"})
#: The folder holding the `crawler`, `db` and `parsers` packages (first on the writer's path).
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)


class CrawlError(Exception):
    """The crawl could not run; the message is the one-line reason."""


class CrawlStopped(CrawlError):
    """A stop signal came before the crawl began (while it waited for the archive lock, say):
    nothing was written."""


@dataclass(slots=True)
class CrawlReport:
    """The outcome of one site's crawl, as the summary and the scheduler see it."""

    site_name: str
    site: str = ""
    crawl_id: int | None = None
    status: str = "failed"
    resumed_from: int | None = None
    requests: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    writer: WriterReport | None = None
    changes: dict[str, int] = field(default_factory=dict)  # change-log rows of this crawl, by kind
    notifications: list[Any] = field(default_factory=list)  # crawler.notify.Outcome per target
    cpu_seconds: float = 0.0  # of this (fetching) process; the writer's is in `writer`
    #: Candidate comparisons no layout read (the first 10 URLs) and how many (db/quality.py).
    unreadable: list[str] = field(default_factory=list)
    unreadable_count: int = 0
    #: Of those, how many look client-rendered (an app shell: parsers/candidates.py).
    client_rendered: int = 0
    render: str = "plain"  # the site's render setting
    rendered: Any = None  # crawler.render.RenderStats when render = "browser"

    @property
    def exit_code(self) -> int:
        return EXIT_STOPPED if self.status == "interrupted" else _EXIT.get(self.status, 1)


def run_crawl(settings: Settings, stop: threading.Event | None = None) -> int:
    """`verdicts crawl`: crawl every site together, print each summary as its site ends;
    the worst exit code wins. `stop`: set by the caller's signal handlers
    (crawler.stopping), else handlers are installed for the run."""
    if not settings.sites:
        raise click.ClickException(
            "No start URLs: give some on the command line or add [[sites]] to verdicts.toml."
        )
    if any(site.render == "browser" for site in settings.sites):
        try:  # before anything is fetched or written: the browser must be there
            _check_browser(settings)
        except CrawlError as error:
            raise click.ClickException(str(error)) from None
    with contextlib.nullcontext(stop) if stop is not None else stop_on_signals() as stop:
        try:
            reports = crawl_sites(
                settings, settings.sites, stop=stop, on_report=lambda r: click.echo(format_summary(r))
            )
        except CrawlStopped as stopped:
            click.echo(str(stopped), err=True)
            return EXIT_STOPPED
        except CrawlError as error:
            raise click.ClickException(str(error)) from error
        except sqlite3.Error as error:  # closing a crawl's row on a full disk, say
            from crawler.writer import describe_failure

            reason = describe_failure(error, str(settings.db_path))
            raise click.ClickException(f"The crawl could not finish: {reason}") from error
    if len(reports) > 1:
        click.echo(format_run(reports))
    return max(report.exit_code for report in reports)


def format_run(reports: list[CrawlReport]) -> str:
    """One line per site of a run, after the sites' own summaries."""
    lines = [f"{len(reports)} sites crawled together:"]
    for r in reports:
        fetched = r.counts.get("pages_fetched", 0)
        lines.append(
            f"  {r.site_name}: crawl {r.crawl_id} {r.status} (exit {r.exit_code}), "
            f"{r.requests} requests, {fetched} pages fetched, {r.seconds:.1f} s"
        )
    return "\n".join(lines)


def _check_browser(settings: Settings) -> str:
    """The browser's executable; CrawlError with the install command when it is missing."""
    from crawler.render import BrowserMissing, check_browser

    try:
        return check_browser(settings.chromium)
    except BrowserMissing as error:
        raise CrawlError(str(error)) from None


def crawl(
    settings: Settings,
    site: Site | None = None,
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> CrawlReport:
    """Crawl one site (default: the first) into `settings.db_path`; raises CrawlError if it can't run."""
    if site is None:
        if not settings.sites:
            raise CrawlError("no start URLs: give some on the command line or in verdicts.toml")
        site = settings.sites[0]
    return crawl_sites(settings, [site], stop=stop, progress=progress)[0]


def crawl_sites(
    settings: Settings,
    sites: Sequence[Site],
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    on_report: Callable[[CrawlReport], None] | None = None,
) -> list[CrawlReport]:
    """Crawl `sites` together into `settings.db_path`: one fetch loop, one writer, and per
    site its own crawls row, quality gate and resume state. Politeness is per host, so the
    sites' hosts are asked side by side; a slow or failing host holds up only its own site.

    `on_report` gets each site's report as soon as that site is concluded (others may still
    be crawling). Raises CrawlError if the run cannot start.
    """
    plans = [_Plan.of(site) for site in sites]
    names: dict[str, str] = {}
    for plan in plans:  # one crawls row per set of start URLs and run
        if plan.report.site in names:
            first = names[plan.report.site]
            raise CrawlError(f"sites {first} and {plan.site.name} have the same start URLs: crawl them once")
        names[plan.report.site] = plan.site.name
    if any(plan.site.render == "browser" for plan in plans):
        _check_browser(settings)  # before the archive is opened or anything fetched
    stop = stop or threading.Event()
    if stop.is_set():
        raise CrawlStopped("Stopped by a signal before the crawl began; nothing was written.")
    lock = ArchiveLock(settings.db_path, timeout=settings.lock_timeout, purpose="crawl")
    try:
        lock.acquire(stop=stop)
    except ArchiveLocked as error:
        if stop.is_set():
            raise CrawlStopped(
                f"Stopped by a signal while waiting for the archive lock ({error}); nothing was written."
            ) from None
        raise CrawlError(str(error)) from None
    except OSError as error:
        raise CrawlError(f"archive {settings.db_path} is not writable: {error.strerror}") from None
    try:
        _begin(settings, plans)
        if progress is not None and len(plans) == 1:
            plans[0].progress = progress
        return _crawl_locked(settings, plans, stop, lock, on_report)
    finally:
        lock.release()


@dataclass(slots=True)
class _Plan:
    """One site of a run: its start URLs, scope and report, then its crawls row and seeds."""

    site: Site
    starts: list[str]
    scope: Scope
    report: CrawlReport
    seeds: Iterable[Entry] = ()  # read from the archive as the loop queues them
    known: Iterable[str] = ()
    fresh: bool = True
    progress: Progress | None = None
    loop: _Loop | None = None
    concluded: bool = False

    @classmethod
    def of(cls, site: Site) -> _Plan:
        starts = [url for url in (try_canonicalize(u) for u in site.start_urls) if url]
        if not starts:
            raise CrawlError(f"no usable start URLs for {site.name}")
        report = CrawlReport(site_name=site.name, site=crawl_log.site_key(starts), render=site.render)
        return cls(site, starts, Scope(site.scope_hosts, site.include, site.exclude), report)


def _begin(settings: Settings, plans: list[_Plan]) -> None:
    """Open each site's crawls row (resuming an unfinished one) and gather its seeds."""
    from db.archive import open_current

    db = None
    try:
        db = open_current(settings.db_path)
        for plan in plans:
            begun = crawl_log.begin(db, plan.report.site, plan.starts)
            plan.report.crawl_id, plan.report.resumed_from = begun.crawl_id, begun.resumed_from
            # A crawl killed before its writer's first commit left no frontier (its start URLs
            # are written with the first batch): there is nothing to resume, start over.
            plan.fresh = begun.resumed_from is None or not frontier.holds(db, begun.crawl_id, plan.starts)
            # Seeds and known URLs are read from the archive as the loop queues them (into its
            # disk-backed queue and compact hash set), never listed whole (issue 14: flat memory).
            if plan.fresh:
                patterns = bool(plan.site.include or plan.site.exclude)
                archived = known_pages(settings.db_path, plan.scope, patterns=patterns)
                plan.seeds, plan.known = _fresh_seeds(plan.starts, archived), ()
            else:
                plan.seeds = frontier.queued(settings.db_path, begun.crawl_id)
                plan.known = frontier.urls(settings.db_path, begun.crawl_id)
    except (sqlite3.Error, OSError) as error:
        raise CrawlError(f"could not open the archive {settings.db_path}: {error}") from None
    finally:
        if db is not None:
            db.close()


def _crawl_locked(
    settings: Settings,
    plans: list[_Plan],
    stop: threading.Event,
    lock: ArchiveLock,
    on_report: Callable[[CrawlReport], None] | None,
) -> list[CrawlReport]:
    crawl_ids = [plan.report.crawl_id for plan in plans]
    conn, child_conn = multiprocessing.Pipe(duplex=True)
    writer = WriterProcess(child_conn, str(settings.db_path), crawl_ids, lock, settings.durability)
    child_conn.close()
    channel = _Channel(conn, writer)
    try:
        asyncio.run(_crawl_all(settings, plans, channel, stop, on_report))
    except BaseException as error:
        # The writer sees end-of-file, stores what it has and exits. After a bug the rows
        # are closed as failed; after a second Ctrl+C they stay `running`, so the next
        # crawl resumes them.
        channel.close()
        writer.join(timeout=30)
        if writer.is_alive():
            writer.kill()
        if isinstance(error, Exception):
            for plan in plans:
                if not plan.concluded:
                    _close_failed(settings, plan.report, f"crawl aborted: {type(error).__name__}: {error}")
            with contextlib.suppress(sqlite3.Error):
                _refresh_summaries(settings)
        raise
    channel.close()
    writer.join(timeout=10)
    if writer.is_alive():
        writer.kill()
    _refresh_summaries(settings)  # once the writer is gone: no wait for its lock
    return [plan.report for plan in plans]


async def _crawl_all(
    settings: Settings,
    plans: list[_Plan],
    channel: _Channel,
    stop: threading.Event,
    on_report: Callable[[CrawlReport], None] | None,
) -> None:
    """Every site's loop side by side on this event loop, sharing connections and politeness,
    and one Chromium for the sites that render (started by the first that asks for it)."""
    from crawler.fetch import SharedFetching

    channel.start([plan.report.crawl_id for plan in plans])
    shared = SharedFetching(fetch_settings(settings, frozenset()), len(plans))
    browser = _run_browser(settings, plans)
    concluding = _Concluder(settings, stop, len(plans))
    try:
        await asyncio.gather(
            *(
                _crawl_site(settings, plan, channel, (shared, browser), stop, concluding, on_report)
                for plan in plans
            )
        )
    finally:
        if browser is not None:
            await browser.aclose()
        await shared.aclose()


class _Concluder:
    """Concludes the sites whose writer has replied, every site ready at that moment in one
    transaction (a group commit): 20 sites ending together waited 20 times for the writer's
    open transaction and took ~25 s in turn when each concluded alone."""

    #: How long a site whose reply came waits for the others' (they come a few ms apart).
    GATHER_SECONDS = 0.05
    #: While other sites still crawl, the summaries are refreshed after a conclusion at most
    #: this often: what the ended sites stored reaches the published views without waiting
    #: for the run's slowest host, and sites ending together still pay one refresh.
    REFRESH_EVERY_SECONDS = 300.0

    def __init__(self, settings: Settings, stop: threading.Event, sites: int) -> None:
        self.settings = settings
        self.stop = stop
        self.outstanding = sites  # sites whose writer reply has not come yet
        self.refreshed_at = time.monotonic()
        self.ready: list[tuple[_Plan, tuple[str, Any], asyncio.Future[None]]] = []
        self.lock = asyncio.Lock()
        self.batches: list[int] = []  # sites per transaction, for the tests and the bench

    async def conclude(self, plan: _Plan, reply: tuple[str, Any]) -> None:
        """Conclude `plan` with the others ready; returns once its crawls row is closed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ready.append((plan, reply, done))
        self.outstanding -= 1
        if self.outstanding:
            await asyncio.sleep(self.GATHER_SECONDS)
        async with self.lock:
            batch, self.ready = self.ready, []
            if batch:  # else an earlier batch took this site along
                await self._run(batch)
        await done

    async def _run(self, batch: list[tuple[_Plan, tuple[str, Any], asyncio.Future[None]]]) -> None:
        sites = [(plan.report, reply, plan.loop) for plan, reply, _ in batch]
        try:
            await asyncio.to_thread(_conclude_sites, self.settings, sites, self.stop)
        except Exception as error:
            for *_, done in batch:
                done.set_exception(error)
            return
        except BaseException:
            for *_, done in batch:
                done.cancel()
            raise
        self.batches.append(len(batch))
        for plan, _, done in batch:
            plan.concluded = True
            done.set_result(None)
        if self.outstanding and time.monotonic() - self.refreshed_at >= self.REFRESH_EVERY_SECONDS:
            # best effort: the run's last refresh, once the writer is gone, catches up anyway
            with contextlib.suppress(sqlite3.Error):
                await asyncio.to_thread(_refresh_summaries, self.settings)
            self.refreshed_at = time.monotonic()


def _run_browser(settings: Settings, plans: list[_Plan]) -> Any:
    """The run's crawler.render.Browser when a site renders (not launched yet), else None."""
    if not any(plan.site.render == "browser" for plan in plans):
        return None
    from crawler.render import Browser

    return Browser(_check_browser(settings))


async def _crawl_site(
    settings: Settings,
    plan: _Plan,
    channel: _Channel,
    shared: tuple[Any, Any],
    stop: threading.Event,
    concluding: _Concluder,
    on_report: Callable[[CrawlReport], None] | None,
) -> None:
    """One site: fetch its frontier, wait for the writer to commit it, then conclude it
    (quality gate, crawls row, notifications) while the other sites go on. `shared`: the
    run's SharedFetching and its Browser (None when no site renders)."""
    report, site = plan.report, plan.site
    assert report.crawl_id is not None
    # several sites' bars would fight over one terminal: each prints plain lines instead
    progress = plan.progress or Progress(site.name, live=False if len(channel.replies) > 1 else None)
    started, cpu_started = time.monotonic(), time.process_time()
    validators = Validators(settings.db_path)
    loop = plan.loop = _Loop(
        settings, site, plan.scope, channel.link(report.crawl_id), validators, progress, stop, report
    )
    try:
        seeds, known = plan.seeds, plan.known
        plan.seeds, plan.known = (), ()
        await loop.run(seeds, known, plan.fresh, plan.starts, *shared)
    except Exception as error:  # a bug in one site's loop fails that site, not the run
        loop.error = loop.error or f"crawl aborted: {type(error).__name__}: {error}"
    finally:
        validators.close()
        progress.close()
        report.seconds = time.monotonic() - started
        report.cpu_seconds = time.process_time() - cpu_started
    reply = await channel.reply(report.crawl_id)
    await concluding.conclude(plan, reply)
    await asyncio.to_thread(_notify, settings, report)
    if on_report is not None:
        on_report(report)


def fetch_settings(settings: Settings, hosts: frozenset[str]) -> Any:
    """The fetcher's settings for a site whose scope is `hosts`."""
    from crawler.fetch import FetchSettings

    fetch = FetchSettings(
        delay=settings.delay,
        concurrency=settings.concurrency,
        per_host=settings.per_host,
        user_agent=settings.user_agent,
        allowed_hosts=hosts,
        transport=settings.transport,
        max_crawl_delay=settings.max_crawl_delay,
        total_timeout=settings.timeout,
    )
    if settings.address_is_private is not None:
        fetch.address_is_private = settings.address_is_private
    return fetch


class _Channel:
    """The one pipe to the writer, shared by every site of a run.

    Each site's sender sends through `link(crawl_id)` (its items after a ("to", crawl_id)
    item, a pipe message at a time from one thread); a thread reads the writer's replies
    and hands each site its own ("finished", report), or to every site still waiting the
    writer's ("error", reason) or its death.
    """

    def __init__(self, conn: Connection, writer: Any) -> None:
        self.conn = conn
        self.writer = writer
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="verdicts-send")
        self.replies: dict[int, asyncio.Future[tuple[str, Any]]] = {}
        self.broken = False
        self._closed = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self, crawl_ids: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        self.replies = {crawl_id: loop.create_future() for crawl_id in crawl_ids}
        self._reader = threading.Thread(target=self._read, args=(loop,), name="verdicts-replies", daemon=True)
        self._reader.start()

    def link(self, crawl_id: int) -> _Link:
        return _Link(self, crawl_id)

    async def reply(self, crawl_id: int) -> tuple[str, Any]:
        """The writer's reply for `crawl_id` once it has committed the crawl's last pages."""
        try:
            return await asyncio.wait_for(asyncio.shield(self.replies[crawl_id]), WRITER_FINISH_SECONDS)
        except TimeoutError:
            return ("error", f"the writer did not store the last pages within {WRITER_FINISH_SECONDS:g} s")

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = set(self.replies)
        while waiting and not self._closed.is_set():
            try:
                if self.conn.poll(0.2):
                    message = self.conn.recv()
                elif not self.writer.is_alive():
                    message = self.conn.recv() if self.conn.poll(0) else None
                else:
                    continue
            except (EOFError, OSError):
                message = None
            if message is None:  # gone without a word
                self.writer.join(timeout=10)
                message = (
                    "error",
                    f"the writer process ended unexpectedly (exit code {self.writer.exitcode})",
                )
            kind, payload = message
            targets = [payload.crawl_id] if kind == "finished" else list(waiting)
            for crawl_id in targets:
                waiting.discard(crawl_id)
                loop.call_soon_threadsafe(_settle, self.replies[crawl_id], message)

    def close(self) -> None:
        """Stop reading and close the pipe (the writer, at end-of-file, stores what it holds)."""
        self._closed.set()
        if self._reader is not None:
            self._reader.join()
        self.executor.shutdown(wait=True)
        with contextlib.suppress(OSError):
            self.conn.close()


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


class _Link:
    """One site's end of the shared pipe."""

    def __init__(self, channel: _Channel, crawl_id: int) -> None:
        self.channel = channel
        self.crawl_id = crawl_id

    async def send(self, items: list[tuple[Any, ...]]) -> None:
        data = pickle.dumps([("to", self.crawl_id), *items], protocol=pickle.HIGHEST_PROTOCOL)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.channel.executor, self.channel.conn.send_bytes, data)

    def break_pipe(self) -> None:
        """The writer is unreachable: no site can send any more."""
        self.channel.broken = True
        with contextlib.suppress(OSError):
            self.channel.conn.close()


def _fresh_seeds(starts: list[str], archived: Iterable[str]) -> Iterator[Entry]:
    """The start URLs (depth 0), then the archived pages (depth 1: judged in scope already)."""
    yield from (Entry(url, 0, "html") for url in starts)
    first = set(starts)
    yield from (Entry(url, 1, "html") for url in archived if url not in first)


def _notify(settings: Settings, report: CrawlReport) -> None:
    """Send the crawl's changes to the [[notify]] targets; a failure is recorded, never raised."""
    if not settings.notify or report.crawl_id is None or report.status not in ("completed", "degraded"):
        return
    from crawler.notify import notify_crawl

    try:
        from db.archive import connect_sqlite

        db = connect_sqlite(settings.db_path)
        try:
            report.notifications = notify_crawl(
                db, report.crawl_id, report.site_name, settings.notify, settings.public_url
            )
            db.commit()
        finally:
            db.close()
    except sqlite3.Error as error:
        report.reasons.append(f"notifications not recorded: {error}")


class WriterProcess:
    """The writer child: a fresh interpreter running `crawler.writer.main` on its end of the pipe.

    Started with subprocess rather than multiprocessing's "spawn" (which it otherwise
    mirrors: same interpreter, same sys.path, only the pipe and the archive lock inherited)
    because spawn also starts a resource-tracker process the writer never needs,
    13 MB of issue 8's 150 MB budget.

    The child runs with `-S` (no `site`): it gets this process's sys.path whole, so the
    site-packages' .pth files have nothing left to add, and skipping them saved ~35 ms of
    CPU per crawl (a third of an unchanged re-crawl's writer start-up). Their import
    hooks are skipped too, so the folder this project's packages were imported from
    (which an editable install finds through such a hook) goes first on the path.
    """

    def __init__(
        self,
        conn: Connection,
        db_path: str,
        crawl_id: int | Sequence[int | None] | None,
        lock: ArchiveLock | None = None,
        durability: str = "normal",
    ) -> None:
        fd = conn.fileno()
        code = "import json, sys; sys.path[:] = json.loads(sys.argv[1]); import crawler.writer as w; w.main()"
        path = [_PROJECT_ROOT, *(p for p in sys.path if p != _PROJECT_ROOT)]
        args = [
            sys.executable,
            "-S",
            "-c",
            code,
            json.dumps(path),
            str(fd),
            db_path,
            ",".join(map(str, crawl_id)) if isinstance(crawl_id, Sequence) else str(crawl_id),
            durability,
        ]
        # The writer inherits the archive lock's descriptor: the lock is held until it has
        # exited too, so a crawl started after this process died waits for an orphan writer.
        fds = (fd,) if lock is None else (fd, lock.fileno())
        # Born with SIGINT/SIGTERM blocked (the mask survives fork and exec) until it ignores
        # them: a Ctrl+C or a service stop reaching the group while the child's interpreter
        # starts would kill it, and a clean stop would become a failed crawl.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self._proc = subprocess.Popen(args, pass_fds=fds)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self.pid = self._proc.pid
        if lock is not None:
            lock.note(self.pid, "writer")

    def is_alive(self) -> bool:
        return self._proc.poll() is None

    def join(self, timeout: float | None = None) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout)

    def kill(self) -> None:
        self._proc.kill()
        self._proc.wait()

    @property
    def exitcode(self) -> int | None:
        return self._proc.poll()


@contextlib.contextmanager
def _closing_transaction(settings: Settings) -> Iterator[sqlite3.Connection]:
    """A connection in one IMMEDIATE transaction for a site's end-of-crawl steps: while
    other sites of the run still crawl, their writer commits between any two statements,
    and a deferred transaction that read first could not write after that."""
    from crawler.writer import BUSY_TIMEOUT_MS
    from db.archive import connect_sqlite

    db = connect_sqlite(settings.db_path)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute(f"PRAGMA cache_size = -{CLOSING_CACHE_KIB}")
        db.execute("BEGIN IMMEDIATE")
        yield db
        db.execute("COMMIT")
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()


def _close_failed(settings: Settings, report: CrawlReport, reason: str) -> None:
    report.status = "failed"
    report.reasons.append(reason)
    with contextlib.suppress(sqlite3.Error), _closing_transaction(settings) as db:
        crawl_log.finish(db, report.crawl_id, "failed", reason, stopped_early=True)


def _conclude_sites(
    settings: Settings, sites: list[tuple[CrawlReport, tuple[str, Any], _Loop]], stop: threading.Event
) -> None:
    """Conclude each site in one transaction: what every site's close costs (the writer's
    lock, the near-duplicate pass over new verdicts) is paid once, and nothing here reads the
    whole archive (the summaries are refreshed once per run, by `_refresh_summaries`)."""
    with _closing_transaction(settings) as db:
        for report, reply, loop in sites:
            _conclude(db, settings, report, reply, loop, stop)


def _refresh_summaries(settings: Settings) -> None:
    """Bring the summary tables up to date once the run's sites are concluded: the pages the
    writer stored are in the base tables whatever each crawl's outcome. Once per run, not per
    site (the tools the run touched are recomputed together), and while a slow site holds the
    run open at most every `_Concluder.REFRESH_EVERY_SECONDS`."""
    from db.summaries import refresh

    with _closing_transaction(settings) as db:
        refresh(db)


def _conclude(
    db: sqlite3.Connection,
    settings: Settings,
    report: CrawlReport,
    reply: tuple[str, Any],
    loop: _Loop,
    stop: threading.Event,
) -> None:
    """Decide the crawl's status, run the quality gate and close its crawls row (in `db`'s
    open transaction)."""
    kind, payload = reply
    error: str | None = None
    if kind == "finished":
        report.writer = payload
        report.counts = dict(payload.counts)
    else:  # when the loop could not reach the writer, that is the cause to report
        error = loop.error or f"storing failed: {payload}"
    if error is None and loop.error:
        error = loop.error
    reached = sum(report.outcomes.get(o, 0) for o in REACHED)
    if error is None and report.requests and not reached and not stop.is_set():
        first = report.failures[0][1] if report.failures else "no response"
        error = f"nothing could be fetched from {report.site_name}: {first}"
    if error is not None:
        status = "failed"
        report.reasons.append(error)
    elif stop.is_set() and not loop.finished:
        status = "interrupted"
        report.reasons.append("stopped by a signal; the next crawl resumes the frontier")
    else:
        status = "completed"
        if loop.capped:
            report.reasons.append(
                f"stopped at --max-pages {settings.max_pages}; the next crawl resumes the rest"
            )
        from db.quality import assess_crawl

        quality = assess_crawl(db, report.crawl_id)
        report.unreadable, report.unreadable_count = quality.unreadable, quality.unreadable_count
        if quality.unreadable_count:
            from db.renders import count_client_rendered

            report.client_rendered = count_client_rendered(db, report.crawl_id)
        if quality.degraded:
            status = "degraded"
            report.reasons.extend(f"quality: {reason}" for reason in quality.reasons)
    report.status = status
    report.changes = count_changes(db, report.crawl_id)
    stopped_early = status == "failed" or loop.capped
    crawl_log.finish(db, report.crawl_id, status, "; ".join(report.reasons) or None, stopped_early)


def _internal_failure(entry: Entry, error: Exception) -> Any:
    """A failed FetchResult for a URL whose fetch or discovery raised (a bug, not the network)."""
    from datetime import UTC, datetime

    from crawler.fetch import FetchResult

    reason = f"internal error: {type(error).__name__}: {error}"
    kind = entry.kind if entry.kind in ("html", "sitemap") else "other"
    return FetchResult(
        url=entry.url, final_url=entry.url, outcome="failed", http_status=None,
        content_type=None, etag=None, last_modified=None, body=b"", text=None, encoding=None,
        kind=kind, fetched_at=datetime.now(UTC).isoformat(), error=reason[:500],
    )  # fmt: skip


def _weight(item: tuple[Any, ...]) -> int:
    """How much a pipe item weighs, in frontier entries: chunks stay small to pickle."""
    if item[0] == "add":
        return len(item[1])
    if item[0] == "result":
        return 1 + len(item[2])
    return 1


class _Loop:
    """The asyncio side of one crawl: workers, discovery and the sender to the writer."""

    def __init__(
        self,
        settings: Settings,
        site: Site,
        scope: Scope,
        link: _Link,
        validators: Validators,
        progress: Progress,
        stop: threading.Event,
        report: CrawlReport,
    ) -> None:
        self.settings = settings
        self.site = site
        self.scope = scope
        self.link = link
        self.validators = validators
        self.progress = progress
        self.stop = stop
        self.report = report
        # hash(url), not the URL: a str costs ~120 bytes for the whole crawl, its hash 8
        # bytes in a HashSet (64-bit SipHash: a collision among a million URLs ~ 1e-8)
        self.seen = HashSet()
        self.judged = HashSet()
        self.queue = PendingQueue()  # a bounded window in memory, the rest in a temporary file
        self.out: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue(OUT_QUEUE_ITEMS)
        # frontier entries in "add" items not yet taken by the sender: a sitemap's chunks
        # wait for this to fall (the out queue alone would hold a whole sitemap's worth)
        self.adds_waiting = 0
        self.adds_taken = asyncio.Event()
        self.idle: set[asyncio.Task[None]] = set()
        self.halt = asyncio.Event()
        self.finished = False
        self.capped = False
        self.error: str | None = None
        self.extract_links: Any = None
        self.iter_sitemap: Any = None
        self.stored_links = StoredLinks(settings.db_path, MAX_LINKS_PER_PAGE)
        self.renderer: Any = None  # crawler.render.Renderer for a render = "browser" site

    async def run(
        self,
        seeds: Iterable[Entry],
        known: Iterable[str],
        fresh: bool,
        starts: list[str],
        shared: Any = None,
        browser: Any = None,
    ) -> None:
        """Fetch the site's frontier to the end (or a stop); `shared`: the run's connections
        and politeness (crawler.fetch.SharedFetching), else the fetcher's own; `browser`:
        the run's crawler.render.Browser for a render = "browser" site."""
        from crawler.fetch import Fetcher
        from parsers.links import extract_links
        from parsers.sitemaps import iter_sitemap

        self.extract_links, self.iter_sitemap = extract_links, iter_sitemap

        sender = asyncio.create_task(self._sender())
        watcher = asyncio.create_task(self._watch_stop())
        try:
            fetching = Fetcher(fetch_settings(self.settings, self.scope.hosts), shared=shared)
            async with fetching as fetcher, contextlib.AsyncExitStack() as stack:
                if self.site.render == "browser" and not await self._open_renderer(fetcher, browser, stack):
                    return
                origins = sorted({origin_of(url) for url in starts})
                rules = [await fetcher.robots(origin) for origin in origins]
                if not any(r.reachable for r in rules):
                    self.error = f"robots.txt unreachable for every host ({rules[0].error})"
                    return
                self.seen.update(map(hash, known))
                if fresh:  # start URLs, then archived pages, then sitemaps: queued a chunk at a time
                    # archived pages (depth 1) were judged in scope by known_pages already
                    entries = iter(seeds)
                    while chunk := list(itertools.islice(entries, ADD_CHUNK_ENTRIES)):
                        for scoped in (False, True):
                            urls = [e.url for e in chunk if (e.depth > 0) is scoped]
                            admitted = self._admit(urls, 0, "html", False, canonical=True, scoped=scoped)
                            await self._queue_adds(admitted)
                    for origin in origins:
                        sitemaps = await fetcher.sitemaps_for(origin)
                        urls = [*sitemaps, f"{origin}/sitemap.xml"]
                        await self._queue_adds(self._admit(urls, 0, "sitemap", False))
                else:  # resumed: the scope may have been narrowed since
                    self.queue.extend(e for e in seeds if e.kind == "sitemap" or self.scope.allows(e.url))
                workers = [
                    asyncio.create_task(self._worker(fetcher))
                    for _ in range(max(1, self.settings.concurrency))
                ]
                joined = asyncio.create_task(self.queue.join())
                halted = asyncio.create_task(self.halt.wait())
                await asyncio.wait({joined, halted}, return_when=asyncio.FIRST_COMPLETED)
                self.finished = joined.done() and not self.halt.is_set()
                self.halt.set()
                if self.renderer is not None:
                    self.renderer.stop()  # pages loading now are closed, not waited for
                for task in self.idle:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                joined.cancel()
                halted.cancel()
        finally:
            watcher.cancel()
            self.queue.close()
            self.stored_links.close()
            await self.out.put(("finish",))
            with contextlib.suppress(Exception):
                await sender

    async def _open_renderer(self, fetcher: Any, browser: Any, stack: contextlib.AsyncExitStack) -> bool:
        """Open the site's context in the run's browser (crawler/render.py); False, with the
        cause in `error`, if it cannot start (nothing has been fetched yet)."""
        from crawler.render import Renderer

        renderer = Renderer(fetcher, browser, self.scope.hosts, user_agent=self.settings.user_agent)
        try:
            self.renderer = await stack.enter_async_context(renderer)
        except Exception as error:
            self.error = f"the browser could not start: {type(error).__name__}: {str(error).splitlines()[0]}"
            return False
        self.report.rendered = renderer.stats
        return True

    async def _watch_stop(self) -> None:
        while not self.stop.is_set():
            await asyncio.sleep(0.1)
        self.halt.set()

    async def _worker(self, fetcher: Any) -> None:
        me = asyncio.current_task()
        assert me is not None
        max_pages = self.settings.max_pages
        while not self.halt.is_set():
            self.idle.add(me)
            try:
                entry = await self.queue.get()
            finally:
                self.idle.discard(me)
            try:
                if self.halt.is_set():
                    return
                if max_pages is not None and self.report.requests >= max_pages:
                    self.capped = True
                    self.halt.set()
                    return
                self.report.requests += 1
                etag, modified = (None, None)
                if entry.kind == "html":
                    etag, modified = self.validators.get(entry.url)
                try:
                    # bytes only (the writer decodes them): half the bytes through the pipe
                    result = await fetcher.fetch(
                        entry.url, etag=etag, last_modified=modified, kind_hint=entry.kind, decode=False
                    )
                    if self.renderer is not None and result.outcome == "fetched" and result.kind == "html":
                        rendered = await self.renderer.render(result)  # a 304 is never rendered
                        if rendered is None:  # stopped mid-render: left in the frontier for the next crawl
                            continue
                        result = rendered
                    if result.kind == "sitemap" and result.outcome == "fetched":
                        # its URLs go in chunks as they are read; the writer stores no sitemap
                        await self._discover_sitemap(result, entry)
                        result, found = replace(result, body=b"", body_file=None), []
                    else:
                        result, found = self._discover(result, entry)
                except Exception as error:  # a bug on one URL must not stall the crawl
                    result, found = _internal_failure(entry, error), []
                await self.out.put(("result", result, found, entry.kind == "html"))
                self._count(result)
            finally:
                self.queue.task_done()

    async def _queue_adds(self, entries: list[Entry]) -> None:
        """Queue admitted entries here and, as one "add" message, in the writer's frontier."""
        if entries:
            self.queue.extend(entries)
            self.adds_waiting += len(entries)
            await self.out.put(("add", entries))
            while self.adds_waiting > MAX_ADDS_WAITING:
                self.adds_taken.clear()
                await self.adds_taken.wait()

    async def _discover_sitemap(self, result: Any, entry: Entry) -> None:
        """Queue a sitemap's new URLs a chunk at a time (a sitemap may list a whole site)."""
        if result.final_url and result.final_url != result.url:
            self.seen.add(hash(result.final_url))
        chunk: list[str] = []
        chunk_is_child = False
        spooled = result.body_file
        try:
            for is_child, url in self.iter_sitemap(result.body if spooled is None else spooled):
                if chunk and (is_child != chunk_is_child or len(chunk) >= ADD_CHUNK_ENTRIES):
                    await self._queue_sitemap_chunk(chunk, chunk_is_child, entry.depth)
                    chunk = []
                chunk_is_child = is_child
                chunk.append(url)
        finally:
            if spooled is not None:
                spooled.close()  # (its disk space goes with it: the file has no name)
        if chunk:
            await self._queue_sitemap_chunk(chunk, chunk_is_child, entry.depth)

    async def _queue_sitemap_chunk(self, urls: list[str], children: bool, depth: int) -> None:
        if children:  # child sitemaps need only an allowed host, like the first sitemaps
            await self._queue_adds(self._admit(urls, depth, "sitemap", False))
        else:
            await self._queue_adds(self._admit(urls, depth + 1, "html"))

    def _count(self, result: Any) -> None:
        outcomes = self.report.outcomes
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        if result.outcome in ("failed", "skipped") and len(self.report.failures) < MAX_FAILURES_KEPT:
            self.report.failures.append((result.url, result.error or result.outcome))
        self.progress.page(result.outcome, self.queue.qsize())

    def _discover(self, result: Any, entry: Entry) -> tuple[Any, list[Entry]]:
        """New in-scope URLs from an HTML page, fetched or unchanged (304); queued here,
        returned for the frontier with the result (carrying the page's links to keep)."""
        if result.final_url and result.final_url != result.url:
            self.seen.add(hash(result.final_url))
        if result.kind != "html":
            return result, []
        if result.outcome == "not_modified":
            # its links are followed as on a first crawl: a page reachable only through an
            # unchanged page is new since, or was gone, or was never reached (issue 14)
            stored = self.stored_links.get(result.url)
            if stored is None:
                return result, []
            urls, from_body = stored
            if len(urls) == MAX_LINKS_PER_PAGE:
                self._note(result.url, f"links beyond the first {MAX_LINKS_PER_PAGE} not followed")
            if from_body:  # read from an old archive's body: keep them for the next crawl
                result = replace(result, links=tuple(urls))
        elif result.outcome == "fetched" and result.body:
            # UTF-8 bytes go straight to lexbor; only other encodings are decoded first
            html: str | bytes = result.body if result.rendered is None else result.rendered
            if result.rendered is None and result.encoding != "utf-8":
                from crawler.encoding import decode_as

                html = decode_as(result.body, result.encoding or "utf-8")
            urls = self.extract_links(html, result.final_url or result.url, MAX_LINKS_PER_PAGE)
            if len(urls) == MAX_LINKS_PER_PAGE:
                self._note(result.url, f"links beyond the first {MAX_LINKS_PER_PAGE} not followed")
            if any(len(url) > MAX_URL_CHARS for url in urls):
                kept = [url for url in urls if len(url) <= MAX_URL_CHARS]
                self._note(
                    result.url,
                    f"{len(urls) - len(kept)} links longer than {MAX_URL_CHARS} characters not followed",
                )
                urls = kept
            result = replace(result, links=tuple(urls))
        else:
            return result, []
        found = self._admit(urls, entry.depth + 1, "html")
        for item in found:
            self.queue.put_nowait(item)
        return result, found

    def _note(self, url: str, note: str) -> None:
        """A reason the crawl left something of `url` out, for the summary (the first few)."""
        if len(self.report.failures) < MAX_FAILURES_KEPT:
            self.report.failures.append((url, note))

    def _admit(
        self,
        urls: Iterable[str],
        depth: int,
        kind: str,
        check_scope: bool = True,
        canonical: bool = False,
        scoped: bool = False,
    ) -> list[Entry]:
        """Canonical, unseen, in-scope entries (sitemaps and seeds need only an allowed host).

        Pages repeat the same links (navigation, pagination), and canonicalising costs
        more than the rest of discovery, so each raw spelling is judged only once: an
        already-canonical one is found in `seen`, any other is remembered in `judged`.
        `canonical` says the URLs already are (start URLs, the archive's pages: most of a
        re-crawl's seeds), so they are not canonicalised again; `scoped` that they were
        judged in scope already (the archive's pages, by `known_pages`).
        """
        admitted = []
        judged, seen = self.judged, self.seen
        for raw in urls:
            raw_hash = hash(raw)
            if raw_hash in seen or raw_hash in judged:
                continue
            url = raw if canonical else try_canonicalize(raw) if len(raw) <= MAX_URL_CHARS else None
            if url is None:
                judged.add(raw_hash)
                continue
            url_hash = raw_hash if url == raw else hash(url)
            if url_hash in seen or not (scoped or self._in_scope(url, check_scope)):
                judged.add(raw_hash)
                continue
            if url_hash != raw_hash:
                judged.add(raw_hash)  # canonical spellings are found in `seen`; keep only others
            seen.add(url_hash)
            admitted.append(Entry(url, depth, kind))
        return admitted

    def _in_scope(self, url: str, check_scope: bool) -> bool:
        if check_scope:
            return self.scope.allows(url)
        return host_matches(host_of(url), self.scope.hosts)

    async def _sender(self) -> None:
        """Move items from the bounded queue to the writer, a chunk per pipe message.

        Whatever goes wrong here (the writer gone, an item that cannot be pickled, a bug)
        stops the crawl at once with its cause in `error` (the summary and `crawls.error`)
        and keeps draining the queue so that no worker blocks on it. The writer gone, the
        pipe is closed (every site of the run stops); otherwise the site's "finish" still
        goes, so that the writer commits what it holds of the site and replies.
        """
        failed = False
        while True:
            items = [await self.out.get()]
            if not failed:
                try:
                    await self._send(items)
                except Exception as error:
                    failed = True
                    self._sender_failed(error)
            if failed:  # drain: the producers waiting for room are released
                self.adds_waiting = 0
                self.adds_taken.set()
            if items[-1][0] == "finish":
                if failed and not self.link.channel.broken:
                    with contextlib.suppress(Exception):
                        await self.link.send([("finish",)])
                return

    async def _send(self, items: list[tuple[Any, ...]]) -> None:
        """Send `items` and whatever else is waiting (up to a chunk) as one pipe message."""
        weight = _weight(items[0])
        while len(items) < SEND_CHUNK_ITEMS and weight < ADD_CHUNK_ENTRIES and not self.out.empty():
            item = self.out.get_nowait()
            items.append(item)
            weight += _weight(item)
        taken = sum(len(item[1]) for item in items if item[0] == "add")
        if taken:
            self.adds_waiting -= taken
            self.adds_taken.set()
        await self.link.send(items)

    def _sender_failed(self, error: Exception) -> None:
        if isinstance(error, OSError):
            self.error = f"the writer process stopped ({type(error).__name__}: {error})"
        else:
            self.error = f"results could not be sent to the writer: {type(error).__name__}: {error}"
        self.halt.set()
        if isinstance(error, OSError):
            self.link.break_pipe()
