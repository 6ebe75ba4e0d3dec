"""How fast does `verdicts serve` answer every page an analyst opens, at 100,000 pages?

Issue 15's figures. One run:

1. builds an archive through the real crawler: the synthetic site (bench/synthetic_site.py,
   `--pages` comparison pages, default 100,000) served on loopback by nginx (or, without
   nginx, crawler/static_server.py), crawled with `verdicts crawl`; then `--changed` (2 %)
   of its comparison pages get a new entry price or a rewritten quote and the site is
   crawled again (conditional requests: the rest answer 304). The archive is cached in
   bench/out/archive-<pages>-<changed>/ and reused by later runs (`--rebuild` rebuilds);
2. serves it with `verdicts serve` (the published settings, a real uvicorn on loopback);
3. walks every page reachable from the archive's home page: each table and view in HTML and
   `.json`, each canned query with its defaults, search (the table boxes and the ranked
   query), the dashboards and each chart's query as the dashboard page sends it;
4. fetches the lot `--rounds` times (5), one request at a time, and prints the median and
   worst time per page with its ratio to the median of `/archive/crawls` (a tiny table)
   measured in the same rounds, marking answers cut by a time limit.

Targets (issue 15 §1): median of all pages <= 300 ms; no page over 10x the /archive/crawls
median; no answer cut by a time limit. Figures are printed, never asserted.

Usage:
    python bench/serve.py                      # 100,000 pages (first run builds for a while)
    python bench/serve.py --pages 3000 --rounds 3
    python bench/serve.py --archive some.db    # time an existing archive instead
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import synthetic_site as bench_site  # noqa: E402
from bench.crawl import NGINX, NGINX_CONF, PY, archive_facts, wait_for_port  # noqa: E402
from db.archive import sqlite_uri  # noqa: E402
from tests.loopback import free_port, stop  # noqa: E402

OUT = ROOT / "bench" / "out"
CONCURRENCY = 16
BASELINE = "/archive/crawls"
#: Words searched for: one every synthetic quote family has, one rarer.
SEARCH_WORDS = ("primitive", "transcripts")
_ENTRY = re.compile(r'(<div class="stat__value">)([^<]*)(</div>\s*<div class="stat__label">Entry</div>)')
_QUOTE_END = "&rdquo;</p>"


# ---- building the archive -----------------------------------------------------------------------


@contextlib.contextmanager
def serve_site(root: Path, workdir: Path, port: int) -> Iterator[str]:
    """Serve `root` on 127.0.0.1:`port` (robots.txt and sitemap.xml from `workdir`)."""
    if os.access(NGINX, os.X_OK):
        conf_dir = workdir / "nginx"
        conf_dir.mkdir(exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        overlay = "".join(
            f"        location = /{name} {{ alias {workdir / name}; }}\n" for name in bench_site.ORIGIN_FILES
        )
        conf = NGINX_CONF.format(user=user, tmp=conf_dir, port=port, root=root, overlay=overlay)
        (conf_dir / "nginx.conf").write_text(conf, encoding="utf-8")
        command = [NGINX, "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf"), "-e", "stderr"]
        command += ["-g", "daemon off;"]
    else:
        for name in bench_site.ORIGIN_FILES:
            shutil.copyfile(workdir / name, root / name)
        command = [PY, "-m", "crawler.static_server", str(root), str(port)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def change_pages(site: bench_site.Site, root: Path, share: float) -> int:
    """Give `share` of the comparison pages under `root` a new price or a rewritten quote.

    `root` is a hard-linked copy of the site: a changed file is written anew (unlinked
    first), so the cached site itself never changes.
    """
    comparisons = [p for p in site.pages if p.startswith("/compare/") and "/page/" not in p]
    step = max(1, round(1 / share)) if share > 0 else 0
    changed = 0
    for k, path in enumerate(comparisons[::step] if step else []):
        target = root / path.strip("/") / "index.html"
        text = target.read_text(encoding="utf-8")
        if k % 2 == 0:
            new = _ENTRY.sub(
                lambda m: m[1] + ("$49/mo" if m[2] != "$49/mo" else "$20/mo") + m[3], text, count=1
            )
        else:
            new = text.replace(_QUOTE_END, " Revised since.&rdquo;</p>", 1)
        if new != text:
            target.unlink()
            target.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def crawl(origin: str, db: Path, log: Path) -> float:
    """`verdicts crawl ORIGIN/` into `db`; wall seconds."""
    command = [PY, "-m", "crawler.cli", "crawl", f"{origin}/", "--db", str(db), "--delay", "0"]
    command += ["--concurrency", str(CONCURRENCY), "--per-host", str(CONCURRENCY)]
    started = time.perf_counter()
    with log.open("ab") as out:
        code = subprocess.call(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    if code not in (0, 2):
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-8:]
        raise SystemExit(f"crawl exited with {code}:\n" + "\n".join(tail))
    return time.perf_counter() - started


def build_archive(pages: int, share: float, rebuild: bool = False, out: Path = OUT) -> Path:
    """The cached archive of a `pages`-page site crawled twice, `share` changed in between
    (in `out`/archive-<pages>-<share>/; bench/reparse.py reads the same archives)."""
    folder = out / f"archive-{pages}-{share:g}"
    db = folder / "archive.db"
    if (folder / "BUILT").exists() and not rebuild:
        return db
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    site = bench_site.ensure(pages)
    root = folder / "site"
    print(f"building: hard-linked copy of {site.root}", flush=True)
    subprocess.check_call(["cp", "-al", str(site.root), str(root)])
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    site.set_origin(origin, into=folder)
    log = folder / "crawl.log"
    with serve_site(root, folder, port):
        first = crawl(origin, db, log)
    print(f"building: first crawl {first:.0f} s", flush=True)
    changed = change_pages(site, root, share)
    with serve_site(root, folder, port):
        second = crawl(origin, db, log)
    print(f"building: {changed} pages changed, second crawl {second:.0f} s", flush=True)
    shutil.rmtree(root)
    facts = archive_facts(db)
    (folder / "facts.json").write_text(
        json.dumps({**facts, "first_crawl_s": first, "second_crawl_s": second, "changed": changed}),
        encoding="utf-8",
    )
    (folder / "BUILT").write_text("ok\n", encoding="utf-8")
    return db


# ---- walking and timing the published archive ---------------------------------------------------


@dataclass
class Page:
    url: str
    times: list[float] = field(default_factory=list)
    cut: str = ""  # why an answer was cut short or failed, if one was

    @property
    def median(self) -> float:
        return statistics.median(self.times)


@contextlib.contextmanager
def verdicts_serve(db: Path, log: Path) -> Iterator[str]:
    """`verdicts serve --db DB` on a free loopback port; yields its origin."""
    port = free_port()
    command = [PY, "-m", "crawler.cli", "serve", "--db", str(db), "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc, seconds=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


_HREF = re.compile(r'href="([^"#]+)"')


def links(body: str) -> list[str]:
    """Local paths linked from an HTML page."""
    found = []
    for raw in _HREF.findall(body):
        href = html.unescape(raw)
        parts = urlsplit(href)
        if parts.netloc and parts.netloc.split(":")[0] not in ("127.0.0.1", "localhost"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path.startswith("/"):
            found.append(path)
    return found


def chart_requests(client: object, origin: str) -> list[str]:
    """Each dashboard chart's query as the dashboard page sends it (its default filters)."""
    metadata = client.get(f"{origin}/-/metadata.json").json()  # type: ignore[attr-defined]
    dashboards = metadata.get("plugins", {}).get("datasette-dashboards", {})
    urls = []
    for dashboard in dashboards.values():
        params = {name: "" for name in dashboard.get("filters", {})}
        for chart in dashboard.get("charts", {}).values():
            if "query" in chart:
                query = {"sql": chart["query"], **params, "_shape": "objects"}
                urls.append(f"/{chart['db']}.json?" + urlencode(query))
        for dashboard_filter in dashboard.get("filters", {}).values():
            if "query" in dashboard_filter:
                query = {"sql": dashboard_filter["query"], "_shape": "objects"}
                urls.append(f"/{dashboard_filter['db']}.json?" + urlencode(query))
    return urls


