"""Fetch one URL politely and turn whatever happens into one plain FetchResult.

The crawl engine hands canonical URLs to `Fetcher.fetch` and gets back data, never an exception
for something the network or a server did. In order, a fetch: checks the host is allowed; reads
the origin's robots.txt once per run (shared by concurrent callers; unreachable => "skipped",
Disallow => "disallowed", never requested); waits for a politeness slot (per-host delay and
concurrency, global concurrency); sends a GET with the stored validators (304 =>
"not_modified"); retries connection errors, timeouts, 5xx and 429 with jittered backoff and
Retry-After; follows at most `max_redirects` redirects by hand so each hop is checked against the
allowed hosts and robots.txt and loops are caught; streams the body under a size cap; skips
non-HTML bodies (sitemaps excepted when asked for); decodes HTML (crawler.encoding).

Transport (crawler.transport): an aiohttp session spoken to directly by default (httpx's client
layer cost more CPU per request than the rest of this path, issue 8); `FetchSettings.transport =
"httpx"` uses httpx's own pool, and an `httpx.AsyncClient` passed in is used as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urljoin

from crawler import __version__
from crawler.addresses import Address, AddressClassifier, is_private_address
from crawler.encoding import decode_html, html_encoding, kind_from_content_type, sniff_kind
from crawler.politeness import Politeness
from crawler.results import FetchResult
from crawler.retry import RetryPolicy, describe_error, parse_retry_after, retryable_error
from crawler.robots import MAX_CRAWL_DELAY, ROBOTS_MAX_BYTES, RobotsCache, RobotsRules
from crawler.transport import BodyDecodingError, Inflater, WireResponse, make_wire
from crawler.urls import MAX_URL_CHARS, host_and_origin, host_matches, host_of, try_canonicalize

if TYPE_CHECKING:
    import httpx

    from crawler.exchange import Exchange

__all__ = ["DEFAULT_USER_AGENT", "FetchResult", "FetchSettings", "Fetcher", "SharedFetching"]

DEFAULT_USER_AGENT = f"verdict-archive/{__version__} (+https://github.com/verdict-archive/verdict-archive)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ROBOTS_MAX_REDIRECTS = 5  # RFC 9309 §2.3.1.2
#: Largest sitemap read, after HTTP Content-Encoding (sitemaps.org: 50 MB uncompressed).
SITEMAP_MAX_BYTES = 50 * 1024 * 1024
_DRAIN_MAX = 64 * 1024  # a skipped body up to this size is read to keep the connection alive


@dataclass(slots=True)
class FetchSettings:
    """How the Fetcher behaves; every field has a polite default.

    `allowed_hosts` limits fetches and redirect targets (entries like `.example.com` admit
    subdomains); empty means every redirect must stay on the host of the URL asked for.
    Fields after `allowed_hosts` are additions to the contract, all optional.
    """

    delay: float = 1.0
    concurrency: int = 16
    per_host: int = 4
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_bytes: int = 5_000_000
    max_redirects: int = 10
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    allowed_hosts: frozenset[str] = frozenset()
    retry_after_max: float = 120.0  # a longer Retry-After gives the URL up for this run
    total_timeout: float = 120.0  # one attempt, headers and body, however slowly they trickle
    transport: str = "aiohttp"  # "aiohttp" (aiohttp directly) or "httpx" (httpx's own pool)
    max_crawl_delay: float = MAX_CRAWL_DELAY  # a longer robots.txt Crawl-delay is cut to this (logged)
    # Sitemaps have their own cap: the protocol allows 50 MB uncompressed (50,000 URLs), ten
    # times a page's. A sitemap URL that turns out to be an HTML page still gets `max_bytes`.
    max_sitemap_bytes: int = SITEMAP_MAX_BYTES
    #: Which addresses are private: a redirect from a public host to a private one is refused.
    address_is_private: Callable[[Address], bool] = is_private_address


class _Reply:
    """One hop's answer after retries (internal)."""

    __slots__ = (
        "attempts",
        "body",
        "body_file",
        "content_type",
        "error",
        "etag",
        "exchange",
        "kind",
        "last_modified",
        "location",
        "retry_after",
        "status",
    )

    def __init__(self, status: int | None, *, error: str | None = None) -> None:
        self.status = status
        self.error = error
        self.attempts = 1
        self.body = b""
        self.body_file: BinaryIO | None = None  # a sitemap's body, spooled to disk
        self.kind = "other"
        self.content_type: str | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.location: str | None = None
        self.retry_after: float | None = None
        self.exchange: Exchange | None = None  # heads of the exchange, for the fetch log


