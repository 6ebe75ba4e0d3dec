"""A re-crawl follows the links of pages that answer 304 (issue 14 §1, "a re-crawl never finds
pages linked only from unchanged pages").

Real crawls over loopback HTTP (the static server answers 304 to a matching ETag) into a
real SQLite file. Page B is linked only from page A; on the second crawl A is unchanged
(answered 304, proven by the server's log) and B must still be archived.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.config import Settings, Site
from crawler.engine import crawl
from crawler.static_server import StaticServer
from db import page_links


def page(body: str) -> str:
    return f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "a").mkdir(parents=True)
    (root / "index.html").write_text(page('<a href="/a/">A</a>'), encoding="utf-8")
    (root / "a" / "index.html").write_text(page('<a href="../b/">B</a>'), encoding="utf-8")
    (root / "404.html").write_text(page("not found"), encoding="utf-8")
    return root


@pytest.fixture
def server(site: Path) -> Iterator[StaticServer]:
    with StaticServer(site) as running:
        yield running


def settings_for(origin: str, db_path: Path, **site_options: object) -> Settings:
    site = Site(name="links", start_urls=(f"{origin}/",), **site_options)  # type: ignore[arg-type]
    return Settings(db_path=db_path, sites=(site,), delay=0.0, lock_timeout=0.0)


def query(db_path: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def status_of(db_path: Path, url: str) -> str | None:
    rows = query(db_path, "SELECT status FROM pages WHERE url = ?", url)
    return rows[0][0] if rows else None


def answers(server: StaticServer, since: int, path: str) -> list[int]:
    return [r.status for r in server.requests[since:] if r.path == path and r.method == "GET"]


def add_b(site: Path) -> None:
    (site / "b").mkdir()
    (site / "b" / "index.html").write_text(page("<p>B</p>"), encoding="utf-8")


def test_a_page_gone_then_back_is_found_through_an_unchanged_page(
    site: Path, server: StaticServer, archive_path: Path
) -> None:
    origin = server.origin
    first = crawl(settings_for(origin, archive_path))
    assert first.status == "completed", first.reasons
    assert status_of(archive_path, f"{origin}/b/") == "gone"  # 404: not revisited as a seed
    add_b(site)
    asked = len(server.requests)

    second = crawl(settings_for(origin, archive_path))
    assert second.status == "completed", second.reasons
    assert answers(server, asked, "/a/") == [304]
    assert answers(server, asked, "/b/") == [200]
    assert status_of(archive_path, f"{origin}/b/") == "ok"


def test_a_page_out_of_scope_before_is_found_through_an_unchanged_page(
    site: Path, server: StaticServer, archive_path: Path
) -> None:
    add_b(site)
    origin = server.origin
    first = crawl(settings_for(origin, archive_path, exclude=("/b/",)))
    assert first.status == "completed", first.reasons
    assert status_of(archive_path, f"{origin}/b/") is None
    asked = len(server.requests)

    second = crawl(settings_for(origin, archive_path))
    assert second.status == "completed", second.reasons
    assert answers(server, asked, "/a/") == [304]
    assert status_of(archive_path, f"{origin}/b/") == "ok"


def test_links_are_kept_with_the_body_and_read_again_from_it_when_missing(
    site: Path, server: StaticServer, archive_path: Path
) -> None:
    origin = server.origin
    crawl(settings_for(origin, archive_path))
    kept = query(
        archive_path,
        "SELECT l.data FROM page_links l JOIN pages p ON p.id = l.page_id "
        "AND p.body_sha256 = l.body_sha256 WHERE p.url = ?",
        f"{origin}/a/",
    )
    assert [page_links.decode(data) for (data,) in kept] == [[f"{origin}/b/"]]
    # an archive crawled before links were kept: they are read from the stored body
    conn = sqlite3.connect(archive_path)
    conn.execute("DELETE FROM page_links")
    conn.commit()
    conn.close()
    add_b(site)
    asked = len(server.requests)

    crawl(settings_for(origin, archive_path))
    assert answers(server, asked, "/a/") == [304]
    assert status_of(archive_path, f"{origin}/b/") == "ok"
    kept_again = query(archive_path, "SELECT p.url FROM page_links l JOIN pages p ON p.id = l.page_id")
    assert (f"{origin}/a/",) in kept_again  # kept again, so the next crawl need not parse it
