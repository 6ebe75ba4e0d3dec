"""The parser's text blocks against Chromium's innerText, live (docs/text-fidelity.md).

One headless Chromium (Debian's, through Playwright, JavaScript disabled) serves every check in
this module: the recorded cases of tests/test_text_fidelity.py are read again (so the recording
cannot drift from the browser), then Hypothesis writes random mixes of inline elements, comments,
whitespace, ``<br>``, entities and blocks, and the parser must read each one as the browser
renders it. The only differences allowed are the kept ones of tests/fidelity.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from crawler.static_server import StaticServer
from parsers.text_blocks import text_blocks
from tests.chromium import require_chromium
from tests.fidelity import ROOT, Chromium, browser_blocks, document, load_cases

pytestmark = pytest.mark.browser

require_chromium()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    with Chromium() as browser:
        yield browser


def test_recorded_cases_are_what_chromium_renders(chromium: Chromium) -> None:
    drifted = [
        (case["why"], case["inner_text"], live)
        for case in load_cases()
        if (live := chromium.inner_text(document(case["html"]))) != case["inner_text"]
    ]
    assert not drifted, f"re-record with `python -m tests.fidelity`: {drifted}"


# --- the framework corpus ------------------------------------------------------------------------

CORPUS = ROOT / "fixtures" / "frameworks"
FAMILIES = sorted(path.name for path in CORPUS.iterdir() if path.is_dir())


@pytest.mark.parametrize("family", FAMILIES)
def test_framework_pages_read_as_chromium_renders_them(chromium: Chromium, family: str) -> None:
    """Every page of the family, served over loopback HTTP, read by both sides."""
    pages = sorted((CORPUS / family).rglob("index.html"))
    assert len(pages) >= 5
    with StaticServer(CORPUS / family) as server:
        try:
            for page in pages:
                path = "/" + page.parent.relative_to(CORPUS / family).as_posix() + "/"
                path = "/" if path == "/./" else path
                browser = browser_blocks(chromium.inner_text_at(server.origin + path))
                assert text_blocks(page.read_bytes()) == browser, f"{family}{path}"
        finally:
            chromium.reset()  # (closes the browser's connections before the server stops)


# --- random markup -------------------------------------------------------------------------------

WORDS = ["A", "B", "vs", "x y", "$12", "100", "%", "“", "—", "é"]
SPACES = [" ", "  ", "\n", "\t", "\r\n", " \n  ", "\xa0", "&nbsp;", "&#9;", "&#32;"]
BITS = ["<!-- -->", "<!---->", "<!--[-->", "<!--]-->", "<!-- wp:paragraph -->", "<br>", "<img>",
        "\u200b", "&shy;", "<wbr>", "&amp;", "&ldquo;", "&mdash;", "<span></span>", "<b> </b>",
        "<script>s()</script>", "<style>p{}</style>", "<input>", "<picture><img></picture>",
        "<textarea>t</textarea>", "<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>"]  # fmt: skip
INLINE = ["span", "b", "i", "a", "em", "strong", "code", "small", "q", "label", "sup", "button", "rt"]
BLOCKS = ["p", "div", "li", "h2", "section", "blockquote", "ul", "x-card", "article", "noscript", "pre",
          "details", "summary", "dialog", "video", "textarea", "td", "rp"]  # fmt: skip
ATTRIBUTES = ["", "", "", " hidden", ' style="display:none"', ' class="w-inline-block"']


ZERO_WIDTH = ("\u200b", "<wbr>")
ATOMIC = ("<img", "<input", "<video", "<textarea")


@st.composite
def markup(draw: st.DrawFn, depth: int = 0) -> str:
    """Body markup heavy in what decides blocks and spaces."""
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 5))):
        choice = draw(st.integers(0, 6 if depth < 3 else 2))
        if choice == 0:
            parts.append(draw(st.sampled_from(WORDS)))
        elif choice == 1:
            parts.append(draw(st.sampled_from(SPACES)))
        elif choice == 2:
            parts.append(draw(st.sampled_from(BITS)))
        else:
            tag = draw(st.sampled_from(INLINE if choice <= 4 else BLOCKS))
            attributes = draw(st.sampled_from(ATTRIBUTES))
            inner = f"<{tag}{attributes}>{draw(markup(depth + 1))}</{tag}>"
            # (a cell in a row of a table, or the element itself)
            parts.append(
                f"<table><tr>{inner}<td>{draw(markup(depth + 1))}</td></tr></table>" if tag == "td" else inner
            )
    return "".join(parts)


@settings(
    max_examples=int(os.environ.get("VERDICTS_FIDELITY_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(html=markup())
# (drawn once: a space split from its <pre> line break by a comment was kept)
@example(html="A<pre>A <!-- -->\n</pre>")
def test_random_markup_reads_as_chromium_renders_it(chromium: Chromium, html: str) -> None:
    # Not modelled (docs/text-fidelity.md): an image, form control or video between a zero-width
    # space (or <wbr>) and a line break keeps the break a space in the browser.
    assume(not (any(z in html for z in ZERO_WIDTH) and any(a in html for a in ATOMIC)))
    page = document(html)
    assert text_blocks(page) == browser_blocks(chromium.inner_text(page))
