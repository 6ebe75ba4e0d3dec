"""The fault suite of issue 14: what verdict-archive survives, printed as counts.

    python bench/faults.py                 # every section, issue 14's sizes
    python bench/faults.py --http --disk   # only these sections
    python bench/faults.py --kills 5       # a smaller kill storm

Sections (each a flag; none given = all):
  --http         a crawl of tests/hostile_site.py (gzip bomb of 1 GB, 100,000-deep nesting,
                 200,000 links, ...): every page recorded with a reason, peak memory, time
  --disk         crawls under several file-size limits (RLIMIT_FSIZE): a clear error, the
                 archive intact, the next run completes it to a clean crawl's rows
  --corrupt      every command on a truncated file, a non-SQLite file, a newer schema and a
                 file damaged past its header: a clear error naming the file, nothing written
  --kills N      N crawls of the bundled site SIGKILLed at a random point of their progress
                 (the writer alone, the crawl process alone or the whole process group),
                 then N reparses the same way; counts of kills landed and missed per phase
  --concurrency S  crawl + reparse + serve under 20 clients + export at once for S seconds

Everything runs on loopback (127.0.0.2 plays a public host, 127.0.0.3 a private one) in a
temporary folder. Method and the figures of one run: docs/reliability-faults.md.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crawler.demo import DEMO_SITE  # noqa: E402
from tests.archive_compare import archive_content, differences, integrity_problems  # noqa: E402

COMMAND = [sys.executable, "-m", "crawler.cli"]


def verdicts(*args: str, file_limit: int | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`verdicts ARGS` in a child process (its files capped at `file_limit` bytes if given)."""

    def limit() -> None:
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, preexec_fn=limit, timeout=timeout, cwd=ROOT
    )


def line(label: str, value: object) -> None:
    print(f"  {label:<58} {value}", flush=True)


# ---- hostile HTTP ---------------------------------------------------------------------------------


def hostile_child(db_path: str, index: str) -> None:
    """Run in a child process: crawl the hostile site with 127.0.0.2 counted as public."""
    from crawler.config import Settings, Site
    from crawler.engine import crawl
    from tests.hostile_site import public_in_tests

    site = Site(name="hostile", start_urls=(index,), hosts=("127.0.0.3",), exclude=("/l/",))
    settings = Settings(
        db_path=Path(db_path), sites=(site,), delay=0.0, timeout=5.0, address_is_private=public_in_tests
    )
    started = time.monotonic()
    report = crawl(settings)
    print(json.dumps({"status": report.status, "seconds": time.monotonic() - started}))


