"""Read one page for `verdicts parse`: a local file, or a single polite GET of a URL."""

from __future__ import annotations

from pathlib import Path

import httpx

from crawler import __version__
from crawler.encoding import decode_html


def read_source(source: str) -> str:
    """The decoded HTML of a file path or an http(s) URL (one request, no crawl).

    Decoding goes through the crawler's own rules (HTTP charset, <meta charset>, BOM,
    detection), so a page parses here exactly as it would in a crawl.
    """
    content_type: str | None = None
    if source.startswith(("http://", "https://")):
        headers = {"User-Agent": f"verdict-archive/{__version__} (parse)"}
        try:
            response = httpx.get(source, headers=headers, timeout=20, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise OSError(str(error)) from error
        body, content_type = response.content, response.headers.get("content-type")
    else:
        body = Path(source).read_bytes()
    text, _ = decode_html(body, content_type)
    return text
