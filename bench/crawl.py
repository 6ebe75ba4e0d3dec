"""How fast, how lean and how cheap to repeat is `verdicts crawl`, next to a bare fetch loop and Scrapy?

Issue 8's figures, measured side by side in one run on one synthetic site (bench/synthetic_site.py,
the bundled site's markup at N comparison pages) served on loopback by nginx (Debian's
/usr/sbin/nginx, a throwaway config) or, without nginx, crawler/static_server.py:

- bare loops: an httpx AsyncClient fetching the crawl's URL list at 1, 4 and 16
  connections (httpx's own pool: the issue's "bare httpx loop"), and the same loop on
  the httpx-aiohttp transport; no parsing, nothing stored;
- `verdicts crawl ORIGIN/ --delay 0 --concurrency 16 --per-host 16` end to end into a
  fresh archive, as a subprocess: wall time, CPU of the process tree (fetcher + writer),
  peak memory of the process tree (the largest sum of its processes' RSS, sampled every
  20 ms; each process's own peak, VmHWM, is shown too);
- a plain Scrapy spider (bench/scrapy_spider.py) doing the same crawl and extraction;
- the same `verdicts crawl` again over the unchanged site (conditional requests, 304s):
  CPU, new snapshots, archive growth.

Then the ratios issue 8 sets as targets, each marked met or not met. Figures are
printed, never asserted: the machine's other load moves them, ratios less so.

`--many-hosts` measures issue 15's case instead: the same small site served on 20 loopback
addresses (127.0.0.2 ...: 20 hosts to the crawler, whose politeness is per host name, so
20 ports of one address would be one host), all served by one server process (one nginx
with a server block per address, else crawler/static_server.py), crawled with a 0.2 s delay
once as one site alone and then as 20 [[sites]] of one `verdicts crawl`, in the same minute.
Politeness bounds each host, not the machine, so the 20 sites together should take about as
long as one alone (target: at most 1.5x), not 20x.

Usage:
    python bench/crawl.py [--pages 3000] [--flat-check] [--quick] [--no-scrapy]
    python bench/crawl.py --pages 3000 --pages 30000     # memory flatness across sizes
    python bench/crawl.py --many-hosts [--hosts 20] [--host-pages 100] [--host-delay 0.2]
`--quick` (the test suite's smoke run): only the 16-connection bare loops, small site.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import synthetic_site as bench_site  # noqa: E402
from bench.proctree import run_tree  # noqa: E402
from bench.workdir import scratch  # noqa: E402
from tests.loopback import free_port, stop  # noqa: E402

NGINX = "/usr/sbin/nginx"
CONCURRENCY = 16
PY = sys.executable


@dataclass
class Leg:
    """One timed run."""

    name: str
    requests: int
    wall: float
    cpu: float
    peak_mb: float | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.wall if self.wall else 0.0


# ---- the server ---------------------------------------------------------------------------------


def wait_for_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


NGINX_HTTP = """\
worker_processes 1;
worker_rlimit_nofile 16384;
{user}pid {tmp}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    log_not_found off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ text/html html; application/xml xml; text/plain txt; text/css css; image/svg+xml svg; }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types application/xml text/plain;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    open_file_cache max=4096 inactive=300s;  # descriptors held open: keep under the limit
"""
NGINX_SERVER = """\
    server {{
        listen {address}:{port} reuseport backlog=4096;
        root {root};
        index index.html;
        error_page 404 /404.html;
{overlay}    }}
"""
#: One server on 127.0.0.1:{port} (keys: user, tmp, port, root, overlay).
NGINX_CONF = NGINX_HTTP + NGINX_SERVER.replace("{address}", "127.0.0.1") + "}}\n"


@contextlib.contextmanager
def serve(root: Path, workdir: Path, overlay: Iterable[str] = ()) -> Iterator[tuple[str, str]]:
    """Serve `root` on loopback; yields (origin, server name).

    nginx serves the `overlay` file names (e.g. robots.txt) from `workdir` instead of
    `root`: a run's origin-specific files stay its own while the site is shared.
    """
    port = free_port()
    if os.access(NGINX, os.X_OK):
        conf_dir = workdir / "nginx"
        conf_dir.mkdir(exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        locations = "".join(f"        location = /{name} {{ alias {workdir / name}; }}\n" for name in overlay)
        conf = NGINX_CONF.format(user=user, tmp=conf_dir, port=port, root=root, overlay=locations)
        (conf_dir / "nginx.conf").write_text(conf, encoding="utf-8")
        command = [NGINX, "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf"), "-e", "stderr"]
        command += ["-g", "daemon off;"]
        name = "nginx (1 worker)"
    else:
        command = [PY, "-m", "crawler.static_server", str(root), str(port)]
        name = "crawler/static_server.py (no nginx found)"
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}", name
    finally:
        stop(proc)


# ---- bare loops ---------------------------------------------------------------------------------


async def _bare(urls: list[str], connections: int, transport: str) -> int:
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    engine: httpx.AsyncBaseTransport | None = None
    if transport == "aiohttp":
        import aiohttp
        from httpx_aiohttp import AiohttpTransport

        engine = AiohttpTransport(
            client=lambda: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))
        )
    todo = iter(urls)
    done = 0
    async with httpx.AsyncClient(limits=limits, transport=engine, timeout=30.0) as client:

        async def worker() -> None:
            nonlocal done
            for url in todo:
                response = await client.get(url)
                if response.status_code < 400:
                    done += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    return done


def bare_leg(urls: list[str], connections: int, transport: str) -> Leg:
    wall, cpu = time.perf_counter(), time.process_time()
    ok = asyncio.run(_bare(urls, connections, transport))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    label = "httpx pool" if transport == "httpx" else "httpx+aiohttp transport"
    leg = Leg(f"bare {label}, {connections} conn", len(urls), wall, cpu)
    leg.extra["ok"] = ok
    return leg


# ---- subprocess legs ------------------------------------------------------------------------------


def archive_facts(db: Path) -> dict[str, int]:
    """Row counts and on-disk size (after a WAL checkpoint) of an archive."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        facts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("pages", "snapshots", "comparisons", "verdicts")
        }
    finally:
        conn.close()
    facts["bytes"] = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
    return facts


