"""How fast is the full page extraction, next to the same extraction built on BeautifulSoup?

Runs in one process over the fixture comparison pages (``crawler/demo_site/compare/*/index.html``,
or the markup variants if the site is not generated), repeating each implementation for a few
seconds, and prints pages/s for:

- ``lexbor text walk (ceiling)``: parse + lexbor's own C-level text extraction, no block logic;
- ``parse_page (selectolax/lexbor)``: the real thing (text blocks + layout + prices + the
  page's embedded data: every fixture page carries JSON-LD, read and cross-checked);
- ``parse_page without embedded data``: the same minus parsers/embedded.py, so the ratio of the
  two is what the second witness costs on pages that carry it;
- ``BeautifulSoup (html.parser)``: a straightforward port: a BS4 walk into the same text blocks
  (same inline/hidden rules), then the very same layout code;
- ``BeautifulSoup text walk``: the bare BS4 baseline of issue 8 (``get_text`` over the page);
- ``parse_page, N processes``: ``verdicts reparse``-style parsing on every core (a process pool
  mapping ``parse_page`` over the pages, results pickled back), beside the one-core BS4 figures;

and the ratios. Single-process figures are pages per CPU second, the implementations taking turns
pass by pass so that all see the same machine load (the lexbor ceiling alternates with
``parse_page``, the two BeautifulSoup legs with each other). Figures are printed, never asserted
(machines differ; compare ratios from one run).

Usage: ``python bench/parse.py [--seconds 2.5] [--quick]``. ``--quick`` is a smoke run (one pass
over three pages, no process pool) for the test suite.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from multiprocessing import Pool
from pathlib import Path

from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from selectolax.lexbor import LexborHTMLParser

from crawler.demo import DEMO_SITE
from parsers import parse_page
from parsers.layouts import comparison
from parsers.model import ParseResult
from parsers.registry import _parse_page
from parsers.text_blocks import INLINE_TAGS

ROOT = Path(__file__).resolve().parent.parent
_INLINE = frozenset(INLINE_TAGS)
_SKIP = ["head", "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "textarea"]
_SKIP += ["audio", "video", "meter", "progress", "rp", "datalist"]


def fixture_pages() -> list[bytes]:
    pages = sorted((DEMO_SITE / "compare").glob("*/index.html"))
    if not pages:
        pages = sorted((ROOT / "fixtures" / "variants").glob("*.html"))
    return [page.read_bytes() for page in pages]


def bs4_text_blocks(html: str | bytes) -> list[str]:
    """The text-block walk of ``parsers.text_blocks``, written with BeautifulSoup."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_SKIP):
        tag.decompose()
    for tag in soup.find_all(True):
        if tag.decomposed:
            continue
        style = (tag.get("style") or "").replace(" ", "")
        if tag.has_attr("hidden") or "display:none" in style:
            tag.decompose()
        elif tag.name == "q":
            tag.insert_before("\u201c")
            tag.insert_after("\u201d")
    raw: list[str] = []
    current: list[str] = []
    owner_of_current: int = -1
    for node in soup.descendants:
        if isinstance(node, Tag):
            if node.name not in _INLINE:
                owner_of_current = -1
            continue
        if type(node) is not NavigableString:  # comments, doctypes, CDATA
            if not isinstance(node, Comment):
                owner_of_current = -1
            continue
        parent = node.parent
        while parent is not None and parent.name in _INLINE:
            parent = parent.parent
        owner = id(parent)
        if owner != owner_of_current:
            if current:
                raw.append("".join(current))
                current = []
            owner_of_current = owner
        current.append(str(node))
    if current:
        raw.append("".join(current))
    return [block for block in (" ".join(text.split()) for text in raw) if block]


def bs4_parse_page(html: str | bytes) -> ParseResult:
    blocks = bs4_text_blocks(html)
    if comparison.recognises(blocks):
        return comparison.parse(blocks)
    return ParseResult(status="not_comparison", parser="none", parser_version="1")


def bs4_text_walk(html: str | bytes) -> str:
    """The bare BeautifulSoup baseline: parse, then all of the page's text in one call."""
    return BeautifulSoup(html, "html.parser").get_text("\n")


def lexbor_ceiling(html: str | bytes) -> str:
    return LexborHTMLParser(html.decode("utf-8") if isinstance(html, bytes) else html).root.text()


