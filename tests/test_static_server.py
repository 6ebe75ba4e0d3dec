"""The loopback static server the demo, tests and benchmarks crawl: behaves like a web server."""

from __future__ import annotations

import gzip
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# ---- raw requests: what httpx would never send --------------------------------------------


def raw_exchange(origin: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` as is on a fresh connection, half-close, and read until the server closes."""
    port = int(origin.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def statuses(response: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"(?:^|\r\n\r\n|\n)HTTP/1\.1 (\d{3}) ", response)]


@pytest.fixture
def site_with_secret(site: Path) -> Path:
    root = site / "root"
    root.mkdir()
    (root / "index.html").write_text("<h1>inside</h1>")
    (root / "404.html").write_text("<h1>not here</h1>")
    (site / "secret.txt").write_text("TOP-SECRET")  # next to the served root, not in it
    return root


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/../../secret.txt",
        "/./../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/....//secret.txt",
    ],
)
def test_raw_traversal_never_leaves_the_root(site_with_secret: Path, target: str) -> None:
    with StaticServer(site_with_secret) as server:
        response = raw_exchange(server.origin, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert [r.path for r in server.requests] == [target]  # the `..` reached the server raw
    assert statuses(response) == [404]
    assert b"TOP-SECRET" not in response
    assert server.errors == []


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /a%00b.html HTTP/1.1\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\n\r\n",
        b"GET\r\n\r\n",
        b"\r\n\r\n",
        b"GET index.html HTTP/1.1\r\n\r\n",
        b"GET http://elsewhere/ HTTP/1.1\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"G(T / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\n: no name\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-A: b\x00c\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        b"GET /" + b"a/" * 3000 + b" HTTP/1.1\r\n\r\n",
        b"GET /" + "é".encode() * 10 + b" HTTP/1.1\r\n\r\n",
    ],
)
def test_malformed_requests_get_400_or_404_never_a_traceback(site: Path, request_bytes: bytes) -> None:
    with StaticServer(site) as server:
        response = raw_exchange(server.origin, request_bytes)
        after = httpx.get(server.origin + "/")
    assert statuses(response) in ([400], [404])
    assert server.errors == []
    assert after.status_code == 200  # the server survived


def test_a_null_byte_is_a_bad_request(site: Path) -> None:
    with StaticServer(site) as server:
        response = raw_exchange(server.origin, b"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert statuses(response) == [400]


_METHODS = st.sampled_from([b"GET", b"HEAD", b"POST", b"", b"G T", b"\x00"])
_TARGETS = st.one_of(
    st.binary(max_size=60).map(lambda b: b"/" + b),
    st.text(max_size=40).map(lambda t: ("/" + t).encode("utf-8", "surrogatepass")),
    st.sampled_from([b"/", b"/%00", b"/..", b"/%2e%2e/", b"*", b"", b"//", b"/%", b"/%zz"]),
)
_VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"", b"http/1.1"])
_HEADERS = st.lists(
    st.one_of(st.binary(max_size=40), st.sampled_from([b"Connection: close", b"If-None-Match: *"])),
    max_size=4,
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticServer]:
    root = tmp_path_factory.mktemp("fuzz-site")
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "docs").mkdir()
    with StaticServer(root) as server:
        yield server


@settings(max_examples=300, deadline=None)
@given(
    method=_METHODS,
    target=_TARGETS,
    version=_VERSIONS,
    headers=_HEADERS,
    tail=st.binary(max_size=30),
)
def test_fuzzed_requests_always_get_an_http_answer(
    fuzz_server: StaticServer, method: bytes, target: bytes, version: bytes, headers: list[bytes], tail: bytes
) -> None:
    head = b" ".join([method, target, version])
    data = b"\r\n".join([head, *headers]) + b"\r\n\r\n" + tail + b"\r\n\r\n"
    codes = statuses(raw_exchange(fuzz_server.origin, data))
    assert codes
    assert set(codes) <= {200, 301, 304, 400, 404, 405}
    assert fuzz_server.errors == []
    alive = raw_exchange(fuzz_server.origin, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert statuses(alive) == [200]
