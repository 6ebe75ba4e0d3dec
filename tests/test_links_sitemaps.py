"""Link extraction and sitemap reading: pure functions on hand-written inputs."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.demo import DEMO_SITE
from parsers.links import _join_plain_path, _resolve_uncached, _resolve_w3lib, extract_links
from parsers.sitemaps import iter_sitemap, parse_sitemap

SITE = DEMO_SITE
PAGE = "http://127.0.0.1:8000/compare/a-vs-b/"


def test_relative_and_absolute_links_resolve() -> None:
    html = """<a href="../c-vs-d/">1</a><a href="/about/">2</a><a href='https://x.test/p?q=1'>3</a>
    <a href="e-vs-f/#quotes">4</a><area href="/map/"><link rel="next" href="/compare/page/2/">"""
    assert extract_links(html, PAGE) == [
        "http://127.0.0.1:8000/compare/c-vs-d/",
        "http://127.0.0.1:8000/about/",
        "https://x.test/p?q=1",
        "http://127.0.0.1:8000/compare/a-vs-b/e-vs-f/",
        "http://127.0.0.1:8000/map/",
        "http://127.0.0.1:8000/compare/page/2/",
    ]


@pytest.mark.parametrize("as_bytes", [False, True])
def test_base_href_is_found_in_any_spelling(as_bytes: bool) -> None:
    html = "<HEAD><BASE\nHREF='/root/'></HEAD><a href='x/'>x</a>"
    page = html.encode() if as_bytes else html
    assert extract_links(page, PAGE) == ["http://127.0.0.1:8000/root/x/"]
    assert extract_links(html.replace("BASE", "basement"), PAGE) == [
        "http://127.0.0.1:8000/compare/a-vs-b/x/"
    ]


def test_base_href_is_honoured() -> None:
    html = "<head><base href='/root/'></head><a href='x/'>x</a><a href='/abs'>y</a>"
    assert extract_links(html, PAGE) == ["http://127.0.0.1:8000/root/x/", "http://127.0.0.1:8000/abs"]


def test_non_web_schemes_fragments_and_duplicates_are_skipped() -> None:
    html = """<a href="mailto:a@b.c">m</a><a href="javascript:void(0)">j</a><a href="tel:123">t</a>
    <a href="#top">f</a><a href="data:text/html,hi">d</a><a href="">e</a><a>none</a>
    <a href=" /same/ ">1</a><a href="/same/#x">2</a><a rel="nofollow" href="/nf/">3</a>
    <link rel="stylesheet" href="/assets/site.css">"""
    assert extract_links(html, PAGE) == ["http://127.0.0.1:8000/same/", "http://127.0.0.1:8000/nf/"]


def test_unsafe_characters_are_percent_encoded() -> None:
    assert extract_links("<a href='/a b/é'>x</a>", PAGE) == ["http://127.0.0.1:8000/a%20b/%C3%A9"]


_HREF_PARTS = st.sampled_from(
    [
        "../",
        "./",
        "/",
        "a",
        "Z9",
        "-",
        ".",
        "..",
        "?",
        "=",
        "&",
        "#",
        "%",
        "%41",
        " ",
        "é",
        ":",
        "'",
        "//",
        "~",
        "@",
        "(",
        ";",
    ]
)
_BASES = st.sampled_from(
    [
        PAGE,
        "http://127.0.0.1:8000/",
        "https://example.com/a/b/c?x=1",
        "http://Example.COM:8080/a/",
        "http://example.com",
        "http://h/%7Euser/x",
        "http://h/a/./b/../c/",
        "http://u:p@h/x/",
    ]
)


@given(base=_BASES, parts=st.lists(_HREF_PARTS, max_size=8))
def test_plain_href_shortcut_resolves_like_w3lib(base: str, parts: list[str]) -> None:
    href = "".join(parts)
    assert _resolve_uncached(base, href) == _resolve_w3lib(base, href)


@pytest.mark.parametrize(
    ("base", "href"),
    [
        (PAGE, "/compare/x-vs-y/"),
        (PAGE, "../x-vs-y/"),
        (PAGE, "x-vs-y/"),
        (PAGE, "../../about/"),
        ("http://127.0.0.1:8000/compare/page/2/?sort=new", "../3/"),
        ("https://example.com/a/b/c.html", "d.html"),
        ("http://u:p@h/x/y/", "../z"),
    ],
)
def test_the_common_link_shapes_take_the_shortcut_and_resolve_like_w3lib(base: str, href: str) -> None:
    joined = _join_plain_path(base, href)
    assert joined is not None
    assert joined == _resolve_w3lib(base, href) == _resolve_uncached(base, href)


@pytest.mark.parametrize(
    ("base", "href"),
    [(PAGE, "../../../../x/"), (PAGE, "./x/"), (PAGE, "a/../b/"), (PAGE, "..//x/"), (PAGE, "x?y=1")],
)
def test_link_shapes_the_shortcut_leaves_to_urljoin(base: str, href: str) -> None:
    assert _join_plain_path(base, href) is None
    assert _resolve_uncached(base, href) == _resolve_w3lib(base, href)


@pytest.mark.parametrize("html", ["", b"", "<a href='http://[::1'>bad</a>", b"\xff\xfe<a"])
def test_empty_or_broken_input_gives_no_links(html: str | bytes) -> None:
    assert extract_links(html, PAGE) == []


def test_fixture_index_links_to_comparisons() -> None:
    index = SITE / "index.html"
    links = extract_links(index.read_bytes(), "http://127.0.0.1:8000/")
    assert any("/compare/" in link and "-vs-" in link for link in links)


URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc> http://127.0.0.1:8000/compare/a-vs-b/ </loc><lastmod>2025-01-01</lastmod></url>
  <url><lastmod>2025-01-02</lastmod><loc>http://127.0.0.1:8000/compare/c-vs-d/</loc></url>
  <url><loc></loc></url>
</urlset>"""

