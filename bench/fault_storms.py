"""Kill storms and concurrent commands for bench/faults.py (and, a few at a time, the tests).

A kill storm runs a command and SIGKILLs it at a random point of its own progress
(bench/kill_points.py): the whole process group, or one process of it alone (the crawl's
writer; the reparse's main process, leaving its workers). After each kill it checks what a
crash must never do: the archive passes `PRAGMA integrity_check` and `foreign_key_check`,
the next run completes, its rows equal those of one clean crawl table by table, and it
fetched again (status 200, a full body) only pages that were not committed before the kill.
It counts, per phase, the kills that landed while the run was still running and the runs
that ended before their kill ("missed").
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.kill_points import (  # noqa: E402
    PHASES,
    STUCK_SECONDS,
    CrawlProgress,
    ReparseProgress,
    Target,
    as_after_parser_change,
    crawl_target,
    reparse_target,
    wait_for,
)
from db.archive import sqlite_uri  # noqa: E402
from tests.archive_compare import archive_content, differences, integrity_problems  # noqa: E402
from tests.loopback import free_port  # noqa: E402

COMMAND = [sys.executable, "-m", "crawler.cli"]
#: How long a command whose writer (or main process) was killed may take to exit by itself.
EXIT_AFTER_KILL = 120.0
#: `--delay` of the crawls that are killed. The writer commits at most about every second
#: (crawler/writer.py, COMMIT_SECONDS): with no delay the bundled site is fetched in a few
#: tenths of a second and all its pages commit in one transaction, so no kill could land
#: between two commits of pages; 0.05 s between requests spreads them over ~2 s, two or three
#: commits. The runs after the kills use no delay.
STORM_DELAY = "0.05"


OUTCOMES = ("landed", "missed", "timed out", "early")


def misses_allowed(kills: int) -> int:
    """Kills whose run may end before them (`Storm.missed`) in a storm that counts.

    With a working watch a kill misses only when the run ends between its point and the
    next poll (10 ms and a query), i.e. at the points just before its end: after the last
    commit a crawl has a few tenths of a second of end steps left, a reparse one tenth,
    and a load that slows the watch slows the run as much. One kill in ten, and at least
    one, tolerates that; a watch that does not see the archive's progress misses every
    kill at a point in the archive, and one that fires early is caught by the archive
    read after the kill ("early")."""
    return max(1, kills // 10)


def start(*args: str, log: Path | None = None) -> subprocess.Popen[str]:
    """`verdicts ARGS` in its own process group (so the group can be killed alone)."""
    output = subprocess.DEVNULL if log is None else log.open("w")
    return subprocess.Popen(
        [*COMMAND, *args],
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, start_new_session=True
    )


def children(pid: int) -> list[int]:
    """Live direct children of `pid` (from /proc; not the zombies of exited ones)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def last_crawl(path: Path) -> tuple[int, int]:
    """(id of the archive's last crawl, its frontier rows): 0, 0 without one."""
    if not path.exists():
        return 0, 0
    conn = sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True)
    try:
        (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM crawls").fetchone()
        (rows,) = conn.execute("SELECT count(*) FROM frontier WHERE crawl_id = ?", (last,)).fetchone()
        return last, rows
    finally:
        conn.close()


def committed_urls(path: Path) -> set[str]:
    """URLs whose snapshot is committed in the archive at `path`."""
    if not path.exists():
        return set()
    conn = sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True)
    try:
        return {url for (url,) in conn.execute("SELECT DISTINCT url FROM snapshots")}
    except sqlite3.Error:
        return set()
    finally:
        conn.close()


@dataclass
class Storm:
    """Counts of one storm."""

    name: str
    kills: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    #: (phase, outcome) of each kill: "landed" (at its point, the run still running),
    #: "missed" (the run ended first), "timed out" (stuck: killed anyway), "early" (the
    #: archive read after the kill does not show the point reached: the watch misread it)
    landings: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: of the kills that landed: "none", "part" or "all" of the pages committed at the kill
    committed: Counter[str] = field(default_factory=Counter)

    def check(self, label: str, passed: bool, note: str = "") -> None:
        self.counts[label] += passed
        self.counts.setdefault(label, 0)
        if not passed and note and len(self.notes) < 10:
            self.notes.append(f"{label}: {note}")

    def landed(self, target: Target, outcome: str, committed: int, total: int) -> None:
        self.landings[(target.phase, outcome)] += 1
        if outcome == "landed":
            self.committed["none" if not committed else "all" if committed >= total else "part"] += 1
        elif len(self.notes) < 10:
            self.notes.append(f"{outcome}: {target}")

    @property
    def missed(self) -> int:
        """Kills whose run ended before them (tolerated up to `misses_allowed`)."""
        return sum(count for (_, outcome), count in self.landings.items() if outcome == "missed")

    @property
    def misfired(self) -> int:
        """Kills that came early or after a run stuck at start-up: never tolerated."""
        return sum(
            count for (_, outcome), count in self.landings.items() if outcome in ("early", "timed out")
        )

    def failures(self) -> list[str]:
        checks = {label: count for label, count in self.counts.items() if not label.startswith("killed")}
        return [label for label, count in checks.items() if count != self.kills]


