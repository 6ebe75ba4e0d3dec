"""Embedded data as a second witness (issue 13 §3): JSON-LD, microdata, Next.js and Nuxt data
read, kept and cross-checked against the visible text, in markup written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.demo import DEMO_SITE
from parsers import embedded as e
from parsers import parse_page

PAGE = (DEMO_SITE / "compare" / "cellwise-vs-querypilot" / "index.html").read_text(encoding="utf-8")


def with_head(extra: str, page: str = PAGE) -> str:
    return page.replace("</head>", extra + "</head>", 1)


def json_ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def test_visible_figures_of_the_page() -> None:
    result = parse_page(PAGE)
    assert result.status == "ok"
    assert [(item.name, item.entry_price) for item in result.listings] == [
        ("Cellwise", "Usage-based"),
        ("QueryPilot", "$12/user/mo"),
    ]


def test_json_ld_price_disagreement_is_listed_not_a_failure() -> None:
    products = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "Product", "name": "QueryPilot", "offers": {"@type": "Offer", "price": "19.00"}},
            {"@type": "SoftwareApplication", "name": "Cellwise", "aggregateRating": {"ratingValue": 4}},
        ],
    }
    result = parse_page(with_head(json_ld(products)))
    assert result.status == "ok" and result.problems == []  # the visible text stays the record
    assert [item.kind for item in result.embedded] == ["json-ld"]
    assert result.disagreements == [e.Disagreement("json-ld", "entry_price", 2, "$12/user/mo", "19.00")]


@pytest.mark.parametrize("price", ["12", "12.00", 12, 12.0, "12,00", "$12"])
def test_prices_compare_as_numbers(price: object) -> None:
    products = [{"@type": "Product", "name": "QueryPilot", "offers": [{"@type": "Offer", "price": price}]}]
    result = parse_page(with_head(json_ld(products)))
    assert result.disagreements == []


def test_title_and_tool_names_are_cross_checked() -> None:
    page = {"@type": "WebPage", "name": "Cellwise vs Sheetsmith | Verdicts"}
    tools = [{"@type": "Product", "name": "Sheetsmith"}, {"@type": "Product", "name": "Dashwise"}]
    result = parse_page(with_head(json_ld(page) + json_ld(tools)))
    fields = {(d.field, d.visible, d.embedded) for d in result.disagreements}
    assert fields == {
        ("title", "Cellwise vs QueryPilot", "Cellwise vs Sheetsmith | Verdicts"),
        ("tool_names", "Cellwise; QueryPilot", "Sheetsmith; Dashwise"),
    }
    # the same title with the site's name after it agrees
    same = parse_page(with_head(json_ld({"@type": "WebPage", "name": "Cellwise vs QueryPilot | Verdicts"})))
    assert same.disagreements == []


def test_microdata_is_read() -> None:
    markup = """<div itemscope itemtype="https://schema.org/Product"><span itemprop="name">QueryPilot</span>
    <div itemprop="offers" itemscope itemtype="https://schema.org/Offer">
    <meta itemprop="price" content="15"><meta itemprop="priceCurrency" content="USD"></div></div>"""
    page = PAGE.replace("</body>", markup + "</body>", 1)
    result = parse_page(page)
    micro = next(item for item in result.embedded if item.kind == "microdata")
    assert micro.data == [
        {
            "@type": "Product",
            "name": "QueryPilot",
            "offers": {"@type": "Offer", "price": "15", "priceCurrency": "USD"},
        }
    ]
    assert e.Disagreement("microdata", "entry_price", 2, "$12/user/mo", "15") in result.disagreements


def test_next_data_is_read_and_checked() -> None:
    data = {
        "props": {
            "pageProps": {
                "comparison": {
                    "title": "Cellwise vs QueryPilot",
                    "tools": [
                        {"name": "Cellwise", "entryPrice": None},
                        {"name": "QueryPilot", "entryPrice": 24},
                    ],
                }
            }
        },
        "page": "/compare/[slug]",
        "buildId": "x1",
    }
    script = f'<script id="__NEXT_DATA__" type="application/json">{json.dumps(data)}</script>'
    result = parse_page(PAGE.replace("</body>", script + "</body>", 1))
    assert [item.kind for item in result.embedded] == ["json-ld", "next-data"]
    assert result.embedded[1].data == [data]
    assert result.disagreements == [e.Disagreement("next-data", "entry_price", 2, "$12/user/mo", "24")]


# Nuxt 3 server output: a devalue-flattened array, `ShallowReactive`/`Reactive` wrappers,
# indices for every value, -1 for undefined.
NUXT = [
    ["ShallowReactive", 1],
    {"data": 2, "state": 13, "serverRendered": 14, "once": 15},
    ["ShallowReactive", 3],
    {"compare-cellwise-vs-querypilot": 4},
    {"title": 5, "tools": 6, "updated": 12},
    "Cellwise vs QueryPilot",
    [7, 10],
    {"name": 8, "price": 9},
    "Cellwise",
    "Usage-based",
    {"name": 11, "price": -1},
    "QueryPilot",
    ["Date", "2025-04-01T00:00:00.000Z"],
    ["Reactive", 16],
    True,
    ["Set"],
    {},
]


def test_devalue_decoder() -> None:
    assert e.decode_devalue(NUXT) == {
        "data": {
            "compare-cellwise-vs-querypilot": {
                "title": "Cellwise vs QueryPilot",
                "tools": [
                    {"name": "Cellwise", "price": "Usage-based"},
                    {"name": "QueryPilot", "price": None},
                ],
                "updated": "2025-04-01T00:00:00.000Z",
            }
        },
        "state": {},
        "serverRendered": True,
        "once": [],
    }
    assert e.decode_devalue([{"self": 0, "n": -3, "z": -6}]) == {
        "self": None,
        "n": None,
        "z": 0,
    }  # cycle, NaN, -0
    assert e.decode_devalue([[1, -2, 2], "a", ["Map", 3, 4], "k", ["BigInt", "9007199254740993"]]) == [
        "a",
        None,
        {"k": "9007199254740993"},
    ]
    with pytest.raises(ValueError):
        e.decode_devalue({})


def test_nuxt_data_is_read_and_agrees() -> None:
    script = f'<script type="application/json" id="__NUXT_DATA__" data-ssr="true">{json.dumps(NUXT)}</script>'
    result = parse_page(PAGE.replace("</body>", script + "</body>", 1))
    nuxt = next(item for item in result.embedded if item.kind == "nuxt-data")
    assert nuxt.data[0]["data"]["compare-cellwise-vs-querypilot"]["title"] == "Cellwise vs QueryPilot"
    assert result.disagreements == []


def test_pages_without_markers_pay_nothing_and_bad_json_is_kept_as_such() -> None:
    assert not e.has_markers("<p>a page</p>") and e.read_embedded("<p>a page</p>") == []
    assert parse_page("<p>a page</p>").embedded == []
    broken = '<script type="application/ld+json">{"@type": "Product",</script>'
    found = e.read_embedded(broken)
    assert found[0].kind == "json-ld" and "@error" in found[0].data[0]
    # a marker outside a script's opening tag is no embedded data
    assert e.read_embedded("<p>we use application/ld+json</p><script>x</script>") == []


def test_bytes_and_text_read_alike() -> None:
    page = with_head(json_ld({"@type": "Product", "name": "QueryPilot", "offers": {"price": "30"}}))
    as_text, as_bytes = parse_page(page), parse_page(page.encode("utf-8"))
    assert as_text.embedded == as_bytes.embedded and as_text.disagreements == as_bytes.disagreements
    assert len(as_text.disagreements) == 1


def test_verdicts_parse_shows_the_embedded_data_and_what_disagrees() -> None:
    from parsers import format_parse_result

    products = [{"@type": "Product", "name": "QueryPilot", "offers": {"price": "19"}}]
    text = format_parse_result(parse_page(with_head(json_ld(products))))
    assert "embedded data: json-ld (2)" in text
    assert "  disagrees on entry_price (tool 2): text '$12/user/mo', json-ld '19'" in text


def test_store_keeps_the_json_and_reparse_rewrites_it(tmp_path: Path) -> None:
    """The crawl's write path stores both tables; `reparse --force` rebuilds them (also for an
    archive crawled before the reader existed)."""
    from db.archive import open_archive
    from db.reparse import run_reparse
    from db.store import ArchiveWriter
    from tests.archive_factory import at, fetched

    products = [{"@type": "Product", "name": "QueryPilot", "offers": {"price": "19"}}]
    html = with_head(json_ld(products))
    url = "https://example.test/compare/cellwise-vs-querypilot/"
    db = open_archive(tmp_path / "a.db")
    ArchiveWriter(db, None).store([(fetched(url, html, at(1)), parse_page(html, url))])

    def stored() -> tuple[list[tuple], list[tuple]]:
        kept = db.execute("SELECT kind, json_array_length(data) FROM snapshot_embedded").fetchall()
        listed = db.execute("SELECT url, field, visible, embedded FROM field_disagreements").fetchall()
        return kept, listed

    expected = ([("json-ld", 2)], [(url, "entry_price", "$12/user/mo", "19")])
    assert stored() == expected
    db.execute("DELETE FROM snapshot_embedded")
    db.execute("DELETE FROM embedded_disagreements")
    db.conn.commit()
    db.close()
    assert run_reparse(tmp_path / "a.db", force=True, workers=1) == 0
    db = open_archive(tmp_path / "a.db")
    assert stored() == expected
    assert run_reparse(tmp_path / "a.db", force=True, workers=1) == 0  # no duplicates
    assert stored() == expected
    db.close()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["@type", "name", "price", "offers", "title", "tools", "x"]), inner)
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(JSON, st.lists(JSON, min_size=1, max_size=8))
def test_any_embedded_json_is_read_and_checked_without_raising(data: object, flat: list) -> None:
    """The reader and the cross-check themselves (not through `parse_page`, which would catch
    what they raise): any JSON, and any array as devalue data, is read or kept as an error."""
    scripts = (
        f'<script type="application/ld+json">{json.dumps(data)}</script>'
        f'<script id="__NEXT_DATA__" type="application/json">{json.dumps(data)}</script>'
        f'<script id="__NUXT_DATA__" type="application/json">{json.dumps(flat)}</script>'
    )
    found = e.read_embedded(with_head(scripts))
    assert [item.kind for item in found] == ["json-ld", "next-data", "nuxt-data"]
    for item in found:
        json.dumps(item.data)  # what the archive stores
    visible = parse_page(PAGE)
    assert all(d.field in ("title", "tool_names", "entry_price") for d in e.cross_check(visible, found))