def crawl_leg(name: str, origin: str, db: Path, logs: Path) -> Leg:
    command = [PY, "-m", "crawler.cli", "crawl", f"{origin}/", "--db", str(db), "--delay", "0"]
    command += ["--concurrency", str(CONCURRENCY), "--per-host", str(CONCURRENCY)]
    log = logs / (name.replace(" ", "_") + ".log")
    before = archive_facts(db) if db.exists() else None
    wall, cpu, peak, tree, code = run_tree(command, log)
    text = log.read_text(encoding="utf-8", errors="replace")
    requests = 0
    for line in text.splitlines():
        if line.strip().startswith("requests "):
            requests = int(line.split()[1])
    if code != 0:
        print(f"  ! {name}: exit code {code}; last lines of {log}:\n" + "\n".join(text.splitlines()[-8:]))
    leg = Leg(name, requests, wall, cpu, peak)
    leg.extra.update(exit=code, processes=len(tree.hwm), after=archive_facts(db), before=before)
    leg.extra.update(roles=tree.by_role(), hwm_sum=tree.hwm_sum_mb, summaries=summary_refresh(db))
    return leg


def summary_refresh(db: Path) -> tuple[int, float] | None:
    """(comparisons recomputed, seconds) of the summaries' refresh at the crawl's end."""
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT value FROM archive_state WHERE key = 'summaries.last_refresh'").fetchone()
    except sqlite3.OperationalError:
        row = None
    finally:
        conn.close()
    if row is None:
        return None
    dirty, seconds = row[0].split()[:2]  # then the tools recomputed (since migration 0220)
    return int(dirty), float(seconds)


def scrapy_leg(origin: str, workdir: Path, logs: Path) -> Leg:
    items, stats_file = workdir / "scrapy_items.jl", workdir / "scrapy_stats.json"
    command = [PY, str(ROOT / "bench" / "scrapy_spider.py"), origin, "--out", str(items)]
    command += ["--stats", str(stats_file), "--concurrency", str(CONCURRENCY)]
    wall, cpu, peak, _, code = run_tree(command, logs / "scrapy.log")
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    leg = Leg("Scrapy spider, 16 conn", int(stats.get("downloader/response_count", 0)), wall, cpu, peak)
    leg.extra.update(exit=code, items=int(stats.get("item_scraped_count", 0)))
    return leg


def snapshots_added(leg: Leg) -> int:
    before, after = leg.extra["before"], leg.extra["after"]
    assert isinstance(before, dict) and isinstance(after, dict)
    return int(after["snapshots"] - before["snapshots"])