def kill_at(
    process: subprocess.Popen[str],
    reached: Callable[[], bool],
    mode: str,
    wait_group: bool = True,
    timeout: float = STUCK_SECONDS,
) -> tuple[str, str]:
    """Once `reached()`, SIGKILL `process` (mode "group") or one process of it (mode "child":
    its first child, the crawl's writer; mode "main": the main process alone). Returns what
    was killed ("none" when the command had already finished) and the outcome: "landed"
    (the run still running), "missed" (it ended first) or "timed out" (`reached()` still
    false after `timeout`: killed anyway). `wait_group`: return only once no process of
    the group is left (else an orphan may still be writing)."""
    waited = wait_for(reached, lambda: process.poll() is None, timeout)
    if process.poll() is not None:
        return "none", "missed"
    if mode == "group":
        os.killpg(process.pid, signal.SIGKILL)
        victim = "group"
    elif mode == "child":
        kids = children(process.pid)
        if not kids:
            os.killpg(process.pid, signal.SIGKILL)
            victim = "group (no writer)"
        else:
            os.kill(kids[0], signal.SIGKILL)
            victim = "child"
    else:
        os.kill(process.pid, signal.SIGKILL)
        victim = "main"
    try:
        process.wait(timeout=EXIT_AFTER_KILL)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        victim += " (hung: group killed)"
    if wait_group:
        with_group_gone(process.pid)
    # a live writer was killed, or the process died of the signal (not an exit of its own
    # between the last poll and the kill)
    landed = victim == "child" or process.returncode == -signal.SIGKILL
    if waited == "timed out":
        return victim, "timed out"
    return victim, "landed" if landed else "missed"


