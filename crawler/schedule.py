"""`verdicts schedule`: crawl every configured site on a cron schedule, in one long process.

APScheduler 3's BlockingScheduler runs the crawl job on the cron line from
verdicts.toml (default 03:00 in the machine's local time zone). `coalesce` and
`max_instances=1` mean a slow night never stacks up runs, and a misfire grace time of
six hours means a machine that was asleep at 03:00 still crawls when it wakes, but
not in the afternoon. The archive is opened inside each run, never held between runs.

SIGINT / SIGTERM stop the scheduler and tell a running crawl to stop after the pages
in flight (its frontier is kept, so the next run resumes it); the process then exits 0.
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import click
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from crawler.config import Settings

if TYPE_CHECKING:  # the scheduler module scans installed plugins on import: only `schedule` needs it
    from apscheduler.schedulers.blocking import BlockingScheduler

MISFIRE_GRACE_SECONDS = 6 * 3600
JOB_ID = "crawl"
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_trigger(expr: str, timezone: tzinfo) -> CronTrigger:
    """`CronTrigger.from_crontab` with crontab's weekday numbers (0 or 7 = Sunday).

    APScheduler 3 reads day-of-week numbers with 0 = Monday (its issue 286), so
    "0 3 * * 1" would run on Tuesdays; numbers are turned into day names first.
    Raises ValueError for a line that is not a cron expression.
    """
    fields = expr.split()
    if len(fields) == 5:
        fields[4] = _weekday_names(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=timezone)


def _weekday_names(field: str) -> str:
    parts = []
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        if not any(ch.isdigit() for ch in span) and not (span == "*" and step_text):
            parts.append(part)  # names, "*", "last" ...: same meaning in both
            continue
        if span == "*":
            low, high = 0, 6
        else:
            low_text, _, high_text = span.partition("-")
            low = int(low_text)
            high = int(high_text) if high_text else (6 if step_text else low)
        step = int(step_text) if step_text else 1
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high and step > 0):
            raise ValueError(f"bad day-of-week field {field!r}")
        parts.extend(_DAY_NAMES[day] for day in range(low, high + 1, step))
    return ",".join(dict.fromkeys(parts))


class _Job:
    """One scheduled run: every site together, each with its own crawls row."""

    def __init__(self, settings: Settings, stop: threading.Event) -> None:
        self.settings = settings
        self.stop = stop
        self.running = threading.Lock()
        self.runs = 0

    def __call__(self) -> None:
        from crawler.engine import CrawlError, crawl_sites
        from crawler.progress import format_summary

        with self.running:
            self.runs += 1
            if self.stop.is_set():
                return
            names = ", ".join(site.name for site in self.settings.sites)
            try:  # every site together, each summary printed as its site ends
                crawl_sites(
                    self.settings,
                    self.settings.sites,
                    stop=self.stop,
                    on_report=lambda report: click.echo(format_summary(report)),
                )
            except CrawlError as error:
                _log(f"crawl of {names} did not run: {error}")
            except Exception as error:  # a bad night must not end the schedule
                _log(f"crawl of {names} failed: {type(error).__name__}: {error}")


def build_scheduler(
    settings: Settings, *, run_now: bool = False, trigger: BaseTrigger | None = None
) -> tuple[BlockingScheduler, _Job, threading.Event]:
    """The scheduler with its crawl job added (not started); `trigger` replaces the cron line."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    zone = settings.zone()
    stop = threading.Event()
    job = _Job(settings, stop)
    scheduler = BlockingScheduler(timezone=zone)
    options: dict[str, Any] = {}
    if run_now:
        options["next_run_time"] = datetime.now(zone)
    scheduler.add_job(
        job,
        trigger or cron_trigger(settings.schedule, zone),
        id=JOB_ID,
        name="verdicts crawl",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
        **options,
    )
    return scheduler, job, stop


def run_schedule(settings: Settings, run_now: bool = False, *, trigger: BaseTrigger | None = None) -> int:
    """Block, crawling on schedule, until SIGINT or SIGTERM; returns the exit code."""
    if not settings.sites:
        raise click.ClickException("No sites to crawl: add [[sites]] with start_urls to verdicts.toml.")
    scheduler, job, stop = build_scheduler(settings, run_now=run_now, trigger=trigger)

    def on_signal(signum: int, frame: Any) -> None:
        if not stop.is_set():
            _log(f"{signal.Signals(signum).name}: stopping after the pages in flight")
            stop.set()
            scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        scheduler.add_listener(lambda event: _log_next(scheduler), mask=_JOB_DONE_EVENTS)
        first = scheduler.get_job(JOB_ID).trigger.get_next_fire_time(None, now(settings))
        _log(f"next crawl at {(now(settings) if run_now else first).isoformat(timespec='seconds')}")
        scheduler.start()
    finally:
        with job.running:  # a crawl in flight finishes its pages and closes its row
            pass
        for sig, old in previous.items():
            signal.signal(sig, old)
    _log("schedule stopped")
    return 0


def now(settings: Settings) -> datetime:
    return datetime.now(settings.zone())


def _log_next(scheduler: BlockingScheduler) -> None:
    job = scheduler.get_job(JOB_ID)
    when = getattr(job, "next_run_time", None)
    if when is not None:
        _log(f"next crawl at {when.isoformat(timespec='seconds')}")


def _log(message: str) -> None:
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"{stamp} schedule: {message}", file=sys.stderr, flush=True)


def _job_done_events() -> int:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED

    return EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED


_JOB_DONE_EVENTS = _job_done_events()
