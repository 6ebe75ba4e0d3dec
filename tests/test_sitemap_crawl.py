"""End to end: a site found only through its sitemaps, gzipped and larger than one read piece.

The crawl spools each sitemap to a temporary file and reads it as a stream (parsers/sitemaps.py);
here over real loopback HTTP into a real archive: robots.txt names a gzipped sitemap index, whose
two gzipped children list pages no page links to.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from crawler.engine import crawl
from crawler.static_server import StaticServer
from tests.test_engine import column, settings_for

PAGES = 240
NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def write_site(root: Path, origin: str) -> set[str]:
    """Pages linked from nowhere, listed by two gzipped sitemaps under a gzipped index."""
    (root / "index.html").write_text(
        "<html><body><p>Nothing linked here.</p></body></html>", encoding="utf-8"
    )
    (root / "robots.txt").write_text(f"User-agent: *\nAllow: /\nSitemap: {origin}/maps/index.xml.gz\n")
    (root / "maps").mkdir()
    (root / "pages").mkdir()
    urls = set()
    children = []
    for part in range(2):
        entries = []
        for i in range(part * PAGES // 2, (part + 1) * PAGES // 2):
            (root / "pages" / f"{i}.html").write_text(f"<html><body><p>Page {i}</p></body></html>")
            urls.add(f"{origin}/pages/{i}.html")
            # (padding: each child inflates past the parser's 64 KiB pieces, entries cut between them)
            entries.append(
                f"<url><loc>{origin}/pages/{i}.html</loc>{' ' * 600}<lastmod>2025-01-01</lastmod></url>"
            )
        xml = f'<?xml version="1.0"?>\n<urlset xmlns="{NS}">\n' + "\n".join(entries) + "\n</urlset>\n"
        assert len(xml) > 64 * 1024
        (root / "maps" / f"part-{part}.xml.gz").write_bytes(gzip.compress(xml.encode()))
        children.append(f"<sitemap><loc>{origin}/maps/part-{part}.xml.gz</loc></sitemap>")
    index = f'<?xml version="1.0"?>\n<sitemapindex xmlns="{NS}">{"".join(children)}</sitemapindex>\n'
    (root / "maps" / "index.xml.gz").write_bytes(gzip.compress(index.encode()))
    return urls


def test_pages_listed_only_by_gzipped_sitemaps_are_all_archived(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    with StaticServer(root) as server:
        listed = write_site(root, server.origin)
        report = crawl(settings_for(server.origin, tmp_path / "archive.db"))
        fetched = {r.path for r in server.requests if r.method == "GET"}
    assert (report.status, report.exit_code) == ("completed", 0), report.reasons
    assert {"/maps/index.xml.gz", "/maps/part-0.xml.gz", "/maps/part-1.xml.gz"} <= fetched
    archived = set(column(tmp_path / "archive.db", "SELECT url FROM pages WHERE url LIKE '%/pages/%'"))
    assert archived == listed