def with_group_gone(pgid: int, timeout: float = 30.0) -> None:
    """Wait until no process of group `pgid` is left (orphaned workers, a writer finishing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def crawl_storm(
    work: Path,
    origin: str,
    kills: int,
    requests: list,
    rng: random.Random,
    clean: dict[str, set],
    modes: tuple[str, ...] = ("group", "child", "main"),
    targets: Sequence[Target] = (),
) -> Storm:
    """`kills` crawls killed at a random point of their progress: even ones on a fresh
    archive, odd ones re-crawls; the kills take the whole group, the writer alone and the
    crawl process alone in turn (`modes`). After the crawl process alone, the checks and the
    next run start at once, while its orphaned writer may still be storing: the next run
    must wait for it. `requests`: the server's request log (the "fetched k" points);
    `targets`: the points to kill at, in turn, instead of random ones."""
    storm = Storm("crawl")
    complete = work / "storm-complete.db"
    sent = len(requests)
    run("crawl", f"{origin}/", "--db", str(complete), "--delay", "0")
    # what a clean run commits and sends, fresh and as a re-crawl: the range of its points
    pages, sends = {True: last_crawl(complete)[1]}, {True: len(requests) - sent}
    for file in (complete, *complete.parent.glob(complete.name + "-*")):
        if file.name.endswith(("-wal", "-shm")):
            file.unlink()
    reference = work / "storm-recrawl.db"
    shutil.copy(complete, reference)
    sent = len(requests)
    run("crawl", f"{origin}/", "--db", str(reference), "--delay", "0")
    pages[False], sends[False] = last_crawl(reference)[1], len(requests) - sent
    for number in range(kills):
        path = work / f"storm-crawl-{number}.db"
        fresh = number % 2 == 0
        if not fresh:
            shutil.copy(complete, path)
        mode = modes[number % len(modes)]
        target = targets[number] if targets else crawl_target(rng, pages[fresh], sends[fresh], fresh)
        progress = CrawlProgress(path, last_crawl(path)[0], requests, len(requests))
        process = start("crawl", f"{origin}/", "--db", str(path), "--delay", STORM_DELAY)
        try:
            victim, outcome = kill_at(
                process,
                partial(progress.reached, target, process.pid, pages[fresh]),
                mode,
                wait_group=mode != "main",
            )
        finally:
            progress.reader.close()
        if outcome == "landed" and progress.confirm(target, pages[fresh]) is False:
            outcome = "early"
        storm.kills += 1
        storm.landed(target, outcome, progress.committed, pages[fresh])
        problems = integrity_problems(path) if path.exists() else []
        storm.check("integrity_check ok and foreign keys hold", not problems, "; ".join(problems)[:200])
        committed = committed_urls(path)
        seen = len(requests)
        again = run("crawl", f"{origin}/", "--db", str(path), "--delay", "0")
        storm.check("next run completed", again.returncode == 0, f"{victim}: {again.stdout[-300:]}")
        refetched = {
            f"{origin}{r.path}"
            for r in requests[seen:]
            if r.status == 200 and f"{origin}{r.path}" in committed
        }
        storm.check(
            "fetched again only pages not committed", not refetched, f"{victim}: {sorted(refetched)[:3]}"
        )
        diff = differences(archive_content(path), clean)
        storm.check("rows equal a clean crawl's, table by table", not diff, f"{victim}: {diff}")
        storm.counts[f"killed: {victim}"] += 1
        path.unlink(missing_ok=True)
        for side in path.parent.glob(path.name + "*"):
            side.unlink(missing_ok=True)
    return storm


def reparse_storm(
    work: Path,
    origin: str,
    kills: int,
    rng: random.Random,
    clean: dict[str, set],
    modes: tuple[str, ...] = ("group", "main"),
    targets: Sequence[Target] = (),
) -> Storm:
    """`kills` `reparse --force` runs killed at a random point of their progress (the group,
    or the main process alone), each on a copy of a clean crawl as a parser change leaves
    it (`as_after_parser_change`: every page is rebuilt and committed in turn); the next
    run, a plain `reparse`, must finish the pages not committed. `targets` as for crawls."""
    storm = Storm("reparse")
    complete = work / "storm-reparse-source.db"
    run("crawl", f"{origin}/", "--db", str(complete), "--delay", "0")
    snapshots = as_after_parser_change(complete)
    for number in range(kills):
        path = work / f"storm-reparse-{number}.db"
        shutil.copy(complete, path)
        mode = modes[number % len(modes)]
        target = targets[number] if targets else reparse_target(rng, snapshots)
        progress = ReparseProgress(path, snapshots)
        process = start("reparse", "--force", "--db", str(path))
        try:
            reached = partial(progress.reached, target, process.pid, snapshots)
            victim, outcome = kill_at(process, reached, mode)
        finally:
            progress.reader.close()
        if outcome == "landed" and progress.confirm(target, snapshots) is False:
            outcome = "early"
        storm.kills += 1
        storm.landed(target, outcome, progress.committed, snapshots)
        problems = integrity_problems(path)
        storm.check("integrity_check ok and foreign keys hold", not problems, "; ".join(problems)[:200])
        again = run("reparse", "--db", str(path))
        storm.check("next run completed", again.returncode == 0, f"{victim}: {again.stdout[-300:]}")
        diff = differences(archive_content(path), clean)
        storm.check("rows equal a clean crawl's, table by table", not diff, f"{victim}: {diff}")
        storm.counts[f"killed: {victim}"] += 1
        for side in path.parent.glob(path.name + "*"):
            side.unlink(missing_ok=True)
    return storm


def print_storm(storm: Storm) -> None:
    print(f"  {storm.name}: {storm.kills} kills")
    print(f"    {'point of the kill':<30}" + "".join(f"{outcome:>10}" for outcome in OUTCOMES))
    for phase in PHASES:
        got = [storm.landings[(phase, outcome)] for outcome in OUTCOMES]
        if any(got):
            print(f"      {phase:<28}" + "".join(f"{count:>10}" for count in got))
    unit = "pages" if storm.name == "crawl" else "snapshots"
    shown = ", ".join(f"{storm.committed[key]} {key}" for key in ("none", "part", "all"))
    print(f"    {f'landed kills by {unit} committed':<56} {shown}")
    for label, count in sorted(storm.counts.items()):
        shown = f"{count}" if label.startswith("killed") else f"{count}/{storm.kills}"
        print(f"    {label:<56} {shown}")
    for note in storm.notes:
        print(f"    ! {note[:300]}")


def section_kills(work: Path, origin: str, kills: int, server: object = None, seed: int = 14) -> bool:
    print(f"kill storms ({kills} crawls, then {kills} reparses, SIGKILL at a random point of progress)")
    rng = random.Random(seed)
    requests = getattr(server, "requests", [])
    clean_path = work / "storm-clean.db"
    run("crawl", f"{origin}/", "--db", str(clean_path), "--delay", "0")
    clean = archive_content(clean_path)
    storms = [
        crawl_storm(work, origin, kills, requests, rng, clean),
        reparse_storm(work, origin, kills, rng, clean),
    ]
    for storm in storms:
        print_storm(storm)
    return not any(
        storm.failures() or storm.misfired or storm.missed > misses_allowed(storm.kills) for storm in storms
    )


# ---- concurrency ----------------------------------------------------------------------------------


def section_concurrency(work: Path, origin: str, seconds: float) -> bool:
    """A crawl, a reparse, `serve` under 20 clients and an export, all at once for `seconds`."""
    import httpx

    print(f"concurrency (crawl + reparse + serve under 20 clients + export, {seconds:.0f} s)")
    path = work / "busy.db"
    run("crawl", f"{origin}/", "--db", str(path), "--delay", "0")
    port = free_port()
    serve_log = work / "serve.log"
    serve = start("serve", "--db", str(path), "--port", str(port), log=serve_log)
    base = f"http://127.0.0.1:{port}"
    _wait_for(base + "/-/versions.json", 60)
    stop = threading.Event()
    counts: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    wal_peak = [0]
    lock = threading.Lock()
    urls = [
        "/archive/verdicts.json?_size=50",
        "/archive/current_comparisons.json",
        "/archive/verdicts.csv?_stream=on",
        "/archive/verdict_reuse.json",
        "/archive",
    ]

    def client(number: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            while not stop.is_set():
                url = urls[number % len(urls)]
                note = ""
                try:
                    response = http.get(url)
                    key = "ok" if response.status_code == 200 else f"HTTP {response.status_code}"
                    if response.status_code >= 500:
                        note = f"{url}: {_error_text(response.text)}"
                except httpx.HTTPError as error:
                    key, note = type(error).__name__, f"{url}: {error}"
                with lock:
                    counts[f"serve: {key}"] += 1
                    if note:
                        notes[note] += 1

    def commands() -> None:
        while not stop.is_set():
            for args in (
                ("crawl", f"{origin}/", "--db", str(path), "--delay", "0"),
                ("reparse", "--force", "--db", str(path)),
                ("export", "verdicts", "--db", str(path), "--output", str(work / "busy.csv")),
            ):
                done = run(*args)
                said = (done.stdout + done.stderr).strip().splitlines()
                clear = done.returncode == 0 or (said and "Traceback" not in done.stdout + done.stderr)
                with lock:
                    counts[f"{args[0]}: {'done' if done.returncode == 0 else 'refused'}"] += 1
                    counts["commands done or refused with a clear message"] += bool(clear)
                    counts["commands run"] += 1

    def wal_watch() -> None:
        wal = Path(f"{path}-wal")
        while not stop.is_set():
            size = wal.stat().st_size if wal.exists() else 0
            wal_peak[0] = max(wal_peak[0], size)
            time.sleep(0.1)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    threads += [threading.Thread(target=commands) for _ in range(2)]
    threads.append(threading.Thread(target=wal_watch))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    os.killpg(serve.pid, signal.SIGTERM)
    serve.wait(timeout=30)
    problems = integrity_problems(path)
    for label, count in sorted(counts.items()):
        print(f"    {label:<56} {count}")
    print(f"    {'integrity problems':<56} {len(problems)}")
    print(f"    {'WAL peak (MB)':<56} {wal_peak[0] / 1e6:.1f}")
    for note, count in notes.most_common(5):
        print(f"    ! {count} x {note[:200]}")
    errors = [line for line in serve_log.read_text().splitlines() if "Error" in line or "error" in line]
    for line in Counter(errors).most_common(3):
        print(f"    ! serve said {line[1]} x: {line[0][:200]}")
    served = not any(key.startswith("serve:") and key != "serve: ok" for key in counts)
    return (
        not problems
        and served
        and counts["commands done or refused with a clear message"] == counts["commands run"]
    )


def _error_text(html: str) -> str:
    """The message of a Datasette error page, without its markup."""
    import re

    text = re.sub(r"<[^>]+>", " ", html)
    return " ".join(text.split())[-200:]


def _wait_for(url: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