def rates(
    funcs: dict[str, Callable[[bytes], object]], pages: list[bytes], seconds: float, quick: bool
) -> dict[str, float]:
    """Pages per CPU second of each function over ``pages``, about ``seconds`` of CPU time each.

    The functions take turns, one pass over the pages each, so all of them run under the same
    load: on a shared machine, other work slows them all alike and their ratios stay put, where
    one-after-the-other runs (or wall-clock time) would compare different moments.
    """
    spent = dict.fromkeys(funcs, 0.0)
    done = dict.fromkeys(funcs, 0)
    while True:
        for name, func in funcs.items():
            start = time.process_time()
            for page in pages:
                func(page)
            spent[name] += time.process_time() - start
            done[name] += len(pages)
        if quick or min(spent.values()) >= seconds:
            return {name: done[name] / max(spent[name], 1e-9) for name in funcs}


def parse_without_embedded(html: bytes) -> ParseResult:
    return _parse_page(html, None, False)


def _status(html: bytes) -> str:
    return parse_page(html).status


def pool_rate(pages: list[bytes], seconds: float, processes: int) -> float:
    """Pages per second of ``parse_page`` over ``pages`` on ``processes`` worker processes."""
    with Pool(processes) as pool:
        pool.map(_status, pages[:processes])  # start the workers (imports, layout discovery)
        done = 0
        batch = pages * max(1, round(200 / len(pages)))
        start = time.perf_counter()
        while True:
            # Each worker returns the full result, as a reparse would to its writer.
            done += len(pool.map(parse_page, batch, chunksize=16))
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return done / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.5, help="time per implementation")
    parser.add_argument("--quick", action="store_true", help="one pass over three pages (smoke test)")
    args = parser.parse_args(argv)

    pages = fixture_pages()
    if args.quick:
        pages = pages[:3]
    if not pages:
        print("no fixture pages found", file=sys.stderr)
        return 1
    same = sum(parse_page(p).to_dict() == bs4_parse_page(p).to_dict() for p in pages)
    ok = sum(parse_page(p).status == "ok" for p in pages)
    size_kb = sum(len(p) for p in pages) / len(pages) / 1024
    print(f"{len(pages)} pages, {size_kb:.1f} KB on average; {ok} parse ok; {same} identical via BS4")
    # Other work on the machine slows pure-Python code far more than lexbor's C: say how busy it is.
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)")

    legs = {"ceiling": lexbor_ceiling, "ours": parse_page, "plain": parse_without_embedded}
    fast = rates(legs, pages, args.seconds, args.quick)
    ceiling, ours, plain = fast["ceiling"], fast["ours"], fast["plain"]
    marked = sum(bool(parse_page(p).embedded) for p in pages)
    slow = rates({"theirs": bs4_parse_page, "walk": bs4_text_walk}, pages, args.seconds, args.quick)
    theirs, walk = slow["theirs"], slow["walk"]
    print(f"{'lexbor text walk (ceiling)':34} {ceiling:10,.0f} pages/s")
    print(f"{'parse_page (selectolax/lexbor)':34} {ours:10,.0f} pages/s")
    print(f"{'parse_page without embedded data':34} {plain:10,.0f} pages/s")
    print(f"{'BeautifulSoup (html.parser)':34} {theirs:10,.0f} pages/s")
    print(f"{'BeautifulSoup text walk':34} {walk:10,.0f} pages/s")
    print(f"ratio parse_page / BeautifulSoup: {ours / theirs:.1f}x")
    print(f"ratio parse_page / BeautifulSoup text walk: {ours / walk:.1f}x")
    print(f"ratio parse_page / lexbor ceiling: {ours / ceiling:.2f}")
    cost = f"{ours / plain:.2f} ({marked} of {len(pages)} pages carry some)"
    print(f"ratio parse_page / parse_page without embedded data: {cost}")
    if not args.quick:
        processes = os.cpu_count() or 1
        pooled = pool_rate(pages, args.seconds, processes)
        print(f"{f'parse_page, {processes} processes':34} {pooled:10,.0f} pages/s")
        print(f"ratio {processes} processes / BeautifulSoup: {pooled / theirs:.1f}x")
        print(f"ratio {processes} processes / BeautifulSoup text walk: {pooled / walk:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