def reparse_leg(db: Path, force: bool, logs: Path) -> Leg:
    """`verdicts reparse [--force]` over every snapshot of the archive (all cores)."""
    command = [PY, "-m", "crawler.cli", "reparse", "--db", str(db), *(["--force"] if force else [])]
    snapshots = archive_facts(db)["snapshots"]
    log = logs / f"reparse-{force}.log"
    wall, cpu, peak, tree, code = run_tree(command, log)
    if code not in (0, 2):  # 2: done, fewer complete comparisons than before
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        print(f"  ! reparse: exit code {code}; last lines of {log}:\n" + "\n".join(lines[-8:]))
    name = "verdicts reparse --force (all cores)" if force else "verdicts reparse, unchanged (all cores)"
    leg = Leg(name, snapshots, wall, cpu, peak)
    leg.extra.update(exit=code, processes=len(tree.hwm))
    return leg


def bs4_leg(site: bench_site.Site, sample: int) -> Leg:
    """bench/parse.py's BeautifulSoup port of the extraction, one core, over `sample` pages."""
    from bench.parse import bs4_parse_page

    compare = [p for p in site.pages if p.startswith("/compare/") and "/page/" not in p][:sample]
    bodies = [(site.root / p.strip("/") / "index.html").read_bytes() for p in compare]
    wall, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        bs4_parse_page(body)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Leg(f"BeautifulSoup parse, 1 core ({len(bodies)} pages)", len(bodies), wall, cpu)


# ---- the report ---------------------------------------------------------------------------------


def print_table(legs: list[Leg]) -> None:
    print(
        f"{'leg':44} {'requests':>8} {'wall s':>7} {'pages/s':>8} {'CPU s':>7} "
        f"{'ms CPU/pg':>9} {'peak MB':>8}"
    )
    for leg in legs:
        peak = f"{leg.peak_mb:8.0f}" if leg.peak_mb is not None else f"{'-':>8}"
        per_page = 1000 * leg.cpu / leg.requests if leg.requests else 0.0
        print(
            f"{leg.name:44} {leg.requests:8d} {leg.wall:7.2f} {leg.rate:8.0f} {leg.cpu:7.2f} "
            f"{per_page:9.2f} {peak}"
        )


def target(label: str, value: str, goal: str, ok: bool | None) -> None:
    """One figure with its target and whether it is met (None: no target, just shown)."""
    mark = "" if ok is None else ("met" if ok else "NOT met")
    print(f"{label:44} {value:>9}   {goal:16} {mark}".rstrip())


def measure(pages: int, args: argparse.Namespace, workdir: Path) -> dict[str, Leg]:
    """Every leg at one site size; returns the legs by key."""
    site = bench_site.ensure(pages)
    logs = workdir / f"logs-{pages}"
    logs.mkdir(exist_ok=True)
    legs: dict[str, Leg] = {}
    overlay = bench_site.ORIGIN_FILES if os.access(NGINX, os.X_OK) else ()
    with serve(site.root, workdir, overlay) as (origin, server):
        site.set_origin(origin, into=workdir if overlay else None)
        urls = site.urls(origin)
        print(f"\n== {pages:,} comparisons ({len(urls):,} URLs) served by {server} at {origin}")
        print(
            f"   load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s); "
            f"Python {sys.version.split()[0]}"
        )
        asyncio.run(_bare(urls[:50], 4, "httpx"))  # warm the server's file cache
        repeat = max(1, args.repeat)
        fastest = functools.partial(min, key=lambda leg: leg.wall)
        connections = (CONCURRENCY,) if args.quick or args.main_only else (1, 4, CONCURRENCY)
        for n in connections:
            legs[f"httpx{n}"] = fastest(bare_leg(urls, n, "httpx") for _ in range(repeat))
        legs["aiohttp16"] = fastest(bare_leg(urls, CONCURRENCY, "aiohttp") for _ in range(repeat))
        db = workdir / f"archive-{pages}.db"
        runs = []
        for _ in range(repeat):
            for stale in workdir.glob(db.name + "*"):
                stale.unlink()
            runs.append(crawl_leg("verdicts crawl, fresh archive", origin, db, logs))
        legs["crawl"] = fastest(runs)
        if not args.main_only:
            runs = [crawl_leg("verdicts crawl, unchanged re-crawl", origin, db, logs) for _ in range(repeat)]
            again = legs["recrawl"] = min(runs, key=lambda leg: leg.cpu)  # its target is CPU
            again.extra.update(before=runs[0].extra["before"], after=runs[0].extra["after"])
            again.extra["snapshots_new"] = sum(map(snapshots_added, runs))
            if not args.no_scrapy:
                legs["scrapy"] = fastest(scrapy_leg(origin, workdir, logs) for _ in range(repeat))
    if not args.main_only:
        for force in (True,) if args.quick else (True, False):
            key = "reparse_force" if force else "reparse"
            legs[key] = fastest(reparse_leg(db, force, logs) for _ in range(repeat))
        legs["bs4"] = bs4_leg(site, 10 if args.quick else 200)
    print_table(list(legs.values()))
    return legs


