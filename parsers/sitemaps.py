"""Page and child-sitemap URLs from a sitemap file (``urlset`` or ``sitemapindex``).

Pure: a document in (bytes, or a binary file the crawl spooled it to), ``(is_child, url)`` pairs
out. Gzip is detected by its magic bytes (not the file name or headers, which lie) and inflated
piece by piece, only up to ``MAX_BYTES``, so a small "zip bomb" cannot exhaust memory. The document
is read as a stream, twice: once to check it is well-formed XML, once for its URLs. Memory stays
flat however long the sitemap (a 13 MB one listing 100,000 pages read whole cost the crawl 25 MB).
Anything malformed yields nothing rather than an exception: a broken sitemap must never stop a
crawl that can still discover pages by links. Documents declaring entities are refused outright
(sitemaps never need them; entity expansion is the classic XML bomb).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from typing import BinaryIO
from xml.etree import ElementTree
from xml.parsers import expat

#: Largest sitemap accepted after decompression (the sitemaps.org limit is 50 MB).
MAX_BYTES = 50 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_FEED = 64 * 1024  # bytes read, inflated and handed to a parser at a time


class _Unreadable(Exception):
    """The document is over the cap, not gzip it claims to be, or declares entities."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def parse_sitemap(source: bytes | BinaryIO, max_bytes: int = MAX_BYTES) -> tuple[list[str], list[str]]:
    """Return ``(page_urls, child_sitemap_urls)`` in document order; ``([], [])`` if unreadable."""
    pages: list[str] = []
    children: list[str] = []
    for is_child, url in iter_sitemap(source, max_bytes):
        (children if is_child else pages).append(url)
    return pages, children


def iter_sitemap(source: bytes | BinaryIO, max_bytes: int = MAX_BYTES) -> Iterator[tuple[bool, str]]:
    """``(is_child_sitemap, url)`` for each ``<loc>``, in document order; nothing if unreadable.

    All or nothing, like `parse_sitemap`: the whole document is checked to be well-formed XML
    (expat, in C, no tree built) before the first URL is yielded. Then it is read again as a
    stream, each ``<url>`` dropped once its ``<loc>`` is read, so the caller can handle a
    100,000-URL sitemap a chunk at a time. A file ``source`` must be seekable (it is read twice,
    from its current position).
    """
    stream: BinaryIO = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    start = stream.tell()
    try:
        if not _well_formed(_pieces(stream, max_bytes)):
            return
    except _Unreadable:
        return
    stream.seek(start)
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    root: ElementTree.Element | None = None
    entry = ""
    is_child = False
    depth = 0
    try:
        for piece in _pieces(stream, max_bytes):
            parser.feed(piece)
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
    except (ElementTree.ParseError, ValueError, _Unreadable):
        return


def _pieces(stream: BinaryIO, max_bytes: int) -> Iterator[bytes]:
    """The document's bytes, gunzipped if they start as gzip, a piece at a time.

    Raises `_Unreadable` past ``max_bytes`` (counted after inflating) or on a corrupt or
    truncated gzip stream.
    """
    first = stream.read(_FEED)
    if first[:2] != _GZIP_MAGIC:
        size = 0
        piece = first
        while piece:
            size += len(piece)
            if size > max_bytes:
                raise _Unreadable
            yield piece
            piece = stream.read(_FEED)
        return
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    size = 0
    data = first
    try:
        while True:
            # at most _FEED bytes out per call: a bomb inflates a piece at a time, up to the cap
            out = inflater.decompress(data, _FEED)
            if out:
                size += len(out)
                if size > max_bytes:
                    raise _Unreadable
                yield out
            data = inflater.unconsumed_tail
            if data or len(out) == _FEED:
                continue  # output is waiting for room
            if inflater.eof:
                break
            data = stream.read(_FEED)
            if not data:
                break
    except zlib.error:
        raise _Unreadable from None
    if not inflater.eof:
        raise _Unreadable  # cut short: a fragment of a sitemap is not the sitemap


def _well_formed(pieces: Iterator[bytes]) -> bool:
    """Whether expat reads the pieces to their end without an error and finds no entity
    declaration (no tree is built)."""
    parser = expat.ParserCreate()

    def refuse(*_: object) -> None:
        raise _Unreadable

    parser.EntityDeclHandler = refuse
    try:
        for piece in pieces:
            parser.Parse(piece, False)
        parser.Parse(b"", True)
    except (expat.ExpatError, ValueError):
        return False
    return True
