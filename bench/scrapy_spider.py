"""A minimal, plain Scrapy spider doing the benchmark crawl, to compare `verdicts crawl` with.

Issue 8 asks for the crawl's speed next to "a plain Scrapy spider doing the same crawl and
extraction". This is that spider, written the way Scrapy's tutorial writes one: robots.txt
obeyed, the same concurrency as the crawl (16 overall and per host, no delay), every in-scope
link followed, and on each comparison page the same fields our parser returns (title; per
tool: name, category, tagline, panel ship, community, entry price, description; the reviewer
quotes) yielded as an item into a JSON-lines feed. Run as a subprocess by `bench/crawl.py`:

    python bench/scrapy_spider.py ORIGIN --out items.jl --stats stats.json [--concurrency 16]

scrapy is a bench-only dependency (not needed by the project).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response


def _text(node: Any) -> str:
    return " ".join(" ".join(node.css("::text").getall()).split())


class ComparisonSpider(scrapy.Spider):
    """Follow every in-scope link from the start page; extract each comparison page."""

    name = "comparisons"

    def __init__(self, origin: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [origin.rstrip("/") + "/"]
        self.allowed_domains = [urlsplit(origin).hostname or "127.0.0.1"]

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if not isinstance(response, scrapy.http.TextResponse):
            return
        cards = response.css("section.tool-card")
        if cards:
            yield {
                "url": response.url,
                "title": _text(response.css("h1.comparison-title")),
                "tools": [
                    {
                        "name": _text(card.css(".tool-card__name")),
                        "category": _text(card.css(".tool-card__category")),
                        "tagline": _text(card.css(".tool-card__tagline")),
                        "panel_ship": _text(card.css(".stat--ship .stat__value")),
                        "community": _text(card.css(".stat--community .stat__value")),
                        "entry_price": _text(card.css(".stat--entry .stat__value")),
                        "description": _text(card.css(".tool-card__description")),
                    }
                    for card in cards
                ],
                "quotes": [_text(quote) for quote in response.css("blockquote.verdict__quote")],
            }
        hrefs = response.css("a::attr(href), link[rel~=next]::attr(href), link[rel~=prev]::attr(href)")
        for href in hrefs.getall():
            if ":" not in href.split("/", 1)[0] or href.startswith(("http:", "https:")):
                yield response.follow(href)  # relative or http(s): not mailto:, javascript:, ...


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("origin", help="e.g. http://127.0.0.1:8080")
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file for the items")
    parser.add_argument("--stats", type=Path, help="write Scrapy's final stats here (JSON)")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)

    process = CrawlerProcess(
        settings={
            "ROBOTSTXT_OBEY": True,
            "CONCURRENT_REQUESTS": args.concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
            "DOWNLOAD_DELAY": 0,
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
            "FEEDS": {args.out.as_uri(): {"format": "jsonlines", "overwrite": True}},
        }
    )
    crawler = process.create_crawler(ComparisonSpider)
    process.crawl(crawler, origin=args.origin)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    if args.stats:
        args.stats.write_text(json.dumps(stats, default=str), encoding="utf-8")
    return 0 if stats.get("finish_reason") == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
