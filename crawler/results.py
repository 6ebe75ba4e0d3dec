"""`FetchResult`: what happened to one URL, as plain data (defined apart from the fetcher).

The writer process unpickles thousands of these; defining the class here, away from
crawler.fetch, means the writer never imports httpx and aiohttp (half a second of CPU
and ~20 MB per crawl). `crawler.fetch` re-exports it.

It pickles as its class and a tuple of its values (`__reduce__`): the default of a
slots dataclass goes through `dataclasses.fields` on both sides, which cost ~16 us per
result, as much as the rest of a 304's trip through the pipe (issue 8).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from crawler.exchange import Exchange


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What happened to one URL: plain data for the writer process."""

    url: str  # canonical URL that was asked for (one `pages` row per canonical URL)
    final_url: str  # canonical URL after redirects
    outcome: str  # "fetched" | "not_modified" | "failed" | "disallowed" | "skipped" | "gone"
    http_status: int | None
    content_type: str | None
    etag: str | None
    last_modified: str | None
    body: bytes  # raw bytes as served, after Content-Encoding (b"" unless fetched)
    text: str | None  # decoded text for HTML (None otherwise)
    encoding: str | None  # charset used to decode
    kind: str  # "html" | "sitemap" | "other"
    fetched_at: str  # ISO 8601 UTC
    error: str | None  # one-line reason for failed / skipped / disallowed / gone
    attempts: int = 1  # requests sent for this URL: retries and redirect hops included
    exchange: Exchange | None = None  # request and response heads of the last hop (fetch log)
    #: The page's outgoing links (absolute, page order) when the crawl read them: from the
    #: fetched body, or from the stored one on a 304; kept with the body (db/page_links.py).
    links: tuple[str, ...] | None = None
    #: The DOM headless Chromium built from `body` (crawler/render.py); None when not rendered.
    rendered: str | None = None
    #: A fetched sitemap's body (`body` is then b""): an unnamed temporary file at its start,
    #: read as a stream (parsers.sitemaps). Never sent to the writer: it does not pickle.
    body_file: BinaryIO | None = None

    def __reduce__(self) -> tuple[type[FetchResult], tuple[Any, ...]]:
        return FetchResult, _values(self)


_values = attrgetter(*(f.name for f in fields(FetchResult)))
