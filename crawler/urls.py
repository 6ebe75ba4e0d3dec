"""One spelling per page: URL canonicalisation and the crawl's scope.

Links found on pages, sitemap entries and redirect targets arrive in many spellings of the same
page (`HTTP://Example.com:80/a?utm_source=x#top`). Canonicalising them means one `pages` row per
page and no page fetched twice in a run. Scope decides which canonical URLs a crawl may visit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url

__all__ = [
    "MAX_URL_CHARS",
    "TRACKING_PARAMS",
    "Scope",
    "canonicalize",
    "host_and_origin",
    "host_matches",
    "host_of",
    "origin_of",
    "try_canonicalize",
]

#: Longer URLs are neither followed nor redirected to: servers refuse request lines past
#: 8 KB (nginx, aiohttp), and a page of 5 MB could otherwise put 5 MB of one URL into the
#: frontier and the page's kept links.
MAX_URL_CHARS = 8_192

#: Query parameters that only track a visit and never change the page (`ref` is kept: on some
#: sites it selects content). Any parameter starting with `utm_` is dropped as well.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "igshid",
        "mkt_tok",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(pair: str) -> bool:
    key = pair.split("=", 1)[0].lower()
    return key.startswith("utm_") or key in TRACKING_PARAMS


def canonicalize(url: str) -> str:
    """The canonical form of an http(s) URL.

    Fragment dropped, tracking parameters (utm_*, fbclid, gclid, mc_cid, mc_eid, ...) removed,
    scheme and host lower-cased, default port dropped, query sorted, percent-encoding normalised
    (w3lib); the path's case is kept. Raises ValueError for anything that is not an http(s) URL
    with a host.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    netloc = parts.netloc
    port = parts.port  # ValueError for a port that is not a number in range
    if port is not None and port == _DEFAULT_PORTS[scheme]:
        netloc = netloc.rpartition(":")[0]
    query = parts.query
    if query:
        query = "&".join(pair for pair in query.split("&") if pair and not _is_tracking(pair))
    return canonicalize_url(urlunsplit((scheme, netloc, parts.path, query, "")))


def try_canonicalize(url: str) -> str | None:
    """Like `canonicalize`, but None for a URL that cannot be crawled (mailto:, bad port...)."""
    try:
        return canonicalize(url)
    except ValueError:
        return None


def _fast_netloc(url: str) -> tuple[str, str] | None:
    """(scheme, netloc) of a plain lower-case http(s) URL without credentials, IPv6 host or
    characters urlsplit would strip; None when `urlsplit` must decide (it is ~4x slower,
    and the fetcher asks this of every URL it fetches)."""
    if url.startswith("https://"):
        scheme, rest = "https", url[8:]
    elif url.startswith("http://"):
        scheme, rest = "http", url[7:]
    else:
        return None
    end = len(rest)
    for stop in "/?#":
        at = rest.find(stop, 0, end)
        if at >= 0:
            end = at
    netloc = rest[:end]
    if not netloc or not _PLAIN_NETLOC(netloc) or _UNSAFE.intersection(url):
        return None
    return scheme, netloc


#: A host and an optional port, nothing urlsplit would treat specially.
_PLAIN_NETLOC = re.compile(r"[A-Za-z0-9\-._~]+(?::[0-9]{1,5})?").fullmatch
_UNSAFE = frozenset("\t\r\n")


def host_of(url: str) -> str:
    """The lower-cased host name of a URL, without port or credentials ("" if it has none)."""
    fast = _fast_netloc(url)
    if fast is not None:
        return fast[1].partition(":")[0].lower()
    return urlsplit(url).hostname or ""


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL: the unit robots.txt applies to (RFC 9309)."""
    return host_and_origin(url)[1]


def host_and_origin(url: str) -> tuple[str, str]:
    """`host_of(url)` and `origin_of(url)` from a single parse (the fetcher's hot path)."""
    fast = _fast_netloc(url)
    if fast is not None:
        scheme, netloc = fast
        name, _, port_text = netloc.partition(":")
        name = name.lower()
        if not port_text:
            return name, f"{scheme}://{name}"
        port = int(port_text)
        if port <= 65535:
            if port == _DEFAULT_PORTS[scheme]:
                return name, f"{scheme}://{name}"
            return name, f"{scheme}://{name}:{port}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = name = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return name, f"{scheme}://{host}"
    return name, f"{scheme}://{host}:{port}"


def host_matches(host: str, patterns: frozenset[str]) -> bool:
    """True if `host` is one of `patterns`; a pattern `.example.com` or `*.example.com` also
    admits example.com and every subdomain of it."""
    if host in patterns:
        return True
    while host:
        if f".{host}" in patterns or f"*.{host}" in patterns:
            return True
        host = host.partition(".")[2]
    return False


class Scope:
    """Which URLs a crawl may visit: allowed hosts, then include / exclude regular expressions.

    An empty `include` admits every URL of an allowed host; `exclude` wins over `include`.
    Patterns are searched (`re.search`) in the canonical URL.
    """

    __slots__ = ("_exclude", "_include", "hosts")

    def __init__(
        self, hosts: Iterable[str], include: Iterable[str] = (), exclude: Iterable[str] = ()
    ) -> None:
        self.hosts = frozenset(host.lower().strip() for host in hosts)
        self._include = _compile(include, "include")
        self._exclude = _compile(exclude, "exclude")

    @classmethod
    def from_urls(
        cls, urls: Iterable[str], include: Iterable[str] = (), exclude: Iterable[str] = ()
    ) -> Scope:
        """The default scope: exactly the hosts of the start URLs."""
        return cls((host_of(url) for url in urls), include, exclude)

    def allows(self, url: str) -> bool:
        """True if the crawl may visit `url` (expected canonical)."""
        if not host_matches(host_of(url), self.hosts):
            return False
        if self._include is not None and self._include.search(url) is None:
            return False
        return self._exclude is None or self._exclude.search(url) is None

    def __repr__(self) -> str:
        return f"Scope(hosts={sorted(self.hosts)!r})"


def _compile(patterns: Iterable[str], what: str) -> re.Pattern[str] | None:
    patterns = [pattern for pattern in patterns if pattern]
    if not patterns:
        return None
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"bad {what} pattern {pattern!r}: {error}") from None
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))