_NO_REPLY = _Reply(None)  # stands in when no request was sent (never mutated)


# ---- bodies: reading them under a cap, or not at all ----------------------------------------------


class BodyTooLarge(Exception):
    """The body is over the size cap (not retried: it will be as large next time)."""

    def __init__(self, limit: int, detail: str = "") -> None:
        super().__init__(f"body larger than {limit} bytes{detail}")


class BodyNotSpooled(Exception):
    """A sitemap's body could not be written to its temporary file (a full disk)."""


def _write_spooled(spool: BinaryIO, piece: bytes) -> None:
    """Write a piece of a sitemap to its file: a full disk fails that sitemap, with the reason."""
    try:
        spool.write(piece)
    except OSError as error:
        raise BodyNotSpooled(f"sitemap not stored: {error}") from error


async def read_body(
    response: WireResponse, limit: int, truncate: bool, sink: Callable[[bytes], object] | None = None
) -> bytes:
    """The body after its Content-Encoding, read piece by piece; past `limit` bytes (counted
    after inflating, so a gzip bomb stops at the cap too) it is cut (`truncate`) or the read
    stops with BodyTooLarge, so an endless or explosive body never sits in memory.

    With a `sink` the pieces are handed to it instead (and b"" returned): a sitemap may be
    50 MB, which held as bytes and joined would cost the crawl twice that at once."""
    inflater = Inflater.for_coding(response.header("content-encoding"))
    chunks: list[bytes] = []
    store = chunks.append if sink is None else sink
    size = 0
    while True:
        raw = await response.chunk()
        if inflater is not None:
            # one byte more than the room left says "over the cap" without inflating further
            piece = inflater.feed(raw, limit - size + 1) if raw else inflater.finish(limit - size + 1)
        else:
            piece = raw
        if piece:
            size += len(piece)
            if size > limit:
                if not truncate:
                    raise BodyTooLarge(limit)
                store(piece[: len(piece) - (size - limit)])
                break
            store(piece)
        if not raw:
            break
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


async def _drain(response: WireResponse, length: str | None, errors: tuple[type[BaseException], ...]) -> None:
    """Read and drop a small unwanted body (a 404 page, a redirect's note) so the keep-alive
    connection can be reused; a large or unsized one is left unread and the connection closed."""
    if length is not None and length.isascii() and length.isdigit() and int(length) <= _DRAIN_MAX:
        with contextlib.suppress(*errors):  # the status is all we needed
            await response.drain()


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str] | None:
    if not etag and not last_modified:
        return None
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _judge(reply: _Reply) -> tuple[str, str | None]:
    """The outcome and reason for the last hop's reply."""
    status = reply.status
    if reply.error is not None or status is None:
        return "failed", reply.error
    if 200 <= status < 300:
        if reply.kind == "other":
            return "skipped", f"not HTML: {reply.content_type or 'no content type'}"
        return "fetched", None
    if status == 304:
        return "not_modified", None
    if status in (404, 410):
        return "gone", f"HTTP {status}"
    if 300 <= status < 400:
        return "failed", f"HTTP {status} without a usable Location"
    return "failed", f"HTTP {status}"