def section_http(work: Path) -> bool:
    from tests.fault_server import FaultServer, Reply
    from tests.hostile_site import EXPECTED, HOSTILE, install

    print("hostile HTTP (one crawl of the hostile site)")
    with FaultServer("127.0.0.2") as public, FaultServer("127.0.0.3") as private:
        private.route("/secret", Reply(body=b"<html><body>internal</body></html>"))
        index = install(public, private.url("/secret"))
        db_path = work / "hostile.db"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        run = subprocess.run(
            [sys.executable, __file__, "--hostile-child", str(db_path), index],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if run.returncode != 0:
            print(run.stdout[-2000:], run.stderr[-2000:])
            line("crawl finished", "NO")
            return False
        outcome = json.loads(run.stdout.strip().splitlines()[-1])
        conn = sqlite3.connect(db_path)
        rows = {
            url.removeprefix(public.origin): (status, error)
            for url, status, error in conn.execute("SELECT url, status, last_error FROM pages")
        }
        conn.close()
    recorded = expected = 0
    for path in HOSTILE:
        status, error = rows.get(path, ("missing", None))
        want_status, want_reason = EXPECTED[path]
        good = status in want_status.split("|") and (status == "ok" or bool(error and want_reason in error))
        recorded += path in rows and (status == "ok" or bool(error))
        expected += good
        line(f"{path}", f"{status}: {error or '-'}"[:110])
    line("crawl status", outcome["status"])
    line("hostile pages recorded with a status (and reason if not ok)", f"{recorded}/{len(HOSTILE)}")
    line("hostile pages with the expected outcome", f"{expected}/{len(HOSTILE)}")
    line("requests that reached the private server", len(private.paths()))
    line("crawl seconds", f"{outcome['seconds']:.1f}")
    line("peak memory of one process (MB)", f"{max(peak, before) / 1024:.0f}")
    line("archive integrity problems", len(integrity_problems(db_path)))
    return recorded == expected == len(HOSTILE) and not private.paths() and outcome["status"] == "completed"


# ---- full disk ------------------------------------------------------------------------------------


def section_disk(work: Path, origin: str) -> bool:
    from db.archive import open_archive

    print("full disk (crawls of the bundled site under RLIMIT_FSIZE)")
    clean_path = work / "clean.db"
    verdicts("crawl", f"{origin}/", "--db", str(clean_path), "--delay", "0")
    clean = archive_content(clean_path)
    counts: Counter[str] = Counter()
    margins = (0, 16, 64, 256, 512)
    for margin in margins:
        path = work / f"disk-{margin}.db"
        open_archive(path).close()
        room = path.stat().st_size + margin * 1024
        run = verdicts("crawl", f"{origin}/", "--db", str(path), "--delay", "0", file_limit=room)
        output = run.stdout + run.stderr
        clear = run.returncode == 1 and "Traceback" not in output and str(path) in output
        counts["stopped with a clear error naming the archive"] += clear
        counts["said disk full or file-size limit"] += "disk full or file-size limit" in output
        counts["archive intact after the stop"] += not integrity_problems(path)
        again = verdicts("crawl", f"{origin}/", "--db", str(path), "--delay", "0")
        counts["next run completed"] += again.returncode == 0
        if again.returncode != 0 or "disk full or file-size limit" not in output:
            said = (output.strip().splitlines() or [""])[-3:]
            line(f"margin {margin} KB", f"stop said {said}; next run exit {again.returncode}")
            line("", (again.stdout + again.stderr).strip().splitlines()[-3:])
        counts["next run resumed the stopped crawl"] += "resumed crawl" in again.stdout
        counts["final rows equal a clean crawl's, table by table"] += not differences(
            archive_content(path), clean
        )
        if not clear:
            line(f"margin {margin} KB: exit {run.returncode}", output.strip().splitlines()[-1:])
    for label, count in counts.items():
        line(label, f"{count}/{len(margins)}")
    return all(count == len(margins) for label, count in counts.items() if "resumed" not in label)


# ---- corrupt archives -----------------------------------------------------------------------------


def _make_broken(kind: str, path: Path, good: Path) -> None:
    data = good.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "not SQLite":
        path.write_bytes(b"PK\x03\x04 anything but an archive\n" * 200)
    elif kind == "newer schema":
        path.write_bytes(data)
        conn = sqlite3.connect(path)
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('verdict-archive', '9999_from_a_newer_version', 'later')"
        )
        conn.commit()
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()
    elif kind == "damaged past its header":
        damaged = bytearray(data)
        page = int.from_bytes(data[16:18], "big")
        noise = random.Random(14)
        for number in range(len(data) // page - 40, len(data) // page):
            damaged[number * page : (number + 1) * page] = noise.randbytes(page)
        path.write_bytes(bytes(damaged))


def section_corrupt(work: Path, origin: str) -> bool:
    print("corrupt archives (every command, a fresh copy each time)")
    good = work / "good.db"
    verdicts("crawl", f"{origin}/", "--db", str(good), "--delay", "0")
    conn = sqlite3.connect(good)
    conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to break
    conn.close()
    commands = {
        "crawl": ["crawl", f"{origin}/", "--delay", "0"],
        "reparse": ["reparse", "--workers", "1", "--force"],
        "export": ["export", "verdicts"],
        "export --sql": ["export", "--sql", "select * from bodies"],
        "snapshot": ["snapshot", f"{origin}/"],
    }
    kinds = ("truncated", "not SQLite", "newer schema", "damaged past its header")
    ok = True
    for kind in kinds:
        counts: Counter[str] = Counter()
        for name, args in commands.items():
            folder = work / f"corrupt-{kind.replace(' ', '-')}-{name.replace(' ', '')}"
            folder.mkdir()
            path = folder / "archive.db"
            _make_broken(kind, path, good)
            before = path.read_bytes()
            run = verdicts(*args, "--db", str(path), timeout=300)
            output = run.stdout + run.stderr
            refused = run.returncode != 0
            clear = refused and "Traceback" not in output and str(path) in output
            counts["refused"] += refused
            counts["refused with a clear error naming the file"] += clear
            counts["file unchanged"] += path.read_bytes() == before
            sidecars = {p.name for p in folder.iterdir()} - {"archive.db", "archive.db.lock"}
            counts["no file created beside it"] += not sidecars
            if not clear:
                said = (output.strip().splitlines() or ["(nothing)"])[-1][:90]
                line(f"{kind} / {name}: exit {run.returncode}", said)
        for label, count in counts.items():
            line(f"{kind}: {label}", f"{count}/{len(commands)}")
        ok &= kind == "damaged past its header" or all(c == len(commands) for c in counts.values())
    return ok


# ---- main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--disk", action="store_true")
    parser.add_argument("--corrupt", action="store_true")
    parser.add_argument("--kills", type=int, default=None, metavar="N")
    parser.add_argument("--concurrency", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--hostile-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hostile_child:
        hostile_child(*args.hostile_child)
        return 0
    everything = not (args.http or args.disk or args.corrupt or args.kills is not None or args.concurrency)
    random.seed(args.seed)
    from crawler.static_server import StaticServer

    results: dict[str, bool] = {}
    work = Path(tempfile.mkdtemp(prefix="verdicts-faults-"))
    try:
        with StaticServer(DEMO_SITE) as server:
            if everything or args.http:
                results["hostile HTTP"] = section_http(work)
            if everything or args.disk:
                results["full disk"] = section_disk(work, server.origin)
            if everything or args.corrupt:
                results["corrupt archive"] = section_corrupt(work, server.origin)
            if everything or args.kills is not None:
                from bench.fault_storms import section_kills

                results["kill storms"] = section_kills(
                    work, server.origin, args.kills or 50, server, args.seed
                )
            if everything or args.concurrency:
                from bench.fault_storms import section_concurrency

                results["concurrency"] = section_concurrency(work, server.origin, args.concurrency or 60.0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("summary")
    for name, passed in results.items():
        line(name, "survived" if passed else "NOT SURVIVED")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
