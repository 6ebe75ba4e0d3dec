"""Property tests: no input, however broken, makes the parser raise or return an invalid result."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import parse_page
from parsers.model import ParseResult
from parsers.prices import parse_entry_price
from parsers.registry import discover
from parsers.text_blocks import text_blocks

VARIANTS = Path(__file__).parent.parent / "fixtures" / "variants"
REAL_PAGE = (VARIANTS / "seed_000_divs.html").read_bytes()
# "error" is left out on purpose: a parser that raises on some input is a bug to find here.
STATUSES = {"ok", "incomplete", "not_comparison", "unreadable"}
FIELDS = {
    "page",
    "title",
    "category",
    "name",
    "tagline",
    "panel_ship_pct",
    "community_pct",
    "entry_price",
    "description",
    "quotes",
}
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TAGS = [
    "div",
    "p",
    "span",
    "a",
    "table",
    "tr",
    "td",
    "th",
    "thead",
    "li",
    "ul",
    "h1",
    "h2",
    "br",
    "script",
    "style",
    "template",
    "svg",
    "q",
    "b",
    "section",
    "x-card",
    "pre",
    "noscript",
]
ENTITIES = ["&ldquo;", "&rdquo;", "&#39;", "&mdash;", "&amp;", "&lt;", "&#x201C;", "&nbsp;", "&bogus;"]
WORDS = [
    "Panel ship",
    "Community",
    "Entry",
    "Reviewer scorecard",
    "vs",
    "A vs B",
    "100%",
    "—",
    "“quote”",
    '"',
    "“",
    "”",
    "Free",
    "$20/mo",
    "A",
    "B",
    "\n",
    " ",
    "<",
    ">",
    "<!--",
    "-->",
]


def assert_valid(result: ParseResult) -> None:
    assert result.status in STATUSES
    if result.status in ("not_comparison", "unreadable"):
        assert result.listings == [] and result.quotes == []
    if result.status == "unreadable":
        assert result.problems and result.problems[0].startswith("page: candidate comparison")
    if result.status == "ok":
        assert result.problems == []
        assert len(result.listings) == 2 and len(result.quotes) == 8
    if result.status == "incomplete":
        assert result.problems
    for problem in result.problems:
        assert problem.split(":", 1)[0] in FIELDS, problem
    for quote in result.quotes:
        assert 1 <= quote.reviewer_seat <= 4 and quote.position in (1, 2)
    for listing in result.listings:
        for value in (listing.panel_ship_pct, listing.community_pct):
            assert value is None or 0 <= value <= 100
    result.to_dict()
    result.field_presence()


@SETTINGS
@given(st.text(max_size=2000))
def test_random_text(text: str) -> None:
    assert_valid(parse_page(text))


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    assert_valid(parse_page(data))


attributes = st.dictionaries(
    st.sampled_from(["class", "id", "hidden", "style", "href", "data-x"]),
    st.sampled_from(["", "x", "display:none", "a b", "“", "<p>"]),
    max_size=2,
)


@st.composite
def html_fragments(draw: st.DrawFn, depth: int = 0) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 5))):
        choice = draw(st.integers(0, 3 if depth < 3 else 1))
        if choice == 0:
            parts.append(draw(st.sampled_from(WORDS)))
        elif choice == 1:
            parts.append(draw(st.sampled_from(ENTITIES)))
        else:
            tag = draw(st.sampled_from(TAGS))
            attrs = "".join(f' {k}="{v}"' for k, v in draw(attributes).items())
            inner = draw(html_fragments(depth + 1))
            closing = draw(st.sampled_from([f"</{tag}>", ""]))
            parts.append(f"<{tag}{attrs}>{inner}{closing}")
    return "".join(parts)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html_fragments())
def test_random_html(html: str) -> None:
    assert_valid(parse_page(html))
    for block in text_blocks(html):
        assert block == block.strip() and "  " not in block and block


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(REAL_PAGE)
    for _ in range(draw(st.integers(1, 4))):
        size = len(data)
        start = draw(st.integers(0, max(0, size - 1)))
        end = draw(st.integers(start, min(size, start + 2000)))
        action = draw(st.sampled_from(["delete", "duplicate", "swap", "insert"]))
        if action == "delete":
            del data[start:end]
        elif action == "duplicate":
            data[end:end] = data[start:end]
        elif action == "swap":
            other = draw(st.integers(0, max(0, size - (end - start))))
            chunk, target = bytes(data[start:end]), bytes(data[other : other + end - start])
            data[start:end], data[other : other + end - start] = target, chunk
        else:
            tag = draw(st.sampled_from(TAGS)).encode()
            data[start:start] = draw(st.sampled_from([b"<" + tag + b">", b"</" + tag + b">", b"<"]))
    return bytes(data)


@SETTINGS
@given(mutations())
def test_mutated_real_page(data: bytes) -> None:
    assert_valid(parse_page(data))


@SETTINGS
@given(st.text(max_size=300))
def test_prices_never_raise(text: str) -> None:
    kind, usd = parse_entry_price(text)
    assert kind in {"free", "freemium", "paid", "usage", "contact", "unknown"}
    assert usd is None or usd >= 0


# ---- each layout directly: parse_page catches whatever a layout raises, so a test through it
# alone would pass even if a layout crashed on every broken page.


def layout_never_raises(blocks: list[str]) -> None:
    layouts = discover()
    assert layouts
    for layout in layouts:
        recognised = layout.recognises(blocks)  # a crash here fails the test
        assert isinstance(recognised, bool), layout.NAME
        if recognised:
            assert_valid(layout.parse(blocks))


DIRECT = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@DIRECT
@given(mutations())
def test_layouts_directly_on_mutated_real_pages(data: bytes) -> None:
    layout_never_raises(text_blocks(data))


@DIRECT
@given(html_fragments())
def test_layouts_directly_on_random_html(html: str) -> None:
    layout_never_raises(text_blocks(html))


@DIRECT
@given(st.lists(st.sampled_from([*WORDS, "“", "”", "", "Reviewer scorecard", " vs "]) | st.text(max_size=40)))
def test_layouts_directly_on_random_blocks(blocks: list[str]) -> None:
    layout_never_raises(blocks)


def test_the_real_page_is_recognised_by_a_layout() -> None:
    blocks = text_blocks(REAL_PAGE)
    assert any(layout.recognises(blocks) for layout in discover())
