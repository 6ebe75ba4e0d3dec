"""Candidate comparisons: a page that reads "A vs B" somewhere but that no layout read is
`unreadable`, never `not_comparison` (issue 13 §2), in markup the project has never seen."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import candidates as c
from parsers import parse_page
from parsers.layouts import comparison

# Next.js server output: an app root, the page's HTML, and the scripts that hydrate it. JSX
# `{a}{" "}vs{" "}{b}` puts `<!-- -->` between the text pieces of the heading.
REACT_SSR = """<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/>
<title>Quillstream<!-- --> vs <!-- -->Ghostline<!-- --> | Stackreview</title>
<script src="/_next/static/chunks/main.js" defer=""></script></head>
<body><div id="__next"><header><a href="/">Stackreview</a></header><main>
<h1 class="text-3xl">Quillstream<!-- --> <!-- -->vs<!-- --> <!-- -->Ghostline</h1>
<p>Which writing assistant should your team ship with? We put both through a month of real
drafting work: release notes, support replies and a long design document each.</p>
<section><h2>The short answer</h2><p>Both are good; they suit different teams and budgets.</p></section>
</main></div>
<script id="__NEXT_DATA__" type="application/json">{"props":{"pageProps":{}},"page":"/[slug]"}</script>
</body></html>"""

# A client-rendered shell: nothing but a mount point and scripts.
SHELL = """<!doctype html><html><head><title>Stackreview</title>
<script type="module" crossorigin src="/assets/index-4f3a.js"></script></head>
<body><noscript>You need to enable JavaScript to run this app.</noscript>
<div id="root"></div></body></html>"""


def test_title_heading_and_path_read_as_comparisons() -> None:
    assert c.reads_as_comparison("Quillstream vs Ghostline")
    assert c.reads_as_comparison("Quillstream vs. Ghostline: which to ship?")
    assert c.reads_as_comparison("Quillstream VERSUS Ghostline")
    assert not c.reads_as_comparison("All comparisons")
    assert not c.reads_as_comparison("vs")
    assert not c.reads_as_comparison("Canvas drawing tools")  # "vs" inside a word
    assert c.path_reads_as_comparison("https://x.test/compare/quillstream-vs-ghostline/")
    assert c.path_reads_as_comparison("https://x.test/quillstream_versus_ghostline.html")
    assert not c.path_reads_as_comparison("https://x.test/compare/page/2/")
    assert not c.path_reads_as_comparison("https://x.test/canvas-tools/")
    assert not c.path_reads_as_comparison(None)


def test_react_heading_split_by_comments_reads_as_a_comparison() -> None:
    assert c.page_title(REACT_SSR) == "Quillstream vs Ghostline | Stackreview"
    assert c.first_heading(REACT_SSR) == "Quillstream vs Ghostline"


def test_react_page_without_the_layout_is_unreadable_not_lost() -> None:
    result = parse_page(REACT_SSR, url="https://x.test/reviews/42")
    assert result.status == "unreadable"
    assert result.problems[0].startswith("page: candidate comparison (its title reads")
    assert "its first heading reads 'Quillstream vs Ghostline'" in result.problems[0]
    # what was missing, in the layout's own words
    assert "panel_ship_pct: no 'Panel ship' stat in the visible text" in result.problems
    assert "quotes: no 'Reviewer scorecard' heading in the visible text" in result.problems
    assert not any("client-rendered" in p for p in result.problems)  # it has visible text


def test_client_rendered_shell_says_so() -> None:
    result = parse_page(SHELL, url="https://x.test/compare/quillstream-vs-ghostline")
    assert result.status == "unreadable"
    assert "its URL path reads '/compare/quillstream-vs-ghostline'" in result.problems[0]
    shell = [p for p in result.problems if "client-rendered" in p]
    assert shell == ["page: looks client-rendered (0 characters of visible text, app root 'root', 1 script)"]


@pytest.mark.parametrize(
    ("root", "name"),
    [
        ('<div id="__nuxt"></div>', "__nuxt"),
        ("<div id=app></div>", "app"),
        ("<app-root></app-root>", "app-root"),
        ('<div id="__next"></div>', "__next"),
    ],
)
def test_client_rendered_roots(root: str, name: str) -> None:
    html = f"<html><body>{root}<script src=a.js></script><script>boot()</script></body></html>"
    assert c.client_rendered(html, []) == (
        f"page: looks client-rendered (0 characters of visible text, app root {name!r}, 2 scripts)"
    )


def test_a_shell_needs_scripts_and_an_app_root() -> None:
    assert c.client_rendered('<div id="root"></div>', []) is None
    assert c.client_rendered("<p>hi</p><script></script>", ["hi"]) is None
    assert c.client_rendered('<div id="root"></div><script></script>', ["x" * 500]) is None


def test_a_shell_that_is_no_candidate_stays_not_comparison() -> None:
    result = parse_page(SHELL, url="https://x.test/dashboard")
    assert result.status == "not_comparison"
    assert result.problems == []


def test_earlier_comparison_makes_a_page_a_candidate() -> None:
    page = "<h1>Page moved</h1><p>This comparison now lives elsewhere.</p>"
    assert parse_page(page, url="https://x.test/p/1").status == "not_comparison"
    result = parse_page(page, url="https://x.test/p/1", was_comparison=True)
    assert result.status == "unreadable"
    assert "an earlier snapshot of this URL was a comparison" in result.problems[0]
    assert "title: no 'A vs B' title in the visible text" in result.problems


def test_index_of_links_is_no_candidate() -> None:
    page = "<title>All comparisons</title><h1>All comparisons</h1><ul><li><a>A vs B</a></li></ul>"
    assert parse_page(page, url="https://x.test/compare/").status == "not_comparison"


def test_explain_direct() -> None:
    """The layout's own account, called directly (not through the registry)."""
    assert comparison.explain([]) == [
        "title: no 'A vs B' title in the visible text",
        "panel_ship_pct: no 'Panel ship' stat in the visible text",
        "quotes: no 'Reviewer scorecard' heading in the visible text",
    ]
    assert comparison.explain(["Reviewer scorecard", "A vs B", "Panel ship"]) == [
        "title: no 'A vs B' title above the tool stats or the reviewer scorecard"
    ]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=30))
