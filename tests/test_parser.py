"""Golden pages, text blocks and the comparison layout's rules, one behaviour per test."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from crawler.demo import DEMO_SITE
from parsers import format_parse_result, parse_page, parser_versions
from parsers.layouts import comparison
from parsers.text_blocks import text_blocks

FIXTURES = Path(__file__).parent.parent / "fixtures"
EXPECTED = sorted(p for p in (FIXTURES / "expected").glob("*.json") if p.name != "site.json")
VARIANTS = FIXTURES / "variants"


# --- golden pages --------------------------------------------------------------------------------


def test_the_golden_answers_are_committed() -> None:
    # a missing fixture is a failure, not a skip (parametrize over nothing would skip)
    assert len(EXPECTED) >= 5


def _page_for(expected: dict) -> Path:
    return DEMO_SITE / expected["url_path"].strip("/") / "index.html"


@pytest.mark.parametrize("golden", EXPECTED, ids=lambda p: p.stem)
def test_golden_page(golden: Path) -> None:
    expected = json.loads(golden.read_text(encoding="utf-8"))
    page = _page_for(expected)
    result = parse_page(page.read_bytes(), url=expected["url_path"]).to_dict()
    for key in ("parser", "parser_version", "problems"):
        result.pop(key)
    expected = {k: v for k, v in expected.items() if k != "url_path"}
    assert result == expected


@pytest.mark.parametrize(("path", "status"), [("index.html", None), ("about/index.html", None)])
def test_site_chrome_pages_are_not_comparisons(path: str, status: None) -> None:
    page = DEMO_SITE / path
    result = parse_page(page.read_bytes())
    assert result.status == "not_comparison"
    assert result.problems == []


def test_404_page_is_not_a_comparison() -> None:
    page = DEMO_SITE / "404.html"
    assert parse_page(page.read_text(encoding="utf-8")).status == "not_comparison"


# --- text blocks ---------------------------------------------------------------------------------


def test_inline_elements_do_not_split_blocks() -> None:
    html = "<h1>Alpha <span>vs</span> <a href='#'>Beta</a></h1><p>100<sup>%</sup></p>"
    assert text_blocks(html) == ["Alpha vs Beta", "100%"]


def test_block_elements_and_br_split_blocks() -> None:
    html = "<div>one<p>two</p>three<br>four</div><ul><li>five<li>six</ul><td>seven</td>"
    assert text_blocks(html) == ["one", "two", "three", "four", "five", "six", "seven"]


def test_invisible_content_is_dropped() -> None:
    html = (
        "<head><title>T</title><style>p{}</style></head><body><script>var a='x';</script>"
        "<noscript>ns</noscript><template><p>tpl</p></template><svg><text>svg</text></svg>"
        "<p hidden>h</p><p style='display:none'>d</p><p>shown</p><!-- comment --></body>"
    )
    assert text_blocks(html) == ["shown"]


def test_entities_and_whitespace() -> None:
    html = "<p>&ldquo;It&#39;s\n   fine &mdash; &amp;  done&rdquo;</p>"
    assert text_blocks(html) == ["“It's fine — & done”"]


def test_comment_inside_text_does_not_split() -> None:
    assert text_blocks("<p>A<!-- x --> vs B</p>") == ["A vs B"]


def test_q_element_gets_quotation_marks() -> None:
    assert text_blocks("<div><q>Ship it</q></div>") == ["“Ship it”"]


def test_custom_elements_split_blocks() -> None:
    assert text_blocks("<tool-card><tool-name>A</tool-name><x-tag>B</x-tag></tool-card>") == [
        "A",
        "B",
    ]


def test_deep_nesting_does_not_overflow() -> None:
    depth = 5000  # far beyond Python's recursion limit
    html = "<div>" * depth + "deep" + "</div>" * depth
    assert text_blocks(html) == ["deep"]


def test_bytes_with_bad_utf8_are_read() -> None:
    assert text_blocks(b"<p>caf\xc3\xa9 \xff ok</p>") == ["café \ufffd ok"]


# --- layout rules --------------------------------------------------------------------------------


def _seed_blocks(seed: str = "seed_000") -> list[str]:
    return (VARIANTS / f"{seed}.txt").read_text(encoding="utf-8").splitlines()


def _html(blocks: list[str]) -> str:
    return "".join(f"<p>{b}</p>" for b in blocks)


def test_seed_text_as_blocks_is_ok() -> None:
    result = comparison.parse(_seed_blocks())
    assert result.status == "ok"
    assert result.title == "SmolVLM2 Turbo vs Mistral-Next 22B"
    assert [q.reviewer_seat for q in result.quotes] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert [q.position for q in result.quotes] == [1, 2] * 4


def test_missing_label_is_a_problem() -> None:
    blocks = _seed_blocks()
    del blocks[19]  # tool 2's "Community" label
    result = parse_page(_html(blocks))
    assert result.status == "incomplete"
    assert "community_pct: label 'Community' not found for tool 2" in result.problems
    assert result.listing(1) is not None and result.listing(1).community_pct is None


def test_unreadable_percentage_is_a_problem() -> None:
    blocks = _seed_blocks()
    blocks[6] = "lots"
    result = parse_page(_html(blocks))
    assert result.status == "incomplete"
    assert any(p.startswith("panel_ship_pct:") and "tool 1" in p for p in result.problems)


def test_community_percentage_and_dash() -> None:
    blocks = _seed_blocks()
    blocks[8] = "87 %"
    result = parse_page(_html(blocks))
    assert result.status == "ok"
    assert result.listing(1).community_pct == 87
    assert result.listing(2).community_pct is None


def test_odd_number_of_quotes() -> None:
    blocks = _seed_blocks()
    del blocks[31]
    result = parse_page(_html(blocks))
    assert result.status == "incomplete"
    assert "quotes: odd number of quotes (7)" in result.problems
    assert len(result.quotes) == 7


def test_too_many_quotes() -> None:
    blocks = _seed_blocks()
    blocks[32:32] = ["“One more.”", "“And another.”"]
    result = parse_page(_html(blocks))
    assert result.status == "incomplete"
    assert "quotes: expected 8 quotes, found 10" in result.problems
    assert len(result.quotes) == 8


def test_quote_split_across_blocks_and_straight_quotes() -> None:
    blocks = _seed_blocks()
    first = blocks[24]
    middle = len(first) // 2
    blocks[24:25] = [first[:middle], first[middle:]]
    blocks[26] = '"' + blocks[26][1:-1] + '"'
    result = parse_page(_html(blocks))
    assert result.status == "ok"
    expected = _seed_blocks()
    assert result.quotes[0].text == " ".join(
        [expected[24][1:middle].strip(), expected[24][middle:-1].strip()]
    )
    assert result.quotes[1].text == expected[25][1:-1]


def test_quotes_in_columns_headed_by_tool_names() -> None:
    blocks = _seed_blocks()
    quotes = blocks[24:32]
    names = [blocks[4], blocks[14]]
    blocks[24:32] = [names[0], *quotes[0::2], names[1], *quotes[1::2]]
    result = parse_page(_html(blocks))
    assert result.status == "ok"
    assert [q.text for q in result.quotes] == [q[1:-1] for q in quotes]


def test_chrome_quote_after_newsletter_is_ignored() -> None:
    blocks = [*_seed_blocks(), "Subscribe", "“Best site ever” — a reader"]
    assert parse_page(_html(blocks)).status == "ok"


def test_nav_comparison_links_are_not_the_title() -> None:
    blocks = ["Home", "Cursor vs Windsurf", "Zed vs VS Code", *_seed_blocks()]
    result = parse_page(_html(blocks))
    assert result.status == "ok"
    assert result.title == "SmolVLM2 Turbo vs Mistral-Next 22B"


def test_title_split_over_blocks() -> None:
    blocks = _seed_blocks()
    blocks[1:2] = ["SmolVLM2 Turbo", "vs", "Mistral-Next 22B"]
    result = parse_page(_html(blocks))
    assert result.status == "ok"
    assert result.title == "SmolVLM2 Turbo vs Mistral-Next 22B"


def test_kicker_glued_to_title_is_trimmed() -> None:
    blocks = _seed_blocks()
    blocks[0:2] = [blocks[0] + " " + blocks[1]]
    result = parse_page(_html(blocks))
    assert result.title == "SmolVLM2 Turbo vs Mistral-Next 22B"


def test_labels_before_values_are_tolerated() -> None:
    blocks = _seed_blocks()
    for base in (13, 3):
        stats = blocks[base + 3 : base + 9]
        blocks[base + 3 : base + 9] = [stats[1], stats[0], stats[3], stats[2], stats[5], stats[4]]
    result = parse_page(_html(blocks))
    assert result.status == "ok", result.problems
    assert result.listing(2).entry_price == "Free"
    assert result.listing(1).panel_ship_pct == 100


def test_only_one_tool_is_incomplete() -> None:
    blocks = _seed_blocks()[:13]
    result = parse_page(_html(blocks))
    assert result.status == "incomplete"
    assert len(result.listings) == 1
    assert "name: tool 2 not found" in result.problems


@pytest.mark.parametrize(
    "html",
    [
        "<h1>All comparisons</h1><ul><li><a>A vs B</a></li><li><a>C vs D</a></li></ul>",
        "<h1>About us</h1><p>We compare AI tools so you do not have to.</p>",
        "<h1>404</h1><p>Page not found</p>",
        "<p>Panel ship</p><p>Community</p>",
    ],
)
def test_pages_without_the_shape_are_not_comparisons(html: str) -> None:
    result = parse_page(html)
    assert result.status == "not_comparison"
    assert result.problems == []


def test_layout_crash_in_parse_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(blocks: list[str]) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr(comparison, "parse", boom)
    result = parse_page(_html(_seed_blocks()))
    assert result.status == "error"
    assert result.problems == ["page: parser error in comparison.parse (RuntimeError: kaput)"]


def test_layout_crash_in_recognises_is_an_error_not_a_non_comparison(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(blocks: list[str]) -> bool:
        raise ValueError("bad block")

    monkeypatch.setattr(comparison, "recognises", boom)
    for html in (_html(_seed_blocks()), "<h1>About us</h1><p>Nothing to compare here.</p>"):
        result = parse_page(html)
        assert result.status == "error"
        assert result.problems == ["page: parser error in comparison.recognises (ValueError: bad block)"]


def test_text_blocks_crash_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from parsers import registry

    def boom(html: object) -> list[str]:
        raise MemoryError("too deep")

    monkeypatch.setattr(registry, "text_blocks", boom)
    result = parse_page("<p>x</p>")
    assert result.status == "error"
    assert result.problems == ["page: parser error in text blocks (MemoryError: too deep)"]


def test_parser_versions_lists_the_layouts() -> None:
    assert parser_versions()[comparison.NAME] == comparison.VERSION
    result = parse_page(_html(_seed_blocks()))
    assert (result.parser, result.parser_version) == (comparison.NAME, comparison.VERSION)


def test_format_parse_result_mentions_what_was_read() -> None:
    blocks = _seed_blocks()
    del blocks[31]
    text = format_parse_result(parse_page(_html(blocks)))
    assert "status:   incomplete" in text
    assert "SmolVLM2 Turbo" in text and "Mistral-Next 22B" in text
    assert "quotes: odd number of quotes (7)" in text


def test_invisible_characters_and_nbsp_do_not_break_labels() -> None:
    assert text_blocks("<p>Panel\u200bship</p><p>100&nbsp;%</p><p>Re\u00adviewer</p>") == [
        "Panelship",
        "100 %",
        "Reviewer",
    ]
    blocks = _seed_blocks()
    html = _html(blocks).replace("Panel ship", "Panel&nbsp;ship").replace("Entry", "En\u200btry")
    assert parse_page(html).status == "ok"


def test_quotation_marks_drawn_by_css_are_tolerated() -> None:
    blocks = _seed_blocks()
    blocks[24:32] = [b[1:-1] for b in blocks[24:32]]
    result = parse_page(_html(blocks))
    assert result.status == "ok", result.problems
    assert [q.text for q in result.quotes] == [b for b in blocks[24:32]]


def test_quote_marks_in_their_own_blocks() -> None:
    blocks = _seed_blocks()
    blocks[24:25] = ["“", blocks[24][1:-1], "”"]
    result = parse_page(_html(blocks))
    assert result.status == "ok", result.problems
    assert result.quotes[0].text == _seed_blocks()[24][1:-1]


def _related_card(title: str) -> list[str]:
    left = title.split(" vs ")[0]
    return [title, left, "75%", "Panel ship", "—", "Community", "Free", "Entry"]


def test_related_cards_before_the_title_are_ignored() -> None:
    blocks = [*_related_card("Cursor vs Windsurf"), *_seed_blocks()]
    result = parse_page(_html(blocks))
    assert result.status == "ok", result.problems
    assert result.title == "SmolVLM2 Turbo vs Mistral-Next 22B"


def test_related_cards_between_tools_and_scorecard_are_ignored() -> None:
    blocks = _seed_blocks()
    blocks[23:23] = _related_card("Zed vs Helix")
    result = parse_page(_html(blocks))
    assert result.status == "ok", result.problems
    assert [item.name for item in result.listings] == ["SmolVLM2 Turbo", "Mistral-Next 22B"]


def test_third_unnamed_tool_is_a_problem() -> None:
    blocks = _seed_blocks()
    blocks[23:23] = ["Tools", "Third tool", "A tagline", "10%", "Panel ship", "—", "Community"]
    blocks[4] = "SmolVLM2 Turbo ↗"  # names no longer match the title exactly
    result = parse_page(_html(blocks))
    assert result.status == "incomplete"
    assert "name: expected 2 tools, found 3" in result.problems


def test_legacy_code_page_bytes_are_read() -> None:
    page = "<p>“Café” — naïve</p>".encode("cp1252")
    assert text_blocks(page) == ["“Café” — naïve"]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p><span>A</span> <span>vs</span>\n<span>B</span></p>", ["A vs B"]),
        ("<p><b>100</b><small>%</small></p>", ["100%"]),
        ("<p>$20<small>/mo</small></p>", ["$20/mo"]),
        ("<p><span><b>A</b></span> <i>B</i></p>", ["A B"]),
        ("<p>A<!-- c --> B</p>", ["A B"]),
        ("<div><svg><text>no</text></svg>\n  <p>yes</p></div><p>after</p>", ["yes", "after"]),
        ("<div><p>x<svg></svg></p>\n</div>\n<p>after</p>", ["x", "after"]),
    ],
)
def test_spacing_between_inline_pieces(html: str, expected: list[str]) -> None:
    assert text_blocks(html) == expected


@pytest.mark.parametrize(
    ("stat", "label"),
    [
        ("<span>100%</span><span>Panel ship</span>", "panel"),
        ("<span>Panel ship</span><span>100%</span>", "panel"),
        ("<span>—</span><span>Community</span>", "community"),
        ("<span>Free</span><span>Entry</span>", "entry"),
        ("<b>Entry:</b> Free", "entry"),
    ],
)
def test_value_and_label_in_one_block_without_space(stat: str, label: str) -> None:
    blocks = _seed_blocks()
    html = _html(blocks)
    plain = {
        "panel": "<p>100%</p><p>Panel ship</p>",
        "community": "<p>—</p><p>Community</p>",
        "entry": "<p>Free</p><p>Entry</p>",
    }[label]
    assert html.count(plain) == 2
    result = parse_page(html.replace(plain, f"<div>{stat}</div>"))
    assert result.status == "ok", result.problems
    assert result.to_dict() == parse_page(html).to_dict()


def test_label_words_inside_prose_are_not_labels() -> None:
    blocks = _seed_blocks()
    blocks[5] = "Built for the community"  # tool 1's tagline ends with a label word
    result = parse_page(_html(blocks))
    assert result.status == "ok", result.problems
    assert result.listing(1).tagline == "Built for the community"


def test_page_ending_mid_text_is_incomplete() -> None:
    html = _html(_seed_blocks())
    assert parse_page(html).status == "ok"
    cut = html[: html.rindex("</p>")]  # the last block loses its end tag: a cut-off download
    result = parse_page(cut)
    assert result.status == "incomplete"
    assert result.problems == ["quotes: page ends mid-text (truncated)"]
    assert parse_page(cut.encode()).problems == result.problems


def test_threads_parsing_different_pages_get_their_own_results() -> None:
    from concurrent.futures import ThreadPoolExecutor

    pages = sorted(VARIANTS.glob("seed_*_divs.html")) + sorted(VARIANTS.glob("seed_*_tables.html"))
    html = [page.read_text(encoding="utf-8") for page in pages] * 25
    expected = [parse_page(page).to_dict() for page in html]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda page: parse_page(page).to_dict(), html)) == expected


def test_panel_dash_is_a_problem_but_community_dash_is_not() -> None:
    blocks = _seed_blocks()
    blocks[16] = "—"  # tool 2's panel ship
    result = parse_page(_html(blocks))
    assert result.status == "incomplete"
    assert result.problems == ["panel_ship_pct: no value ('—') for tool 2"]


@pytest.mark.parametrize(
    "title_blocks",
    [
        ["SmolVLM2 Turbo vs", "Mistral-Next 22B"],
        ["SmolVLM2 Turbo", "vs Mistral-Next 22B"],
        ["SmolVLM2 Turbo vs Mistral-Next 22B: which should you ship?"],
        ["SmolVLM2 Turbo VS. Mistral-Next 22B"],
    ],
)
def test_title_forms(title_blocks: list[str]) -> None:
    blocks = _seed_blocks()
    blocks[1:2] = title_blocks
    result = parse_page(_html(blocks))
    assert result.status == "ok", result.problems
    assert result.title is not None
    assert result.title.replace("VS.", "vs") == "SmolVLM2 Turbo vs Mistral-Next 22B"


def test_decorated_labels() -> None:
    html = _html(_seed_blocks()).replace("<p>Panel ship</p>", "<p>Panel ship <span>ⓘ</span></p>")
    html = html.replace("<p>Entry</p>", "<p>Entry*</p>")
    assert parse_page(html).to_dict() == parse_page(_html(_seed_blocks())).to_dict()


def test_attribution_lines_between_quotes() -> None:
    blocks = _seed_blocks()
    quotes = blocks[24:32]
    blocks[24:32] = [line for i, q in enumerate(quotes) for line in (q, f"Reviewer {i}", "Seat", "Company")]
    result = parse_page(_html(blocks))
    assert result.status == "ok", result.problems
    assert [q.text for q in result.quotes] == [q[1:-1] for q in quotes]


def test_footer_testimonial_after_newsletter_is_not_a_ninth_quote() -> None:
    blocks = [*_seed_blocks(), "“Best comparisons on the web.”"]  # 3 newsletter blocks between
    result = parse_page(_html(blocks))
    assert result.status == "ok", result.problems


def test_single_curly_quotes() -> None:
    blocks = _seed_blocks()
    blocks[24:32] = ["‘" + b[1:-1] + "’" for b in blocks[24:32]]
    result = parse_page(_html(blocks))
    assert result.status == "ok", result.problems
    assert result.quotes[0].text == _seed_blocks()[24][1:-1]


def _strip_attributes(html: str) -> str:
    return re.sub(r"<([a-zA-Z][a-zA-Z0-9-]*)\s[^<>]*?(/?)>", r"<\1\2>", html)


def _divs_to_sections(html: str) -> str:
    return re.sub(r"<(/?)div\b", r"<\1section", html)


def _minify(html: str) -> str:
    return re.sub(r">\s+<", "><", html)


def _numeric_entities(html: str) -> str:
    return "".join(c if ord(c) < 128 else f"&#{ord(c)};" for c in html)


def _tables(html: str) -> str:
    """Every <p> and <h2> becomes a one-cell table row inside its own table."""
    html = re.sub(r"<(p|h2)\b[^>]*>", "<table><tr><td>", html)
    return re.sub(r"</(p|h2)>", "</td></tr></table>", html)


@pytest.mark.parametrize(
    "transform", [_strip_attributes, _divs_to_sections, _minify, _numeric_entities, _tables]
)
def test_golden_pages_survive_markup_rewrites(transform: Callable[[str], str]) -> None:
    for golden in EXPECTED:
        expected = json.loads(golden.read_text(encoding="utf-8"))
        page = _page_for(expected).read_text(encoding="utf-8")
        original = parse_page(page).to_dict()
        assert original["status"] == "ok"
        assert parse_page(transform(page)).to_dict() == original, golden.stem
