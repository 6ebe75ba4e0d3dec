"""bench/crawl.py keeps working (a tiny run; figures printed, never asserted), and the
synthetic site it crawls is what it claims: every page reachable by links, every
comparison page parsed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bench import synthetic_site
from parsers import parse_page
from parsers.links import extract_links
from tests.conftest import ROOT


def test_synthetic_site_is_linked_and_parses(tmp_path: Path) -> None:
    site = synthetic_site.build(120, tmp_path / "site")
    origin = "http://127.0.0.1:9"
    site.set_origin(origin)
    assert site.comparisons == 120
    robots = (tmp_path / "site" / "robots.txt").read_text(encoding="utf-8")
    assert robots.endswith(f"Sitemap: {origin}/sitemap.xml\n")
    seen, todo = {"/"}, ["/"]
    while todo:  # breadth-first over the links, as a crawler finds them
        path = todo.pop()
        html = (tmp_path / "site" / path.strip("/") / "index.html").read_text(encoding="utf-8")
        for url in extract_links(html, origin + path):
            target = urlsplit(url)
            page = tmp_path / "site" / target.path.strip("/") / "index.html"
            if target.netloc == "127.0.0.1:9" and target.path not in seen and page.exists():
                seen.add(target.path)
                todo.append(target.path)
    assert seen == set(site.pages)
    compare = [p for p in site.pages if p.startswith("/compare/") and "/page/" not in p]
    assert len(compare) == 120
    statuses = {
        parse_page((tmp_path / "site" / p.strip("/") / "index.html").read_bytes()).status for p in compare
    }
    assert statuses == {"ok"}


def test_crawl_benchmark_smoke_run(tmp_path: Path) -> None:
    env = {**os.environ, "VERDICTS_BENCH_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "crawl.py"), "--pages", "60", "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for line in (
        "bare httpx pool, 16 conn",
        "bare httpx+aiohttp transport, 16 conn",
        "verdicts crawl, fresh archive",
        "verdicts crawl, unchanged re-crawl",
        "crawl / bare httpx loop (16 conn)",
        "crawl peak memory (process tree)",
        "re-crawl CPU / bare httpx loop CPU",
        "re-crawl archive growth",
    ):
        assert line in done.stdout
    assert "60 comparisons" in done.stdout.split("crawl stored", 1)[1].splitlines()[0]
    assert "reparse --force / BeautifulSoup" in done.stdout
    assert "exit code" not in done.stdout  # the crawls and the reparse exited 0


def test_many_hosts_benchmark_smoke_run(tmp_path: Path) -> None:
    """The many-sites case runs end to end on a few small sites (figures printed, never
    asserted): one site alone, then every site together, each into its own crawls row."""
    env = {**os.environ, "VERDICTS_BENCH_DIR": str(tmp_path)}
    command = [sys.executable, str(ROOT / "bench" / "crawl.py"), "--many-hosts", "--hosts", "3"]
    command += ["--host-pages", "12", "--host-delay", "0.02"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=180, cwd=ROOT, env=env, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 sites of 12 pages each (10 comparisons)" in done.stdout
    assert "verdicts crawl, 1 site alone: crawls {'completed': 1}, 10 comparisons" in done.stdout
    assert "verdicts crawl, 3 sites together: crawls {'completed': 3}, 30 comparisons" in done.stdout
    assert "3 sites together / 1 site alone" in done.stdout
    assert "load average" in done.stdout
    assert "exit code" not in done.stdout  # both crawls exited 0