def test_layout_functions_never_raise_on_any_blocks(blocks: list[str]) -> None:
    """The layout itself, not the registry that would catch its exceptions."""
    blocks = [" ".join(b.split()) for b in blocks if b.split()]
    claimed = comparison.recognises(blocks)
    assert isinstance(claimed, bool)
    result = comparison.parse(blocks)
    assert result.status in ("ok", "incomplete", "not_comparison")
    assert all(isinstance(p, str) for p in comparison.explain(blocks))


def test_a_broken_url_is_no_signal_and_never_raises() -> None:
    assert not c.path_reads_as_comparison("http://[::1/compare/a-vs-b")
    assert parse_page("<p>x</p>", url="http://[::1/compare/a-vs-b").status == "not_comparison"


def test_a_crash_in_the_candidate_check_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(html: object, url: object) -> list[str]:
        raise UnicodeError("odd bytes")

    monkeypatch.setattr(c, "comparison_signals", boom)
    result = parse_page("<h1>About</h1>")
    assert result.status == "error"
    assert result.problems == ["page: parser error in the candidate check (UnicodeError: odd bytes)"]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.text(max_size=60))
def test_candidate_readers_never_raise(html: str, url: str) -> None:
    """The module's functions directly (the registry would turn an exception into an error)."""
    c.comparison_signals(html, url)
    c.comparison_signals(html.encode("utf-8", "surrogatepass"), "http://x.test/" + url)
    c.client_rendered(html, [html])