INDEX = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>http://127.0.0.1:8000/sitemap-1.xml</loc></sitemap>
  <sitemap><loc>http://127.0.0.1:8000/sitemap-2.xml.gz</loc></sitemap>
</sitemapindex>"""


def test_urlset() -> None:
    assert parse_sitemap(URLSET) == (
        ["http://127.0.0.1:8000/compare/a-vs-b/", "http://127.0.0.1:8000/compare/c-vs-d/"],
        [],
    )


def test_sitemap_index() -> None:
    assert parse_sitemap(INDEX) == (
        [],
        ["http://127.0.0.1:8000/sitemap-1.xml", "http://127.0.0.1:8000/sitemap-2.xml.gz"],
    )


def test_without_namespace() -> None:
    assert parse_sitemap(b"<urlset><url><loc>http://h/x</loc></url></urlset>") == (["http://h/x"], [])


def test_gzip_is_detected_by_magic() -> None:
    assert parse_sitemap(gzip.compress(URLSET)) == parse_sitemap(URLSET)


def test_gzip_over_the_cap_is_refused() -> None:
    bomb = gzip.compress(URLSET + b" " * 100_000)
    assert parse_sitemap(bomb, max_bytes=50_000) == ([], [])
    assert parse_sitemap(bomb, max_bytes=200_000)[0]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml at all",
        b"<urlset><url><loc>http://h/x</loc></url>",  # truncated
        b"<html><body>sitemap</body></html>",
        b"\x1f\x8bnot really gzip",
        gzip.compress(b"<urlset><url><loc>http://h/x</loc>")[:-10],
        b'<!DOCTYPE u [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><urlset><url><loc>&b;</loc></url></urlset>',
    ],
)
def test_malformed_input_gives_empty_lists(data: bytes) -> None:
    assert parse_sitemap(data) == ([], [])


def test_fixture_sitemap() -> None:
    sitemap = SITE / "sitemap.xml"
    pages, children = parse_sitemap(sitemap.read_bytes())
    assert children == []
    assert pages and all("__ORIGIN__" in page for page in pages)


def _big_urlset(count: int) -> tuple[list[str], bytes]:
    urls = [f"http://127.0.0.1:8000/compare/tool-{i}-vs-tool-{i + 1}/" for i in range(count)]
    entries = "".join(f"<url>\n  <loc>{url}</loc>\n  <lastmod>2025-01-01</lastmod>\n</url>\n" for url in urls)
    xml = f'<?xml version="1.0"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{entries}</urlset>'
    return urls, xml.encode()


def test_a_spooled_file_reads_as_its_bytes(tmp_path: Path) -> None:
    # many 64 KiB pieces, so entries are cut at piece boundaries; gzip inflates piece by piece
    # (whitespace compresses ~1000:1, so one piece of input holds many pieces of output)
    urls, xml = _big_urlset(5_000)
    airy = xml.replace(b"</url>\n", b"</url>" + b" " * 5_000 + b"\n")
    for name, data in (("plain", xml), ("gzip", gzip.compress(xml)), ("airy", gzip.compress(airy))):
        path = tmp_path / f"{name}.xml"
        path.write_bytes(data)
        with path.open("rb") as spooled:
            assert parse_sitemap(spooled) == (urls, []), name
        assert parse_sitemap(data) == (urls, []), name


def test_a_cut_gzip_stream_gives_nothing(tmp_path: Path) -> None:
    # the first pieces inflate to well-formed URLs; the end is missing: all or nothing
    _, xml = _big_urlset(20_000)
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(gzip.compress(xml)[:-50])
    with path.open("rb") as spooled:
        assert parse_sitemap(spooled) == ([], [])


def test_memory_does_not_follow_the_sitemap_size(tmp_path: Path) -> None:
    # A 100,000-page site's sitemap read whole cost the crawl 25 MB at its end (issue 14). Read
    # from its file, a ~4.5 MB sitemap, the same gzipped and a 60 MB gzip bomb each cost under
    # 2 MB of Python memory: a few 64 KiB pieces and the entries of one piece (~1 MB measured),
    # whatever the document's size (the URLs themselves are consumed as they come).
    urls, xml = _big_urlset(30_000)
    plain, zipped, bomb = tmp_path / "s.xml", tmp_path / "s.xml.gz", tmp_path / "bomb.xml.gz"
    plain.write_bytes(xml)
    zipped.write_bytes(gzip.compress(xml))
    bomb.write_bytes(gzip.compress(b"<urlset>" + b" " * 60_000_000 + b"</urlset>"))
    for path, expected in ((plain, len(urls)), (zipped, len(urls)), (bomb, 0)):
        with path.open("rb") as spooled:
            tracemalloc.start()
            try:
                read = sum(1 for _ in iter_sitemap(spooled))
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        assert read == expected, path.name
        assert peak < 2_000_000, (path.name, peak)