def report(legs: dict[str, Leg]) -> None:
    crawl, bare, aio = legs["crawl"], legs["httpx16"], legs["aiohttp16"]
    after = crawl.extra["after"]
    print(
        f"crawl stored {after['pages']:,} pages, {after['snapshots']:,} snapshots, "
        f"{after['comparisons']:,} comparisons, {after['verdicts']:,} verdicts "
        f"({after['bytes'] / 1e6:.1f} MB); {crawl.extra['processes']} processes"
    )
    for key in ("crawl", "recrawl"):
        if key in legs:
            roles = legs[key].extra["roles"]
            assert isinstance(roles, dict)
            shown = ", ".join(
                f"{role} {cpu:.2f} s CPU / {mb:.0f} MB" for role, (cpu, mb) in sorted(roles.items())
            )
            hwm = legs[key].extra["hwm_sum"]
            print(f"  {legs[key].name}: {shown} (sum of the peaks {hwm:.0f} MB)")
            refreshed = legs[key].extra.get("summaries")
            if isinstance(refreshed, tuple):  # the writer's price of the summary tables
                dirty, seconds = refreshed
                share = 100 * seconds / legs[key].wall
                print(f"    summaries refreshed at its end: {dirty:,} pages, {seconds:.2f} s ({share:.1f} %)")
    ratio = crawl.rate / bare.rate
    target("crawl / bare httpx loop (16 conn)", f"{ratio:.2f}x", "target >= 2x", ratio >= 2)
    target("crawl / bare httpx+aiohttp loop", f"{crawl.rate / aio.rate:.2f}x", "(same transport)", None)
    if "scrapy" in legs:
        scrapy = legs["scrapy"]
        ratio = crawl.rate / scrapy.rate if scrapy.rate else float("inf")
        target("crawl / Scrapy spider", f"{ratio:.2f}x", "target >= 5x", ratio >= 5)
        items, code = scrapy.extra["items"], scrapy.extra["exit"]
        print(f"  (Scrapy: {items:,} items, peak {scrapy.peak_mb:.0f} MB, exit {code})")
    peak = crawl.peak_mb or 0.0
    target("crawl peak memory (process tree)", f"{peak:.0f} MB", "target <= 150 MB", peak <= 150)
    if "recrawl" in legs:
        again = legs["recrawl"]
        before, after2 = again.extra["before"], again.extra["after"]
        assert isinstance(before, dict) and isinstance(after2, dict)
        cpu_ratio = again.cpu / bare.cpu
        growth = 100 * (after2["bytes"] - before["bytes"]) / before["bytes"]
        target(
            "re-crawl CPU / bare httpx loop CPU", f"{cpu_ratio:.2f}x", "target <= 0.25x", cpu_ratio <= 0.25
        )
        new = again.extra["snapshots_new"]
        assert isinstance(new, int)
        target("re-crawl new snapshots", f"{new}", "target 0", new == 0)
        target("re-crawl archive growth", f"{growth:.2f} %", "target < 2 %", growth < 2)

    if "reparse_force" in legs:
        soup = legs["bs4"].rate
        for key in ("reparse_force", "reparse"):
            if key not in legs:
                continue
            label = legs[key].name.replace(" (all cores)", "") + " / BeautifulSoup"
            if legs[key].extra["exit"] not in (0, 2):
                target(label, "failed", "target >= 10x", False)
                continue
            ratio = legs[key].rate / soup
            target(label, f"{ratio:.1f}x", "target >= 10x", ratio >= 10)


# ---- many hosts: several sites of one run, crawled together --------------------------------------


