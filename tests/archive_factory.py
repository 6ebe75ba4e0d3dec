"""Builders for the archive tests: fetch results and parse results made directly.

The archive tests exercise db/ alone, so they build `ParseResult`s by hand (the
parser's contract) and fetch results as a plain dataclass with FetchResult's fields.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from crawler.results import FetchResult
from parsers.model import Listing, ParseResult, Quote

#: Tests store the crawler's own record type (plain data, importable without the fetcher).
Fetch = FetchResult


def at(day: int, hour: int = 12) -> str:
    """A fetch time on day `day` of November 2026 (ISO 8601 UTC, as the fetcher writes)."""
    return f"2026-11-{day:02d}T{hour:02d}:00:00.000000+00:00"


def new_crawl(db: Any, day: int, site: str = "example", status: str = "completed") -> int:
    """A crawls row started on day `day` (a sqlite-utils Database); its id."""
    row = {"site": site, "start_urls": "[]", "started_at": at(day, 0), "status": status}
    return int(db["crawls"].insert(row).last_pk)


def crawled_on_days(path: Path, url: str, bodies: tuple[str, ...]) -> None:
    """An archive at `path` where crawl N, on day N, fetched `url` as bodies[N - 1] and the
    real parser read it: one page's history."""
    from db.archive import open_archive
    from db.store import ArchiveWriter
    from parsers import parse_page

    db = open_archive(path)
    try:
        for day, body in enumerate(bodies, start=1):
            ArchiveWriter(db, new_crawl(db, day, "t")).store(
                [(fetched(url, body, at(day)), parse_page(body, url))]
            )
    finally:
        db.close()


def fetched(url: str, body: bytes | str, when: str, *, etag: str | None = None) -> Fetch:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return Fetch(
        url,
        url,
        "fetched",
        200,
        "text/html; charset=utf-8",
        etag,
        None,
        data,
        data.decode("utf-8", "replace"),
        "utf-8",
        "html",
        when,
        None,
    )


def other(url: str, outcome: str, when: str, status: int | None = None, error: str | None = None) -> Fetch:
    return Fetch(url, url, outcome, status, None, None, None, b"", None, None, "html", when, error)


def listing(
    position: int, name: str, price: str = "$20/mo", usd: float | None = 20.0, **values: object
) -> Listing:
    base: dict[str, object] = {
        "category": "Developer Tools",
        "tagline": f"{name} tagline",
        "panel_ship_pct": 80,
        "community_pct": 55,
        "entry_price_kind": "paid",
        "description": f"{name} is a tool.",
    }
    base.update(values)
    return Listing(position=position, name=name, entry_price=price, entry_price_usd=usd, **base)  # type: ignore[arg-type]


def quotes_for(left: str, right: str) -> list[Quote]:
    """Eight quotes, two per reviewer row (left tool's, then right tool's)."""
    out: list[Quote] = []
    for seat in range(1, 5):
        out.append(
            Quote(1, seat, f"Seat {seat} says {left} is clean: the primitive holds up well under load.")
        )
        out.append(
            Quote(2, seat, f"Seat {seat} says {right} is clean: the primitive holds up well under load.")
        )
    return out


def comparison(
    left: str = "Alpha",
    right: str = "Beta",
    *,
    listings: list[Listing] | None = None,
    quotes: list[Quote] | None = None,
    status: str = "ok",
    problems: list[str] | None = None,
) -> ParseResult:
    return ParseResult(
        status=status,  # type: ignore[arg-type]
        parser="test",
        parser_version="1",
        title=f"{left} vs {right}",
        listings=listings if listings is not None else [listing(1, left), listing(2, right)],
        quotes=quotes if quotes is not None else quotes_for(left, right),
        problems=problems or [],
    )


def with_quote(parse: ParseResult, index: int, text: str) -> ParseResult:
    quotes = list(parse.quotes)
    quotes[index] = replace(quotes[index], text=text)
    return replace(parse, quotes=quotes)
