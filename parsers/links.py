"""Absolute links of a page, for discovering more pages to crawl.

Pure: HTML and the page's URL in, absolute ``http(s)`` URLs out, in page order without duplicates
or fragments. Honours ``<base href>`` the way browsers do, follows ``<a>``, ``<area>`` and
``<link rel=next|prev>`` (index pagination), and skips ``mailto:``, ``javascript:``, ``tel:`` and
other non-web schemes. ``rel=nofollow`` links are kept: whether to follow them is crawl policy.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urldefrag, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser
from w3lib.html import strip_html5_whitespace
from w3lib.url import safe_url_string

from parsers.nesting import cap_nesting

_SELECTOR = "a[href], area[href], link[rel~=next][href], link[rel~=prev][href]"
_WEB_SCHEMES = frozenset({"http", "https"})
#: What may follow "http://" when the href names no host ("" included).
_NO_HOST = frozenset({"", "/", "?", "#"})


#: Where a ``<base>`` tag may be; searching the tree for one costs several times more.
_MAY_HAVE_BASE = (
    re.compile(r"<base[\s/>]", re.IGNORECASE).search,
    re.compile(rb"<base[\s/>]", re.IGNORECASE).search,
)


def _base(tree: LexborHTMLParser, html: str | bytes, page_url: str) -> str:
    """The document's base URL: the first ``<base href>`` resolved against the page URL."""
    if not _MAY_HAVE_BASE[isinstance(html, bytes)](html):
        return page_url
    node = tree.css_first("base[href]")
    href = node.attributes.get("href") if node is not None else None
    if not href:
        return page_url
    candidate = urljoin(page_url, strip_html5_whitespace(href))
    return candidate if urlsplit(candidate).scheme in _WEB_SCHEMES else page_url


@lru_cache(maxsize=4096)
def _absolute(origin: str, href: str) -> str | None:
    """`_resolve` for an href that does not depend on the page's path (cached: pages repeat
    their navigation and footer links)."""
    return _resolve_uncached(origin + "/", href)


#: An href, and a base URL (lower-case host, a path), made only of characters that w3lib's
#: safe_url_string leaves as they are: for these urljoin alone gives the same URL, at a
#: quarter of the cost (tests/test_links_sitemaps.py checks the two agree).
_PLAIN_HREF = re.compile(r"[A-Za-z0-9\-._~/?=&+,;!$*()@]+").fullmatch
#: A path with no query or params (absolute, or relative to the page's directory).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-._~/]+").fullmatch
_PLAIN_BASE = re.compile(r"https?://[a-z0-9\-.~:@]+/[A-Za-z0-9\-._~/?=&+,;!$*()@:]*").fullmatch


def _resolve_uncached(base: str, href: str) -> str | None:
    if _PLAIN_HREF(href) and not href.startswith("//") and _PLAIN_BASE(base):
        return _join_plain_path(base, href) or urljoin(base, href)
    return _resolve_w3lib(base, href)


def _join_plain_path(base: str, href: str) -> str | None:
    """urljoin's answer for the hrefs pages repeat most, without urljoin; None for any other.

    Covers an absolute path ("/compare/x/") and a relative one that only climbs ("../x/",
    "x/"), both without query or dot segments beyond leading "../": index pages hold
    thousands of the first kind and comparison pages link their neighbours with the second,
    each seen once, so no cache helps (tests/test_links_sitemaps.py checks it against w3lib).
    """
    if not _PLAIN_PATH(href):
        return None
    root_end = base.index("/", base.index("://") + 3)
    if href[0] == "/":
        return base[:root_end] + href if "/." not in href else None
    ups = 0
    while href.startswith("../"):
        href = href[3:]
        ups += 1
    path = base[root_end:].split("?", 1)[0]
    # (urljoin drops empty segments of a relative join and resolves dot segments: leave those to it)
    if href.startswith((".", "/")) or "/." in href or "//" in href or "//" in path or "/." in path:
        return None
    segments = path.split("/")[1:-1]  # the directories above the page's own name
    if ups > len(segments):
        return None
    kept = "".join(f"{segment}/" for segment in segments[: len(segments) - ups])
    return f"{base[:root_end]}/{kept}{href}"


def _resolve_w3lib(base: str, href: str) -> str | None:
    """Any href: joined, fragment dropped, made safe by w3lib; None unless http(s)."""
    try:
        url = safe_url_string(urldefrag(urljoin(base, href)).url)
    except ValueError:  # e.g. an invalid IPv6 host: not a link anyone can follow
        return None
    return url if urlsplit(url).scheme in _WEB_SCHEMES else None


def _directory(base: str) -> str | None:
    """``base`` cut after the last "/" of its path (no query or fragment); None if unsure.

    A path-relative href ("../x/", "page-2") resolves the same from every page of a directory.
    """
    scheme_end = base.find("://")
    if scheme_end <= 0:
        return None
    bare = base.split("#", 1)[0].split("?", 1)[0]
    path_at = bare.find("/", scheme_end + 3)
    return bare if path_at < 0 else bare[: bare.rfind("/") + 1]


def _resolve(base: str, href: str) -> str | None:
    """The absolute http(s) URL `href` points to from `base`, without fragment; else None."""
    if href.startswith(("mailto:", "javascript:", "tel:")):
        return _absolute("", href)  # never a web link, whatever the base
    first = href[:1]
    scheme, _, rest = base.partition("://")
    if first == "/" and href[1:2] != "/":
        return _absolute(f"{scheme}://{rest.split('/', 1)[0]}", href)
    if href.startswith(("http://", "https://")) and href.split("//", 1)[1][:1] not in _NO_HOST:
        # With a host of its own, only whether the base's scheme matches can change the result.
        return _absolute(f"{scheme}://{rest.split('/', 1)[0]}", href)
    if (first.isalnum() or first == ".") and ":" not in href.split("/", 1)[0]:
        directory = _directory(base)
        if directory is not None:
            return _relative(directory, href)
    return _resolve_uncached(base, href)


@lru_cache(maxsize=4096)
def _relative(directory: str, href: str) -> str | None:
    """`_resolve` for a path-relative href (cached per directory: sibling pages share links)."""
    return _resolve_uncached(directory, href)


def extract_links(html: str | bytes, base_url: str, limit: int | None = None) -> list[str]:
    """Every distinct absolute http(s) URL the page links to, in page order, fragments removed
    (the first `limit` of them when given: a page of 200,000 links costs minutes to follow)."""
    if not html.strip():  # bytes are read as UTF-8 (lexbor decodes them itself, faster)
        return []
    tree = LexborHTMLParser(cap_nesting(html))
    base = _base(tree, html, base_url)
    seen: set[str] = set()
    seen_hrefs: set[str] = set()  # an href repeated on the page resolves the same: skip it
    links: list[str] = []
    for node in tree.css(_SELECTOR):
        href = node.attributes.get("href")
        if not href or href in seen_hrefs:
            continue
        seen_hrefs.add(href)
        href = strip_html5_whitespace(href)
        if not href or href.startswith("#"):
            continue
        url = _resolve(base, href)
        if url is None or url in seen:
            continue
        seen.add(url)
        links.append(url)
        if len(links) == limit:
            break
    return links
