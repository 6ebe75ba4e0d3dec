"""The loopback static server the demo, tests and benchmarks crawl: behaves like a web server."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from crawler.static_server import StaticServer, serve_directory


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "index.html").write_text("<h1>home</h1>")
    (tmp_path / "docs" / "index.html").write_text("<h1>docs</h1>")
    (tmp_path / "404.html").write_text("<h1>not here</h1>")
    (tmp_path / "robots.txt").write_text("Sitemap: __ORIGIN__/sitemap.xml\n")
    (tmp_path / "sitemap.xml").write_text("<urlset><url><loc>__ORIGIN__/docs/</loc></url></urlset>")
    (tmp_path / "child.xml.gz").write_bytes(gzip.compress(b"<loc>__ORIGIN__/a</loc>"))
    (tmp_path / "page.html").write_text("__ORIGIN__ stays as written in HTML")
    return tmp_path


def test_serves_files_directories_and_404(site: Path) -> None:
    with StaticServer(site) as server, httpx.Client(base_url=server.origin) as client:
        home = client.get("/")
        assert (home.status_code, home.text) == (200, "<h1>home</h1>")
        assert home.headers["content-type"] == "text/html"
        assert client.get("/docs/").text == "<h1>docs</h1>"
        redirect = client.get("/docs")
        assert (redirect.status_code, redirect.headers["location"]) == (301, "/docs/")
        missing = client.get("/nowhere/")
        assert (missing.status_code, missing.text) == (404, "<h1>not here</h1>")
        assert client.get("/../../etc/passwd").status_code == 404
        assert client.head("/").headers["content-length"] == str(len("<h1>home</h1>"))
        assert client.post("/").status_code == 405


def test_origin_placeholder_is_replaced_in_xml_and_txt_only(site: Path) -> None:
    with StaticServer(site) as server, httpx.Client(base_url=server.origin) as client:
        assert client.get("/robots.txt").text == f"Sitemap: {server.origin}/sitemap.xml\n"
        assert f"<loc>{server.origin}/docs/</loc>" in client.get("/sitemap.xml").text
        assert client.get("/sitemap.xml").headers["content-type"] == "application/xml"
        child = client.get("/child.xml.gz").content
        assert gzip.decompress(child) == f"<loc>{server.origin}/a</loc>".encode()
        assert client.get("/page.html").text.startswith("__ORIGIN__")


def test_conditional_requests_get_304(site: Path) -> None:
    with StaticServer(site) as server, httpx.Client(base_url=server.origin) as client:
        first = client.get("/")
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert client.get("/", headers={"If-None-Match": etag}).status_code == 304
        assert client.get("/", headers={"If-None-Match": '"other"'}).status_code == 200
        assert client.get("/", headers={"If-Modified-Since": modified}).status_code == 304
        old = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert client.get("/", headers={"If-Modified-Since": old}).status_code == 200
        (site / "index.html").write_text("<h1>changed</h1>")
        changed = client.get("/", headers={"If-None-Match": etag})
        assert (changed.status_code, changed.text) == (200, "<h1>changed</h1>")
        assert changed.headers["etag"] != etag
    log = [(r.path, r.status, r.conditional) for r in server.requests]
    assert log[:3] == [("/", 200, False), ("/", 304, True), ("/", 200, True)]
    assert server.paths() == ["/"] * 6


def test_serve_directory_yields_a_loopback_origin(site: Path) -> None:
    with serve_directory(site) as origin:
        assert origin.startswith("http://127.0.0.1:")
        assert httpx.get(origin + "/docs/").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(origin + "/")


def test_keep_alive_serves_many_requests_on_one_connection(site: Path) -> None:
    with StaticServer(site) as server, httpx.Client(base_url=server.origin) as client:
        for _ in range(50):
            assert client.get("/docs/").status_code == 200
    assert len(server.requests) == 50