def many_sites_leg(name: str, origins: list[str], delay: float, db: Path, workdir: Path, logs: Path) -> Leg:
    """`verdicts crawl` of `origins` as [[sites]] of one verdicts.toml, into a fresh archive."""
    for stale in db.parent.glob(db.name + "*"):
        stale.unlink()
    config = workdir / f"{db.stem}.toml"
    lines = [f'db = "{db}"', f"delay = {delay}"]
    for k, origin in enumerate(origins):
        lines += ["[[sites]]", f'name = "host {k + 1}"', f'start_urls = ["{origin}/"]']
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log = logs / (db.stem + ".log")
    wall, cpu, peak, _, code = run_tree([PY, "-m", "crawler.cli", "crawl", "--config", str(config)], log)
    text = log.read_text(encoding="utf-8", errors="replace")
    requests = sum(int(line.split()[1]) for line in text.splitlines() if line.startswith("  requests "))
    if code != 0:
        print(f"  ! {name}: exit code {code}; last lines of {log}:\n" + "\n".join(text.splitlines()[-8:]))
    leg = Leg(name, requests, wall, cpu, peak)
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT status, count(*) FROM crawls GROUP BY status").fetchall()
        comparisons = conn.execute("SELECT count(*) FROM comparisons").fetchone()[0]
    finally:
        conn.close()
    leg.extra.update(exit=code, crawls=dict(rows), comparisons=comparisons)
    return leg


