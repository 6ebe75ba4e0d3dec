"""A synthetic N-page comparison site in the bundled site's markup, for the crawl benchmark.

The bundled fixture site has a few dozen pages; issue 8's figures need 3,000 and 30,000.
This renders that many comparison pages with the very templates and renderer of
`fixtures/build_site.py` (so the parser, the link extractor and the store see the same
markup as in the tests), from the bundled tools multiplied into "generations": a tool is
reused across many pages with the same four reviewer quotes, as on the real site.

Layout: `/` lists the newest comparisons and links every index page; `/compare/page/N/`
lists `PER_INDEX` comparisons each (with prev/next); every comparison links four related
comparisons by relative URL; `/about/`, `/robots.txt` (everything allowed, a `Sitemap:`
line) and `/sitemap.xml` (every page). robots.txt and sitemap.xml need the server's
origin, so `Site.set_origin` writes them for the origin just before serving: into the
run's own folder when given one (bench/crawl.py's nginx serves them from there, so runs
at once on different ports never rewrite each other's), else into the site.

A built site is cached in `cache_dir()/site-<N>-v<VERSION>/` (complete once `BUILT` exists).
Usage: python bench/synthetic_site.py --pages 3000 [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import string
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fixtures import build_site as fx  # noqa: E402  (the bundled site's renderer)

VERSION = 1
PER_INDEX = 50
PAGES_PER_TOOL = 12  # each tool appears on about twice this many pages
_SHIP = (0, 25, 50, 75, 100)
_COMMUNITY = (None, 12, 29, 42, 50, 58, 71, 88)


class _Templates(fx.Templates):
    """The fixture renderer with each template read and compiled once (not once per fill)."""

    @functools.cache  # noqa: B019  (one instance per build; the cache dies with it)
    def _template(self, name: str) -> string.Template:
        return string.Template((self.folder / name).read_text(encoding="utf-8"))

    def fill(self, template: str, **values: object) -> str:
        return self._template(template).substitute(values)


@dataclass(frozen=True)
class Site:
    """A built site on disk and the paths a complete crawl of it requests."""

    root: Path
    pages: list[str]  # every HTML page path a crawler reaches: indexes, about, comparisons
    comparisons: int

    def set_origin(self, origin: str, into: Path | None = None) -> None:
        """Write robots.txt and sitemap.xml for the origin the site is served on."""
        for name in ORIGIN_FILES:
            text = (self.root / f"{name}.in").read_text(encoding="utf-8")
            (into or self.root).joinpath(name).write_text(text.replace(fx.ORIGIN, origin), encoding="utf-8")

    def urls(self, origin: str) -> list[str]:
        """What a complete crawl fetches: robots.txt, the sitemap, then every page."""
        return [f"{origin}/robots.txt", f"{origin}/sitemap.xml", *(origin + p for p in self.pages)]


#: The files that name the origin the site is served on.
ORIGIN_FILES = ("robots.txt", "sitemap.xml")


def cache_dir() -> Path:
    return Path(os.environ.get("VERDICTS_BENCH_DIR") or Path(tempfile.gettempdir()) / "verdicts-bench")


def _tools(count: int) -> list[fx.Tool]:
    """`count` distinct tools: the bundled ones, then numbered generations of them."""
    comps, _ = fx.load()
    base: dict[str, fx.Tool] = {}
    for comp in comps:
        for listing in comp.listings:
            base.setdefault(listing.tool.name, listing.tool)
    bases = list(base.values())
    tools = []
    for k in range(count):
        tool, gen = bases[k % len(bases)], k // len(bases)
        if gen:
            mark = f" Generation {gen + 1} keeps this true."
            tool = fx.Tool(
                f"{tool.name} {gen + 1}",
                tool.category,
                tool.tagline,
                tool.description,
                tool.price,
                tuple(q + mark for q in tool.quotes),  # type: ignore[arg-type]
            )
        tools.append(tool)
    return tools


def _comparisons(n: int, prices: list[str]) -> list[fx.Comparison]:
    tools = _tools(max(40, n // PAGES_PER_TOOL))
    t = len(tools)
    comps: list[fx.Comparison] = []
    slugs: set[str] = set()
    i = 0
    while len(comps) < n:
        a, b = i % t, (i * 7 + 1 + i // t) % t
        i += 1
        if a == b:
            continue
        pair = (tools[a], tools[b])
        listings = tuple(
            fx.Listing(
                tool, _SHIP[(i + 2 * pos) % 5], _COMMUNITY[(i * 3 + pos) % 8], prices[(i + pos) % len(prices)]
            )
            for pos, tool in enumerate(pair)
        )
        day = fx.FIRST_DATE + dt.timedelta(days=len(comps) // 4)
        comp = fx.Comparison(listings, day, "public", None)  # type: ignore[arg-type]
        if comp.slug in slugs:
            continue
        slugs.add(comp.slug)
        comps.append(comp)
    return comps


def _index(templates: _Templates, page: int, pages: int, entries: list[fx.Comparison]) -> str:
    """An index page: its teasers, prev/next, and on the home page a link to every index page."""
    nav, head = [], ""
    if page > 1:
        previous = fx.index_path(page - 1)
        nav.append(f'<a class="pagination__prev" rel="prev" href="{previous}">&larr; Newer</a>')
        head += f'  <link rel="prev" href="{previous}">\n'
    nav.append(f'<span class="pagination__current">Page {page} of {pages}</span>')
    if page == 1:
        nav += [f'<a href="{fx.index_path(k)}">{k}</a>' for k in range(2, pages + 1)]
    if page < pages:
        following = fx.index_path(page + 1)
        nav.append(f'<a class="pagination__next" rel="next" href="{following}">Older &rarr;</a>')
        head += f'  <link rel="next" href="{following}">\n'
    main = templates.fill(
        "index.html",
        heading="Which AI tool should you ship with?" if page == 1 else "All comparisons",
        page=page,
        pages=pages,
        start=(page - 1) * PER_INDEX + 1,
        teasers="".join(templates.teaser(comp) for comp in entries),
        pagination="".join(f"      {item}\n" for item in nav),
        newsletter=templates.newsletter(),
    )
    title = f"{fx.SITE_NAME}: AI tool comparisons" + ("" if page == 1 else f" (page {page})")
    return templates.document(title, "page-index", head, main)


def build(n: int, out: Path) -> Site:
    """Render an n-comparison site into `out` (replacing what is there)."""
    _, price_table = fx.load()
    prices = sorted(price_table)
    templates = _Templates(fx.DATA / "templates")
    comps = _comparisons(n, prices)
    by_tool: dict[str, list[fx.Comparison]] = {}
    files: dict[str, str] = {}
    for comp in comps:
        names = [lst.tool.name for lst in comp.listings]
        related = [c for name in names for c in by_tool.get(name, [])[-2:]][:4]
        files[comp.url_path] = templates.comparison(comp, related)
        for name in names:
            by_tool.setdefault(name, []).append(comp)
    newest_first = comps[::-1]
    chunks = [newest_first[i : i + PER_INDEX] for i in range(0, len(comps), PER_INDEX)]
    index_paths = [fx.index_path(k) for k in range(1, len(chunks) + 1)]
    for k, chunk in enumerate(chunks, start=1):
        files[fx.index_path(k)] = _index(templates, k, len(chunks), chunk)
    files["/about/"] = templates.about()
    pages = [*index_paths, "/about/", *(c.url_path for c in comps)]
    for path, text in files.items():
        target = out / path.strip("/") / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (out / "404.html").write_text(templates.not_found(), encoding="utf-8")
    robots = f"User-agent: *\nAllow: /\n\nSitemap: {fx.ORIGIN}/sitemap.xml\n"
    (out / "robots.txt.in").write_text(robots, encoding="utf-8")
    sitemap = fx.render_sitemap([(path, comps[-1].published) for path in pages])
    (out / "sitemap.xml.in").write_text(sitemap, encoding="utf-8")
    (out / "pages.txt").write_text("\n".join(pages) + "\n", encoding="utf-8")
    site = Site(out, pages, len(comps))
    site.set_origin("http://127.0.0.1")
    return site


def ensure(n: int, base: Path | None = None) -> Site:
    """The cached n-comparison site, built on first use."""
    out = (base or cache_dir()) / f"site-{n}-v{VERSION}"
    if not (out / "BUILT").exists():
        if out.exists():
            import shutil

            shutil.rmtree(out)
        build(n, out)
        (out / "BUILT").write_text("ok\n", encoding="utf-8")
    pages = (out / "pages.txt").read_text(encoding="utf-8").split()
    return Site(out, pages, n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000, help="comparison pages [3000]")
    parser.add_argument("--out", type=Path, help=f"cache folder [{cache_dir()}]")
    args = parser.parse_args(argv)
    site = ensure(args.pages, args.out)
    print(f"{site.root}: {len(site.pages)} HTML pages ({site.comparisons} comparisons)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
