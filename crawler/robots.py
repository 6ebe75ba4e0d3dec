"""robots.txt per origin, read once per run, before anything else is asked of that origin.

RFC 9309 semantics: a 2xx answer is parsed (protego; the first 500 KiB), a 4xx answer means
"no rules, crawl everything", and a 5xx answer or a network error means the origin is
unreachable: nothing else is requested from it in this run. Concurrent first requests to one
origin share a single robots.txt fetch. Crawl-delay and Sitemap lines are exposed too.

Crawl-delay is bounded (`MAX_CRAWL_DELAY`, 60 s unless configured): a site asking for 86400 s
between requests would otherwise hold a nightly crawl for days. The cap is logged as a
warning naming the origin, so an operator can see the site is crawled faster than it asked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from protego import Protego

from crawler.config import DEFAULT_MAX_CRAWL_DELAY

__all__ = ["MAX_CRAWL_DELAY", "ROBOTS_MAX_BYTES", "RobotsCache", "RobotsRules"]

#: RFC 9309 §2.5: crawlers must parse at least the first 500 kibibytes.
ROBOTS_MAX_BYTES = 500 * 1024
#: The longest Crawl-delay honoured, in seconds (verdicts.toml's `max_crawl_delay` overrides it).
MAX_CRAWL_DELAY = DEFAULT_MAX_CRAWL_DELAY

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """What one origin's robots.txt allows.

    `status` is "parsed" (2xx, rules apply), "allow_all" (4xx or no file) or "unreachable"
    (5xx / network error: crawl nothing there this run; `error` says why).
    """

    status: str
    parser: Protego | None = None
    error: str | None = None

    @classmethod
    def from_response(cls, status_code: int, body: bytes) -> RobotsRules:
        """Rules from a robots.txt answer that was not a redirect."""
        if 200 <= status_code < 300:
            text = body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace")
            return cls("parsed", Protego.parse(text))
        if 400 <= status_code < 500:
            return cls("allow_all")
        return cls("unreachable", error=f"robots.txt answered HTTP {status_code}")

    @classmethod
    def unreachable(cls, reason: str) -> RobotsRules:
        return cls("unreachable", error=reason)

    @property
    def reachable(self) -> bool:
        return self.status != "unreachable"

    def allows(self, url: str, user_agent: str) -> bool:
        """True if `user_agent` may fetch `url` (never for an unreachable origin)."""
        if self.parser is None:
            return self.status == "allow_all"
        return self.parser.can_fetch(url, user_agent)

    def crawl_delay(self, user_agent: str) -> float | None:
        """The Crawl-delay for `user_agent` in seconds, as the file sets it (None if it doesn't)."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay is not None else None

    def bounded_crawl_delay(
        self, user_agent: str, cap: float = MAX_CRAWL_DELAY, origin: str = "this host"
    ) -> float | None:
        """The Crawl-delay to apply: the file's, but at most `cap` seconds (logged when cut)."""
        delay = self.crawl_delay(user_agent)
        if delay is not None and delay > cap:
            log.warning(
                "%s asks for Crawl-delay %g s; using the %g s maximum (max_crawl_delay)",
                origin,
                delay,
                cap,
            )
            return cap
        return delay

    @property
    def sitemaps(self) -> tuple[str, ...]:
        """The `Sitemap:` URLs the file lists, in order."""
        return tuple(self.parser.sitemaps) if self.parser is not None else ()


class RobotsCache:
    """One robots.txt fetch per origin per run; callers for the same origin wait for it.

    `load(origin)` does the fetch and must return RobotsRules (never raise: a failure is an
    "unreachable" result). A caller that is cancelled does not cancel the shared fetch.
    """

    __slots__ = ("_load", "_pending", "_rules")

    def __init__(self, load: Callable[[str], Awaitable[RobotsRules]]) -> None:
        self._load = load
        self._rules: dict[str, RobotsRules] = {}
        self._pending: dict[str, asyncio.Task[RobotsRules]] = {}

    def cached(self, origin: str) -> RobotsRules | None:
        """The rules for `origin` if already known (no fetch)."""
        return self._rules.get(origin)

    async def get(self, origin: str) -> RobotsRules:
        """The rules for `origin`, fetching robots.txt once if needed."""
        rules = self._rules.get(origin)
        if rules is not None:
            return rules
        task = self._pending.get(origin)
        if task is None:
            task = asyncio.ensure_future(self._fetch(origin))
            self._pending[origin] = task
        return await asyncio.shield(task)

    async def _fetch(self, origin: str) -> RobotsRules:
        try:
            rules = await self._load(origin)
            self._rules[origin] = rules
            return rules
        finally:
            del self._pending[origin]