def discover(client: object, origin: str) -> list[str]:
    """Every page reachable from the home page that an analyst opens (see the module doc)."""
    get = client.get  # type: ignore[attr-defined]
    pages: list[str] = ["/", "/archive"]
    for start in ("/", "/archive"):
        for path in links(get(origin + start).text):
            bare = path.split("?")[0]
            segments = bare.strip("/").split("/")
            if bare.startswith("/archive/") and len(segments) == 2 and "." not in segments[1]:
                pages += [bare, f"{bare}.json"]
            elif bare.startswith("/-/dashboards"):
                pages.append(bare)
    dashboards = [p for p in pages if p.startswith("/-/dashboards")]
    for dash in dashboards:
        for path in links(get(origin + dash).text):
            if path.startswith("/-/dashboards/") and "/" not in path[len("/-/dashboards/") :].strip("/"):
                pages.append(path.split("?")[0])
    for word in SEARCH_WORDS:
        pages += [
            f"/archive/verdicts?_search={word}",
            f"/archive/tools?_search={word}",
            f"/archive/search_verdicts?q={word}",
        ]
    pages += chart_requests(client, origin)
    return list(dict.fromkeys(pages))


def cut_short(status: int, body: str, url: str) -> str:
    """Why an answer is not whole: an error status, a query or facet stopped by a time limit."""
    if status != 200:
        return f"HTTP {status}"
    if "took too long" in body:  # Datasette's message for a query stopped by sql_time_limit_ms
        return "time limit"
    if ".json" in url:
        with contextlib.suppress(ValueError):
            data = json.loads(body)
            if isinstance(data, dict) and data.get("facets_timed_out"):
                return "facet time limit: " + ", ".join(data["facets_timed_out"])
    return ""


