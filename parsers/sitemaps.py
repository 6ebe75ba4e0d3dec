"""Page and child-sitemap URLs from a sitemap file (``urlset`` or ``sitemapindex``).

Pure: bytes in, ``(page_urls, child_sitemap_urls)`` out. Gzip is detected by its magic bytes (not
the file name or headers, which lie) and inflated only up to ``MAX_BYTES``, so a small "zip bomb"
cannot exhaust memory. Anything malformed yields two empty lists rather than an exception: a
broken sitemap must never stop a crawl that can still discover pages by links. Documents declaring
entities are refused outright (sitemaps never need them; entity expansion is the classic XML bomb).
"""

from __future__ import annotations

import zlib
from xml.etree import ElementTree

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


def parse_sitemap(xml_bytes: bytes, max_bytes: int = MAX_BYTES) -> tuple[list[str], list[str]]:
    """Return ``(page_urls, child_sitemap_urls)`` in document order; ``([], [])`` if unreadable."""
    data = xml_bytes
    if data[:2] == _GZIP_MAGIC:
        inflated = _inflate(data, max_bytes)
        if inflated is None:
            return [], []
        data = inflated
    if len(data) > max_bytes or b"<!ENTITY" in data:
        return [], []
    try:
        root = ElementTree.fromstring(data)
    except (ElementTree.ParseError, ValueError):
        return [], []
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        return [], []
    entry = "url" if kind == "urlset" else "sitemap"
    found: list[str] = []
    for child in root:
        if not isinstance(child.tag, str) or _local(child.tag) != entry:
            continue
        for field in child:
            if isinstance(field.tag, str) and _local(field.tag) == "loc" and field.text:
                loc = field.text.strip()
                if loc:
                    found.append(loc)
                break
    return (found, []) if kind == "urlset" else ([], found)
