"""Page and child-sitemap URLs from a sitemap file (``urlset`` or ``sitemapindex``).

Pure: bytes in, ``(page_urls, child_sitemap_urls)`` out. Gzip is detected by its magic bytes (not
the file name or headers, which lie) and inflated only up to ``MAX_BYTES``, so a small "zip bomb"
cannot exhaust memory. Anything malformed yields two empty lists rather than an exception: a
broken sitemap must never stop a crawl that can still discover pages by links. Documents declaring
entities are refused outright (sitemaps never need them; entity expansion is the classic XML bomb).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from xml.etree import ElementTree
from xml.parsers import expat

#: Largest sitemap accepted after decompression (the sitemaps.org limit is 50 MB).
MAX_BYTES = 50 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


def _inflate(data: bytes, limit: int) -> bytes | None:
    """Gunzip ``data`` up to ``limit`` bytes; None if corrupt or larger than the limit."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        return None
    if len(out) > limit:
        return None
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


_FEED = 64 * 1024  # bytes handed to the pull parser at a time


def parse_sitemap(xml_bytes: bytes, max_bytes: int = MAX_BYTES) -> tuple[list[str], list[str]]:
    """Return ``(page_urls, child_sitemap_urls)`` in document order; ``([], [])`` if unreadable."""
    pages: list[str] = []
    children: list[str] = []
    for is_child, url in iter_sitemap(xml_bytes, max_bytes):
        (children if is_child else pages).append(url)
    return pages, children


def iter_sitemap(xml_bytes: bytes, max_bytes: int = MAX_BYTES) -> Iterator[tuple[bool, str]]:
    """``(is_child_sitemap, url)`` for each ``<loc>``, in document order; nothing if unreadable.

    All or nothing, like `parse_sitemap`: the document is checked to be well-formed XML
    (expat, in C) before the first URL is yielded. Then it is read as a stream, each
    ``<url>`` dropped once its ``<loc>`` is read, so the caller can handle a 30,000-URL
    sitemap a chunk at a time (issue 8: flat memory).
    """
    data = xml_bytes
    if data[:2] == _GZIP_MAGIC:
        inflated = _inflate(data, max_bytes)
        if inflated is None:
            return
        data = inflated
    if len(data) > max_bytes or b"<!ENTITY" in data or not _well_formed(data):
        return
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    root: ElementTree.Element | None = None
    entry = ""
    is_child = False
    depth = 0
    try:
        for at in range(0, len(data), _FEED):
            parser.feed(data[at : at + _FEED])
            for event, element in parser.read_events():
                if event == "start":
                    depth += 1
                    if root is None:
                        root, kind = element, _local(element.tag)
                        if kind not in ("urlset", "sitemapindex"):
                            return
                        is_child = kind == "sitemapindex"
                        entry = "sitemap" if is_child else "url"
                    continue
                depth -= 1
                if depth == 1 and _local(element.tag) == entry:
                    for field in element:
                        if _local(field.tag) == "loc" and field.text:
                            loc = field.text.strip()
                            if loc:
                                yield is_child, loc
                            break
                    assert root is not None
                    root.clear()  # the entries read so far are no longer needed
        parser.close()
    except (ElementTree.ParseError, ValueError):
        return


def _well_formed(data: bytes) -> bool:
    """Whether expat reads `data` to its end without an error (no tree is built)."""
    parser = expat.ParserCreate()
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, ValueError):
        return False
    return True
