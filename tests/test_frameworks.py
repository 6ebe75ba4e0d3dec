"""The framework corpus (fixtures/frameworks/): committed as generated, in each family's markup,
and read right by the parser.

fixtures/build_frameworks.py writes the bundled site's comparison pages the way eight template
families render them. These tests keep the committed files equal to its output, check that each
family's pages carry that family's tell-tale markup (so the corpus tests what it claims), and
that every page parses to its golden answer in fixtures/expected/.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from parsers import parse_page

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fixtures" / "frameworks"
EXPECTED = ROOT / "fixtures" / "expected"
PAGES = sorted(CORPUS.glob("*/compare/*/index.html"))

#: Markup each family's server renderer emits (see fixtures/build_frameworks.py).
TELLS = {
    "react": ('<div id="__next">', "<!-- --> <!-- -->vs<!-- --> <!-- -->", "<!--$-->", "__NEXT_DATA__"),
    "vue": ('<div id="__nuxt">', "<!--[-->", "<!--]-->", "<!---->", " data-v-"),
    "svelte": ('<div style="display: contents">', "<!--[-->", "<!--[!-->", "<!---->", "svelte-"),
    "astro": ("<astro-island ", 'client="visible"', "astro-island,astro-slot", "data-astro-cid-"),
    "angular": ('ngh="', "ng-server-context", "_ngcontent-ng-c", "<!--ngtns-->", "<!--container-->"),
    "wordpress": ("<!-- wp:paragraph -->", "<!-- /wp:quote -->", "wp-block-table", "wp-block-group"),
    "webflow": ("data-wf-page=", "data-w-id=", 'style="opacity:0"', "w-dyn-item", "w-richtext"),
    "bootstrap": ('class="container', "card-body", "navbar-toggler", 'class="blockquote'),
}  # fmt: skip


def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_frameworks", ROOT / "fixtures" / "build_frameworks.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def test_committed_corpus_is_exactly_what_the_generator_writes() -> None:
    files = builder().render_all()
    committed = {p.relative_to(CORPUS): p.read_text(encoding="utf-8") for p in CORPUS.rglob("*.html")}
    assert sorted(committed) == sorted(files), "run python fixtures/build_frameworks.py"
    stale = [str(path) for path, text in files.items() if committed[path] != text]
    assert not stale, f"run python fixtures/build_frameworks.py: {stale}"


def test_every_family_has_pages_and_every_public_comparison_is_covered() -> None:
    families = {page.relative_to(CORPUS).parts[0] for page in PAGES}
    assert families == set(TELLS)
    assert all(sum(1 for p in PAGES if p.relative_to(CORPUS).parts[0] == f) >= 4 for f in families)
    site = json.loads((EXPECTED / "site.json").read_text(encoding="utf-8"))
    public = {path.strip("/").split("/")[-1] for key in ("crawlable_comparisons", "sitemap_only_comparisons")
              for path in site[key]}  # fmt: skip
    assert {page.parent.name for page in PAGES} == public


@pytest.mark.parametrize("page", PAGES, ids=lambda p: "/".join(p.relative_to(CORPUS).parts[:3:2]))
def test_page_carries_its_familys_markup(page: Path) -> None:
    family = page.relative_to(CORPUS).parts[0]
    text = page.read_text(encoding="utf-8")
    assert [tell for tell in TELLS[family] if tell not in text] == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: "/".join(p.relative_to(CORPUS).parts[:3:2]))
def test_page_parses_to_its_golden_answer(page: Path) -> None:
    expected = json.loads((EXPECTED / f"{page.parent.name}.json").read_text(encoding="utf-8"))
    got = parse_page(page.read_bytes()).to_dict()
    assert got["status"] == "ok", got["problems"]
    assert (got["title"], got["listings"], got["quotes"]) == (
        expected["title"],
        expected["listings"],
        expected["quotes"],
    )
