"""bench/crawl.py keeps working (a tiny run; figures printed, never asserted), and the
synthetic site it crawls is what it claims: every page reachable by links, every
comparison page parsed."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from bench import synthetic_site
from parsers import parse_page
from parsers.links import extract_links
from tests.bench_run import run_bench


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
    stdout = run_bench("crawl.py", "--pages", "60", "--quick", out=tmp_path, timeout=120)
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
        assert line in stdout
    assert "60 comparisons" in stdout.split("crawl stored", 1)[1].splitlines()[0]
    assert "reparse --force / BeautifulSoup" in stdout
    assert "exit code" not in stdout  # the crawls and the reparse exited 0


def test_many_hosts_benchmark_smoke_run(tmp_path: Path) -> None:
    """The many-sites case runs end to end on a few small sites (figures printed, never
    asserted): one site alone, then every site together, each into its own crawls row."""
    args = ("--many-hosts", "--hosts", "3", "--host-pages", "12", "--host-delay", "0.02")
    stdout = run_bench("crawl.py", *args, out=tmp_path, timeout=180)
    assert "3 sites of 12 pages each (10 comparisons)" in stdout
    assert "verdicts crawl, 1 site alone: crawls {'completed': 1}, 10 comparisons" in stdout
    assert "verdicts crawl, 3 sites together: crawls {'completed': 3}, 30 comparisons" in stdout
    assert "3 sites together / 1 site alone" in stdout
    assert "load average" in stdout
    assert "exit code" not in stdout  # both crawls exited 0