def measure(origin: str, paths: list[str], rounds: int) -> list[Page]:
    import httpx

    pages = [Page(p) for p in paths]
    with httpx.Client(timeout=120) as client:
        for page in pages:  # warm-up: Datasette's first request runs its start-up hooks
            client.get(origin + page.url)
        for _ in range(rounds):
            for page in pages:
                started = time.perf_counter()
                response = client.get(origin + page.url)
                body = response.text
                page.times.append(time.perf_counter() - started)
                page.cut = page.cut or cut_short(response.status_code, body, page.url)
    return pages


def label(url: str) -> str:
    """A page's URL, or for a chart's query its first words."""
    sql = parse_qs(urlsplit(url).query).get("sql")
    return "chart: " + " ".join(sql[0].split()) if sql else url


def report(pages: list[Page], facts: dict[str, object]) -> dict[str, object]:
    baseline = next(p for p in pages if p.url == BASELINE).median
    medians = [p.median for p in pages]
    overall = statistics.median(medians)
    print(f"\narchive: {facts}")
    print(f"{len(pages)} pages; baseline {BASELINE} median {baseline * 1000:.1f} ms\n")
    print(f"| {'page':<62} | median ms | worst ms | x crawls |")
    print(f"|{'-' * 64}|----------:|---------:|---------:|")
    for page in sorted(pages, key=lambda p: -p.median):
        flag = f"  CUT: {page.cut}" if page.cut else ""
        print(
            f"| {label(page.url)[:62]:<62} | {page.median * 1000:9.1f} | {max(page.times) * 1000:8.1f} "
            f"| {page.median / baseline:7.1f}x |{flag}"
        )
    slowest = max(pages, key=lambda p: p.median)
    over = [p for p in pages if p.median > 10 * baseline]
    cut = [p for p in pages if p.cut]
    print()
    met = "met" if overall <= 0.3 else "NOT met"
    print(f"median of all pages      {overall * 1000:8.1f} ms   goal <= 300 ms: {met}")
    print(
        f"slowest page / crawls    {slowest.median / baseline:8.1f}x    goal <= 10x: "
        f"{'met' if not over else 'NOT met (' + ', '.join(label(p.url)[:40] for p in over) + ')'}"
    )
    print(f"answers cut short        {len(cut):8d}      goal 0: {'met' if not cut else 'NOT met'}")
    slow, very = sum(m > 0.1 for m in medians), sum(m > 1 for m in medians)
    print(f"pages over 100 ms        {slow:8d};  over 1 s: {very}")
    return {
        "median_ms": overall * 1000,
        "baseline_ms": baseline * 1000,
        "worst_ratio": slowest.median / baseline,
        "slowest": slowest.url,
        "cut": [p.url for p in cut],
        "pages": {p.url: [round(t * 1000, 1) for t in p.times] for p in pages},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100_000, help="comparison pages [100000]")
    parser.add_argument("--changed", type=float, default=0.02, help="share changed between crawls [0.02]")
    parser.add_argument("--rounds", type=int, default=5, help="fetches of every page [5]")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached archive")
    parser.add_argument("--build-only", action="store_true", help="build (or find) the archive and stop")
    parser.add_argument("--archive", type=Path, help="time this archive instead of building one")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    db = args.archive or build_archive(args.pages, args.changed, args.rebuild)
    if args.build_only:
        print(db)
        return 0
    conn = sqlite3.connect(sqlite_uri(db, mode="ro"), uri=True)
    facts = {
        t: conn.execute(f"select count(*) from {t}").fetchone()[0]
        for t in ("comparisons", "listings", "verdicts", "verdict_appearances", "snapshots")
    }
    conn.close()
    facts["MB"] = round(sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 1e6)
    import httpx

    OUT.mkdir(parents=True, exist_ok=True)
    with verdicts_serve(db, OUT / "serve.log") as origin, httpx.Client(timeout=120) as client:
        paths = discover(client, origin)
        pages = measure(origin, paths, args.rounds)
    figures = report(pages, facts)
    if args.json:
        args.json.write_text(json.dumps({"facts": facts, **figures}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