def _host_and_origin(url: str) -> tuple[str, str]:
    """(host, origin) of an http(s) URL; ("", "") for anything else, a bad port included."""
    if not url.startswith(("http://", "https://")):
        return "", ""
    try:
        return host_and_origin(url)
    except ValueError:
        return "", ""


class SharedFetching:
    """What the fetchers of several sites crawled together share: one connection pool, and
    one `Politeness`, so a host is spaced by its delay and capped at `per_host` whichever
    sites ask it. Each site keeps `concurrency` requests in flight of its own (its workers),
    so the pool and the global cap are `concurrency` per site: a site whose host stalls
    holds its own slots, never the others'."""

    def __init__(self, settings: FetchSettings, sites: int = 1) -> None:
        connections = settings.concurrency * max(1, sites)
        self.wire = make_wire(
            settings.transport,
            None,
            connections=connections,
            user_agent=settings.user_agent,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )
        self.politeness = Politeness(settings.delay, settings.per_host, connections)

    async def aclose(self) -> None:
        await self.wire.aclose()


class Fetcher:
    """Polite, retrying, size-capped fetching of canonical URLs (an async context manager).

    `sleep` and `clock` are injectable so tests can record waits (backoff, Retry-After,
    Crawl-delay) instead of sleeping through them. With `shared`, the connections and the
    per-host politeness are those of a whole run of sites (closed by its owner).
    """

    def __init__(
        self,
        settings: FetchSettings,
        client: httpx.AsyncClient | None = None,
        *,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        clock: Callable[[], float] | None = None,
        shared: SharedFetching | None = None,
    ) -> None:
        self.settings = settings
        self._owns_wire = shared is None
        if shared is not None:
            self._wire = shared.wire
        else:
            self._wire = make_wire(
                settings.transport,
                client,
                connections=settings.concurrency,
                user_agent=settings.user_agent,
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
            )
        self._errors = self._wire.errors
        self._sleep = sleep or asyncio.sleep
        self._policy = RetryPolicy(
            settings.max_attempts,
            settings.backoff_base,
            settings.backoff_max,
            settings.retry_after_max,
        )
        if shared is not None:
            self.politeness = shared.politeness
        else:
            self.politeness = Politeness(
                settings.delay,
                settings.per_host,
                settings.concurrency,
                sleep=self._sleep,
                clock=clock or time.monotonic,
            )
        self._robots = RobotsCache(self._load_robots)
        self._user_agent = settings.user_agent
        self._allowed = frozenset(host.lower() for host in settings.allowed_hosts)
        self._addresses = AddressClassifier(settings.address_is_private)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (a client passed in, or a shared pool, is left open for its owner)."""
        if self._owns_wire:
            await self._wire.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        kind_hint: str = "html",
        decode: bool = True,
    ) -> FetchResult:
        """Fetch canonical `url`; every network or server problem becomes an outcome.

        `kind_hint="sitemap"` also keeps XML and gzip bodies; `"resource"` keeps any body (the
        subrequests of a page rendered in the browser, crawler/render.py); otherwise only HTML
        is kept.
        `decode=False` leaves `text` None but still names the page's `encoding` (the crawl
        engine sends only bytes on, so decoding them here would be wasted work).
        """
        host, origin = _host_and_origin(url)
        reply = _NO_REPLY
        final, attempts = url, 0
        if not host:
            outcome, error = "skipped", "not a valid http(s) URL"
        elif self._allowed and not host_matches(host, self._allowed):
            outcome, error = "skipped", f"host {host} is not allowed"
        else:
            rules = self._robots.cached(origin) or await self._robots.get(origin)
            if not rules.reachable:
                outcome, error = "skipped", f"host skipped: {rules.error}"
            elif not rules.allows(url, self._user_agent):
                outcome, error = "disallowed", "disallowed by robots.txt"
            else:
                headers = _conditional_headers(etag, last_modified)
                reply, final, attempts, outcome, error = await self._follow(
                    url, host, origin, rules, headers, kind_hint
                )
        return self._result(
            url, final, reply, attempts, outcome, error, kind_hint, etag, last_modified, decode
        )

    async def sitemaps_for(self, origin: str) -> list[str]:
        """The `Sitemap:` URLs in robots.txt of `origin` (any URL of it will do)."""
        return list((await self.robots(origin)).sitemaps)

    async def robots(self, url: str) -> RobotsRules:
        """The robots.txt rules that apply to `url` (fetched once per origin per run)."""
        host, origin = _host_and_origin(url)
        if not host:
            return RobotsRules.unreachable(f"not a valid http(s) URL: {url}")
        if self._allowed and not host_matches(host, self._allowed):
            return RobotsRules.unreachable(f"host {host} is not allowed")
        return await self._robots.get(origin)

    def _host_allowed(self, host: str, start_host: str) -> bool:
        if self._allowed:
            return host_matches(host, self._allowed)
        return host == start_host

    async def _follow(
        self,
        url: str,
        host: str,
        origin: str,
        rules: RobotsRules,
        headers: dict[str, str] | None,
        kind_hint: str,
    ) -> tuple[_Reply, str, int, str, str | None]:
        """Request `url`, following redirects by hand: each hop counted, checked for loops,
        allowed hosts and robots.txt. Returns (last reply, last URL, attempts, outcome, error)."""
        current, current_host, current_origin, attempts = url, host, origin, 0
        visited = {url}
        max_redirects = self.settings.max_redirects
        while True:
            reply = await self._exchange(current, current_host, headers, kind_hint, False)
            attempts += reply.attempts
            if reply.error is not None or reply.location is None:
                outcome, error = _judge(reply)
                return reply, current, attempts, outcome, error
            try:
                target = urljoin(current, reply.location).partition("#")[0]
            except ValueError:  # urljoin refuses some (an unclosed IPv6 bracket)
                target = reply.location
            target_host, target_origin = _host_and_origin(target)
            if len(visited) > max_redirects:
                error = f"more than {max_redirects} redirects"
            elif target in visited:
                error = f"redirect loop: {target} again"
            elif not target_host:
                error = f"redirect to a URL that is not valid http(s): {target[:200]}"
            elif len(target) > MAX_URL_CHARS:
                error = f"redirect to a URL longer than {MAX_URL_CHARS} characters: {target[:200]}..."
            elif not self._host_allowed(target_host, host):
                error = f"redirect to {target} leaves the allowed hosts"
            elif target_host != current_host and await self._inward(current_host, target_host):
                error = f"redirect from public host {current_host} to private address {target_host} refused"
            else:
                error = None
            if error is not None:
                return reply, current, attempts, "failed", error
            visited.add(target)
            if target_origin != current_origin:
                rules = await self._robots.get(target_origin)
            if not rules.reachable:
                return reply, target, attempts, "skipped", f"redirect target: {rules.error}"
            if not rules.allows(target, self._user_agent):
                error = f"redirect target {target} disallowed by robots.txt"
                return reply, target, attempts, "disallowed", error
            current, current_host, current_origin = target, target_host, target_origin

    async def _inward(self, host: str, target_host: str) -> bool:
        """Whether a hop from `host` to `target_host` leads from a public host to a private one."""
        addresses = self._addresses
        return not await addresses.private(host) and await addresses.private(target_host)

    def _result(
        self,
        url: str,
        final: str,
        reply: _Reply,
        attempts: int,
        outcome: str,
        error: str | None,
        kind_hint: str,
        etag: str | None,
        last_modified: str | None,
        decode: bool = True,
    ) -> FetchResult:
        text = encoding = None
        body = b""
        body_file = None
        kind = kind_hint if kind_hint in ("html", "sitemap") else "other"
        if outcome == "fetched":
            body, body_file, kind = reply.body, reply.body_file, reply.kind
            if kind == "html":
                if decode:
                    text, encoding = decode_html(body, reply.content_type)
                else:
                    encoding = html_encoding(body, reply.content_type)
        elif outcome == "not_modified":
            etag = reply.etag or etag
            last_modified = reply.last_modified or last_modified
        elif outcome == "skipped" and reply.status is not None:
            kind = "other"
        if outcome != "not_modified":
            etag, last_modified = reply.etag, reply.last_modified
        return FetchResult(
            url=url,
            final_url=url if final == url else (try_canonicalize(final) or final),
            outcome=outcome,
            http_status=reply.status,
            content_type=reply.content_type,
            etag=etag,
            last_modified=last_modified,
            body=body,
            body_file=body_file,
            text=text,
            encoding=encoding,
            kind=kind,
            fetched_at=datetime.now(UTC).isoformat(),
            error=error,
            attempts=attempts,
            exchange=reply.exchange if outcome in ("fetched", "not_modified") else None,
        )

    def _limit(self, kind_hint: str) -> int:
        if kind_hint == "robots":
            return ROBOTS_MAX_BYTES
        if kind_hint == "sitemap":
            return max(self.settings.max_sitemap_bytes, self.settings.max_bytes)
        return self.settings.max_bytes

    async def _exchange(
        self,
        url: str,
        host: str,
        headers: dict[str, str] | None,
        kind_hint: str,
        truncate: bool,
    ) -> _Reply:
        """One hop, retried per the policy. Never raises for network or server trouble."""
        policy = self._policy
        limit = self._limit(kind_hint)
        attempt = 0
        while True:
            attempt += 1
            try:
                reply = await self._send(url, host, headers, kind_hint, limit, truncate)
            except (BodyTooLarge, BodyDecodingError, BodyNotSpooled) as error:
                reply = _Reply(None, error=str(error))
            except self._errors as error:
                reason = describe_error(
                    error,
                    connect_timeout=self.settings.connect_timeout,
                    read_timeout=self.settings.read_timeout,
                    total_timeout=self.settings.total_timeout,
                )
                if not retryable_error(error) or attempt >= policy.max_attempts:
                    if attempt > 1:
                        reason = f"{reason} (after {attempt} attempts)"
                    reply = _Reply(None, error=reason)
                else:
                    await self._sleep(policy.backoff(attempt))
                    continue
            else:
                status = reply.status
                if status is not None and policy.retryable_status(status):
                    retry_after = reply.retry_after
                    if policy.too_long(retry_after):
                        reply.error = (
                            f"HTTP {status} with Retry-After {retry_after:.0f} s, longer than "
                            f"the {policy.retry_after_max:.0f} s this run waits"
                        )
                    elif attempt >= policy.max_attempts:
                        reply.error = f"HTTP {status} after {attempt} attempts"
                    else:
                        wait = policy.wait(attempt, retry_after)
                        if retry_after is not None or status == 429:
                            self.politeness.penalize(host, wait)  # the whole host slows down
                        await self._sleep(wait)
                        continue
            reply.attempts = attempt
            return reply

    async def _send(
        self,
        url: str,
        host: str,
        headers: dict[str, str] | None,
        kind_hint: str,
        limit: int,
        truncate: bool,
    ) -> _Reply:
        """One request under a politeness slot; reads the body only when it will be kept."""
        await self.politeness.acquire(host)
        try:
            async with asyncio.timeout(self.settings.total_timeout):
                response = await self._wire.get(url, headers)
                try:
                    return await self._read(response, kind_hint, limit, truncate)
                finally:
                    await response.aclose()
        finally:
            self.politeness.release(host)

    async def _read(self, response: WireResponse, kind_hint: str, limit: int, truncate: bool) -> _Reply:
        status = response.status
        reply = _Reply(status)
        reply.exchange = response.exchange()
        header = response.header
        length = header("content-length")
        if status < 200 or status >= 300:
            await _drain(response, length, self._errors)
            if status in _REDIRECTS:
                reply.location = header("location") or None
            elif status == 304:
                reply.etag = header("etag")
                reply.last_modified = header("last-modified")
            elif status == 429 or status >= 500:
                reply.retry_after = parse_retry_after(header("retry-after"))
            return reply
        content_type = reply.content_type = header("content-type")
        reply.etag = header("etag")
        reply.last_modified = header("last-modified")
        if kind_hint in ("robots", "resource"):  # resource: a rendered page's subrequest, any type
            kind = kind_hint
        else:
            kind = kind_from_content_type(content_type, kind_hint)
        if kind == "other":
            await _drain(response, length, self._errors)
            return reply

        if (
            not truncate
            and length is not None
            and length.isascii()
            and length.isdigit()
            and int(length) > limit
        ):
            raise BodyTooLarge(limit, f" (Content-Length {length})")
        if kind_hint == "sitemap":
            return await self._spool(response, reply, kind, limit, truncate)
        body = reply.body = await read_body(response, limit, truncate)
        if kind == "sniff":
            kind = sniff_kind(body, kind_hint)
            if kind == "other":
                reply.body = b""
        reply.kind = kind
        return reply

    async def _spool(
        self, response: WireResponse, reply: _Reply, kind: str, limit: int, truncate: bool
    ) -> _Reply:
        """Read what was asked for as a sitemap into an unnamed temporary file, so a crawl's
        memory does not follow the size of a site's sitemap (parsers.sitemaps reads the file as
        a stream). A page served there instead is read back as bytes, under the page cap."""
        try:
            spool = tempfile.TemporaryFile()  # noqa: SIM115 (handed on, or closed below)
        except OSError as error:
            raise BodyNotSpooled(f"sitemap not stored: {error}") from error
        with contextlib.ExitStack() as closing:
            closing.callback(spool.close)
            # (only the file's own errors are the disk's: the wire's stay network faults, retried)
            await read_body(response, limit, truncate, partial(_write_spooled, spool))
            size = spool.tell()
            spool.seek(0)
            if kind == "sniff":
                kind = sniff_kind(spool.read(512), "sitemap")
                spool.seek(0)
            if kind == "sitemap":
                reply.body_file = spool
                closing.pop_all()  # handed on: parsers.sitemaps reads it, the engine closes it
            elif kind == "html":  # asked as a sitemap, a page came
                if size > self.settings.max_bytes and not truncate:
                    raise BodyTooLarge(self.settings.max_bytes)
                reply.body = spool.read(self.settings.max_bytes)
        reply.kind = kind
        return reply

    async def _load_robots(self, origin: str) -> RobotsRules:
        """Fetch and read robots.txt of `origin`, following up to 5 redirects on allowed hosts."""
        start_host = host_of(origin)
        current, host = f"{origin}/robots.txt", start_host
        visited = {current}
        for _ in range(_ROBOTS_MAX_REDIRECTS + 1):
            reply = await self._exchange(current, host, None, "robots", True)
            if reply.error is not None:
                return RobotsRules.unreachable(f"robots.txt: {reply.error}")
            if reply.location is None:
                if reply.status is not None and 300 <= reply.status < 400:
                    return RobotsRules("allow_all")  # a redirect we cannot follow: unavailable
                rules = RobotsRules.from_response(reply.status or 0, reply.body)
                delay = rules.bounded_crawl_delay(self._user_agent, self.settings.max_crawl_delay, origin)
                self.politeness.set_crawl_delay(start_host, delay)
                return rules
            target = urljoin(current, reply.location).partition("#")[0]
            host = _host_and_origin(target)[0]
            if not host or target in visited or not self._host_allowed(host, start_host):
                return RobotsRules("allow_all")  # RFC 9309: unavailable robots.txt
            if await self._inward(start_host, host):
                return RobotsRules("allow_all")  # never read from a private address
            visited.add(target)
            current = target
        return RobotsRules("allow_all")
