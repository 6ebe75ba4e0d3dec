"""Is a page that no layout read a comparison page all the same? Then it must not vanish.

A layout recognises a comparison by its visible text. When that fails on a page whose
``<title>``, first heading or URL path reads "A vs B" (or "A versus B", ``a-vs-b``), or whose
earlier snapshot parsed as a comparison, the page is a *candidate comparison*: it is recorded
``unreadable`` with problems saying what was missing, never ``not_comparison``, and the
quality gate degrades the crawl (db/quality.py). Only pages no layout read pay for these
checks, and they read the raw markup with a few regular expressions (no second parse).

Pure: HTML and URL in, strings out.
"""

from __future__ import annotations

import html as html_module
import re
from urllib.parse import unquote, urlsplit

from parsers.model import ParseResult

#: "A vs B", "A vs. B", "A versus B" (case-insensitive), with something on both sides.
_VS_TEXT = re.compile(r"\S.*?\s(?:vs\.?|versus)\s+\S", re.IGNORECASE | re.DOTALL)
#: ``a-vs-b``, ``a_vs_b``, ``a-versus-b`` in one segment of a URL path.
_VS_PATH = re.compile(r"[^/]+?[-_.](?:vs|versus)[-_.][^/]+", re.IGNORECASE)
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
#: The mount point of a client-side app: React/CRA ``root``, Vue ``app``, Next.js ``__next``,
#: Nuxt ``__nuxt``, Gatsby ``___gatsby``, SvelteKit ``svelte``, Angular ``<app-root>``.
_APP_ROOT = re.compile(
    rb"""<div\b[^>]*\bid\s*=\s*["']?(root|app|__next|__nuxt|___gatsby|svelte|q-app|main)\b"""
    rb"""|<(app-root)\b|\b(data-reactroot)\b|\b(data-server-rendered)\b""",
    re.IGNORECASE,
)
_SCRIPT = re.compile(rb"<script\b", re.IGNORECASE)
#: Visible characters below which a page with an app root and scripts reads as an empty shell.
CLIENT_RENDERED_TEXT = 200
#: Longest title or heading looked at (longer ones are prose, not an "A vs B" heading).
_TEXT_MAX = 300


def _plain(fragment: str) -> str:
    """A title's or heading's markup as text: comments and tags dropped, entities decoded."""
    text = _TAG.sub("", _COMMENT.sub("", fragment))
    return " ".join(html_module.unescape(text).split())


def reads_as_comparison(text: str | None) -> bool:
    """Does ``text`` read "A vs B" (or "A versus B")?"""
    return bool(text) and len(text) <= _TEXT_MAX and _VS_TEXT.search(text) is not None  # type: ignore[arg-type]


def path_reads_as_comparison(url: str | None) -> bool:
    """Does a segment of the URL's path read ``a-vs-b``?"""
    path = _path(url)
    if not path:
        return False
    return any(_VS_PATH.fullmatch(segment) for segment in path.split("/") if segment)


def _path(url: str | None) -> str:
    """The URL's path, unquoted ("" for none, or a URL too broken to split)."""
    try:
        return unquote(urlsplit(url).path) if url else ""
    except ValueError:  # "http://[::1/x": an unclosed IPv6 host
        return ""


def _text(html: str | bytes) -> str:
    return html.decode("utf-8", "replace") if isinstance(html, bytes) else html


def page_title(html: str | bytes) -> str | None:
    """The document's ``<title>``, as text."""
    match = _TITLE.search(_text(html))
    return _plain(match.group(1)) if match else None


def first_heading(html: str | bytes) -> str | None:
    """The text of the first ``<h1>``..``<h6>``."""
    match = _HEADING.search(_text(html))
    return _plain(match.group(2)) if match else None


def comparison_signals(html: str | bytes, url: str | None) -> list[str]:
    """Why a page is a candidate comparison: which of its title, first heading and URL path
    read "A vs B" (empty when none does)."""
    signals = []
    title = page_title(html)
    if reads_as_comparison(title):
        signals.append(f"its title reads {title!r}")
    heading = first_heading(html)
    if reads_as_comparison(heading):
        signals.append(f"its first heading reads {heading!r}")
    if path_reads_as_comparison(url):
        signals.append(f"its URL path reads {_path(url)!r}")
    return signals


def client_rendered(html: str | bytes, blocks: list[str]) -> str | None:
    """ "looks client-rendered (...)" when the page is an app shell: almost no visible text,
    an app root and scripts; None otherwise."""
    visible = sum(len(block) for block in blocks)
    if visible >= CLIENT_RENDERED_TEXT:
        return None
    raw = html.encode("utf-8", "replace") if isinstance(html, str) else html
    root = _APP_ROOT.search(raw)
    scripts = len(_SCRIPT.findall(raw))
    if root is None or not scripts:
        return None
    name = next(group for group in root.groups() if group).decode("ascii", "replace")
    return (
        f"page: looks client-rendered ({visible} characters of visible text, app root "
        f"{name!r}, {scripts} script{'s' if scripts != 1 else ''})"
    )


def unreadable(result: ParseResult, signals: list[str], missing: list[str], shell: str | None) -> ParseResult:
    """``result`` (a page no layout read) recorded as an unreadable candidate comparison."""
    why = "; ".join(signals)
    problems = [f"page: candidate comparison ({why}) but no comparison was read"]
    if shell:
        problems.append(shell)
    problems.extend(missing)
    return ParseResult(
        status="unreadable",
        parser=result.parser,
        parser_version=result.parser_version,
        title=result.title,
        problems=problems + [p for p in result.problems if p not in problems],
    )