def _free_port_on(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _wait_for(address: tuple[str, int], proc: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(address, 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {address[0]}:{address[1]} after {seconds} s")


#: Without nginx: every address served by crawler/static_server.py in ONE child process
#: (not threads of this process, which samples the crawl's memory and CPU).
_STATIC_HOSTS = (
    "import sys, time\n"
    "from crawler.static_server import StaticServer\n"
    "servers = [StaticServer(sys.argv[1], host=h, port=int(p)).__enter__()"
    " for h, p in zip(sys.argv[2::2], sys.argv[3::2])]\n"
    "time.sleep(1e9)\n"
)


@contextlib.contextmanager
def serve_hosts(site: bench_site.Site, workdir: Path, hosts: list[str]) -> Iterator[tuple[list[str], str]]:
    """Serve `site` on each of `hosts` (loopback addresses) from ONE server process, so that
    the benchmark measures the crawler, not 20 servers: one nginx worker with a server block
    per address (each its own robots.txt and sitemap.xml naming its origin) or, without
    nginx, crawler/static_server.py. Yields (origins, server name)."""
    ports = [_free_port_on(host) for host in hosts]
    origins = [f"http://{host}:{port}" for host, port in zip(hosts, ports, strict=True)]
    if os.access(NGINX, os.X_OK):
        conf_dir = workdir / "nginx-hosts"
        conf_dir.mkdir(exist_ok=True)
        blocks = []
        for host, port, origin in zip(hosts, ports, origins, strict=True):
            own = conf_dir / host
            own.mkdir(exist_ok=True)
            site.set_origin(origin, into=own)
            overlay = "".join(
                f"        location = /{name} {{ alias {own / name}; }}\n" for name in bench_site.ORIGIN_FILES
            )
            blocks.append(NGINX_SERVER.format(address=host, port=port, root=site.root, overlay=overlay))
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = NGINX_HTTP.format(user=user, tmp=conf_dir) + "".join(blocks) + "}\n"
        (conf_dir / "nginx.conf").write_text(conf, encoding="utf-8")
        command = [NGINX, "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf"), "-e", "stderr"]
        command += ["-g", "daemon off;"]
        name = f"one nginx (1 worker, {len(hosts)} server blocks)"
    else:
        # robots.txt and sitemap.xml keep the origin placeholder: each server writes in its own
        root = Path(shutil.copytree(site.root, workdir / "many-site", dirs_exist_ok=True))
        site.set_origin(bench_site.fx.ORIGIN, into=root)
        pairs = [str(v) for host, port in zip(hosts, ports, strict=True) for v in (host, port)]
        command = [PY, "-c", _STATIC_HOSTS, str(root), *pairs]
        name = f"crawler/static_server.py, {len(hosts)} servers in one process (no nginx found)"
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        for host, port in zip(hosts, ports, strict=True):
            _wait_for((host, port), proc)
        yield origins, name
    finally:
        stop(proc)


def many_hosts(args: argparse.Namespace, workdir: Path) -> None:
    """One site alone, then `--hosts` sites together, every address served by one server."""
    # --host-pages HTML pages: the comparisons, their index pages (PER_INDEX each) and /about/
    site = bench_site.ensure(args.host_pages - 1 - -(-(args.host_pages - 1) // (bench_site.PER_INDEX + 1)))
    logs = workdir / "logs-many"
    logs.mkdir(exist_ok=True)
    hosts = [f"127.0.0.{2 + k}" for k in range(args.hosts)]
    with serve_hosts(site, workdir, hosts) as (origins, server):
        print(
            f"\n== {args.hosts} sites of {len(site.pages)} pages each ({site.comparisons} comparisons), "
            f"each on its own loopback address, delay {args.host_delay} s; served by {server}"
        )
        print(f"   load average (/proc/loadavg): {Path('/proc/loadavg').read_text().strip()}")
        alone = many_sites_leg(
            "verdicts crawl, 1 site alone", origins[:1], args.host_delay, workdir / "alone.db", workdir, logs
        )
        together = many_sites_leg(
            f"verdicts crawl, {args.hosts} sites together",
            origins,
            args.host_delay,
            workdir / "together.db",
            workdir,
            logs,
        )
        print(f"   load average after: {Path('/proc/loadavg').read_text().strip()}")
    print_table([alone, together])
    for leg in (alone, together):
        print(f"  {leg.name}: crawls {leg.extra['crawls']}, {leg.extra['comparisons']} comparisons")
    ratio = together.wall / alone.wall
    target(f"{args.hosts} sites together / 1 site alone", f"{ratio:.2f}x", "target <= 1.5x", ratio <= 1.5)
    serial = args.hosts * alone.wall
    longer = serial / together.wall
    print(f"  (one after the other they would take about {serial:.0f} s: {longer:.1f}x longer)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pages", type=int, action="append", help="comparison pages [3000]; give twice for flatness"
    )
    parser.add_argument(
        "--flat-check", action="store_true", help="also crawl a site 10x larger (memory flatness)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 16-connection bare loops only")
    parser.add_argument("--no-scrapy", action="store_true", help="skip the Scrapy leg")
    parser.add_argument("--repeat", type=int, default=1, help="run each leg N times, keep the best [1]")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (archives, logs)")
    parser.add_argument(
        "--many-hosts", action="store_true", help="only the many-sites case: --hosts sites crawled together"
    )
    parser.add_argument("--hosts", type=int, default=20, help="sites (addresses) for --many-hosts [20]")
    parser.add_argument("--host-pages", type=int, default=100, help="HTML pages a site, --many-hosts [100]")
    parser.add_argument("--host-delay", type=float, default=0.2, help="delay per host for --many-hosts [0.2]")
    args = parser.parse_args(argv)
    sizes = args.pages or [3000]
    if args.flat_check and len(sizes) == 1:
        sizes.append(sizes[0] * 10)
    if not args.no_scrapy:
        try:
            import scrapy  # noqa: F401
        except ImportError:
            print("scrapy is not installed: the Scrapy leg is skipped (pip install scrapy)")
            args.no_scrapy = True
    # Measure what an installed package runs: with PYTHONDONTWRITEBYTECODE set (as in some
    # shells and CI), every crawl would compile the project from source (~0.07 s a process)
    for package in ("crawler", "db", "parsers"):
        compileall.compile_dir(ROOT / package, quiet=1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (stop nginx) on kill
    with scratch("verdicts-crawl-bench-", args.keep) as workdir:
        if args.many_hosts:
            many_hosts(args, workdir)
            return 0
        peaks = []
        for k, pages in enumerate(sizes):
            args.main_only = k > 0  # larger sizes: the crawl and its 16-connection baselines
            legs = measure(pages, args, workdir)
            report(legs)
            peaks.append((pages, legs["crawl"].peak_mb or 0.0))
        if len(peaks) > 1:
            low, high = min(p for _, p in peaks), max(p for _, p in peaks)
            print("\npeak memory: " + ", ".join(f"{mb:.0f} MB at {n:,} pages" for n, mb in peaks))
            spread = f"{100 * (high / low - 1):.0f} %"
            target("peak memory spread across sizes", spread, "target <= 20 %", high <= 1.2 * low)
    return 0


if __name__ == "__main__":
    sys.exit(main())
