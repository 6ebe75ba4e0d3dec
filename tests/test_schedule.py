"""`verdicts schedule`: the job's settings, and real crawls on a one-second trigger."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from crawler.config import Settings, Site
from crawler.schedule import MISFIRE_GRACE_SECONDS, build_scheduler, cron_trigger
from crawler.static_server import StaticServer


def settings(db_path: Path, origin: str = "http://127.0.0.1:1", **extra: object) -> Settings:
    site = Site(name="fixture", start_urls=(f"{origin}/",))
    return Settings(db_path=db_path, sites=(site,), delay=0.0, **extra)  # type: ignore[arg-type]


def test_the_job_uses_the_cron_line_and_the_polite_options(archive_path: Path) -> None:
    chosen = settings(archive_path, schedule="15 2 * * 1", timezone="America/New_York")
    scheduler, _, _ = build_scheduler(chosen)
    (job,) = scheduler.get_jobs()
    assert isinstance(job.trigger, CronTrigger)
    assert job.trigger.timezone == ZoneInfo("America/New_York")
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["minute"], fields["hour"], fields["day_of_week"]) == ("15", "2", "mon")
    assert (job.coalesce, job.max_instances) == (True, 1)
    assert job.misfire_grace_time == MISFIRE_GRACE_SECONDS == 6 * 3600
    start = datetime(2026, 1, 1, tzinfo=ZoneInfo("America/New_York"))  # a Thursday
    nxt = job.trigger.get_next_fire_time(None, start)
    assert (nxt.weekday(), nxt.hour, nxt.minute) == (0, 2, 15)


def test_default_schedule_is_three_in_the_morning_local_time(archive_path: Path) -> None:
    scheduler, _, _ = build_scheduler(settings(archive_path))
    (job,) = scheduler.get_jobs()
    start = datetime.now(job.trigger.timezone)
    nxt = job.trigger.get_next_fire_time(None, start)
    assert (nxt.hour, nxt.minute) == (3, 0)
    assert timedelta(0) < nxt - start <= timedelta(days=1)


def test_run_now_fires_at_start(archive_path: Path) -> None:
    scheduler, _, _ = build_scheduler(settings(archive_path), run_now=True)
    (job,) = scheduler.get_jobs()
    assert abs(job.next_run_time - datetime.now(job.next_run_time.tzinfo)) < timedelta(seconds=5)


SCRIPT = """
import sys
from pathlib import Path
from apscheduler.triggers.interval import IntervalTrigger
from crawler.config import Settings, Site
from crawler.schedule import run_schedule

if __name__ == "__main__":
    settings = Settings(
        db_path=Path(sys.argv[1]), sites=(Site("fixture", (sys.argv[2] + "/",)),), delay=0.0
    )
    sys.exit(run_schedule(settings, run_now=True, trigger=IntervalTrigger(seconds=1)))
"""


def crawls(db_path: Path) -> list[tuple[int, str]]:
    if not db_path.exists():
        return []
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        return conn.execute("SELECT id, status FROM crawls ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def test_scheduled_crawls_run_and_sigterm_stops_cleanly(
    server: StaticServer, archive_path: Path, tmp_path: Path
) -> None:
    script = tmp_path / "schedule_now.py"
    script.write_text(textwrap.dedent(SCRIPT))
    process = subprocess.Popen(
        [sys.executable, str(script), str(archive_path), server.origin],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while sum(status == "completed" for _, status in crawls(archive_path)) < 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "two scheduled crawls did not complete"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "SIGTERM: stopping after the pages in flight" in err
    assert "schedule stopped" in err
    rows = crawls(archive_path)
    assert "running" not in {status for _, status in rows}
    assert out.count("Crawl ") == len(rows)
    # the second run re-crawled conditionally: the archive did not grow snapshots
    conn = sqlite3.connect(archive_path)
    try:
        fetched = conn.execute("SELECT pages_fetched FROM crawls ORDER BY id").fetchall()
    finally:
        conn.close()
    assert fetched[0][0] > 0 and fetched[1][0] == 0


@pytest.mark.parametrize(
    ("line", "weekdays"),
    [
        ("0 3 * * 1", {0}),  # crontab 1 = Monday (APScheduler 3 alone would say Tuesday)
        ("0 3 * * 0", {6}),
        ("0 3 * * 7", {6}),
        ("0 3 * * 1-5", {0, 1, 2, 3, 4}),
        ("0 3 * * 0-6", set(range(7))),
        ("0 3 * * sat,sun", {5, 6}),
        ("0 3 * * *", set(range(7))),
    ],
)
def test_weekday_numbers_mean_what_they_mean_in_crontab(line: str, weekdays: set[int]) -> None:
    trigger = cron_trigger(line, ZoneInfo("UTC"))
    moment = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))
    seen = set()
    for _ in range(14):
        moment = trigger.get_next_fire_time(None, moment + timedelta(minutes=1))
        seen.add(moment.weekday())
    assert seen == weekdays
