"""Read one page for `verdicts parse`: a local file, or a single polite GET of a URL."""

from __future__ import annotations

from pathlib import Path

import httpx

from crawler import __version__


def read_source(source: str) -> bytes:
    """The raw bytes of a file path or an http(s) URL (one request, no crawl)."""
    if source.startswith(("http://", "https://")):
        headers = {"User-Agent": f"verdict-archive/{__version__} (parse)"}
        try:
            response = httpx.get(source, headers=headers, timeout=20, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise OSError(str(error)) from error
        return response.content
    return Path(source).read_bytes()
