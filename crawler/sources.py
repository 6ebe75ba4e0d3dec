"""Read one page for `verdicts parse`: a local file, or one URL through the crawler's Fetcher.

A URL goes through the same Fetcher as a crawl, so `verdicts parse URL` obeys robots.txt,
the body size cap, the redirect rules and the crawler's User-Agent, and decodes the page by
the crawler's own rules (BOM, HTTP charset, <meta charset>, detection): a page parses here
exactly as it would in a crawl, and a page a crawl may not fetch is not fetched here either.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.encoding import decode_html

if TYPE_CHECKING:
    from crawler.fetch import FetchSettings
    from crawler.results import FetchResult


class SourceError(OSError):
    """The page could not be read; the message says why in one line."""


def read_source(source: str) -> str:
    """The decoded HTML of a file path or an http(s) URL (one page, no crawl)."""
    if source.startswith(("http://", "https://")):
        return fetch_page(source)
    text, _ = decode_html(Path(source).read_bytes(), None)
    return text


def fetch_page(url: str, settings: FetchSettings | None = None) -> str:
    """The decoded HTML at `url`, fetched politely; SourceError if the crawler would not keep it.

    `settings` default to the crawler's, without a delay (one request).
    """
    from crawler.fetch import Fetcher, FetchSettings
    from crawler.urls import try_canonicalize

    canonical = try_canonicalize(url)
    if canonical is None:
        raise SourceError("not a URL the crawler can fetch")
    fetch_settings = settings or FetchSettings(delay=0.0)

    async def one() -> FetchResult:
        async with Fetcher(fetch_settings) as fetcher:
            return await fetcher.fetch(canonical)

    result = asyncio.run(one())
    outcome, error = result.outcome, result.error
    if outcome == "disallowed":
        raise SourceError(f"robots.txt disallows it ({error})" if error else "robots.txt disallows it")
    if outcome != "fetched":
        raise SourceError(error or f"{outcome} (HTTP {result.http_status})")
    if result.kind != "html" or result.text is None:
        raise SourceError(f"not an HTML page ({result.content_type or 'no Content-Type'})")
    return result.text
