"""The parser gives the same answer on every markup of the same page text.

Expected values come from the seed page TEXT by line position (independent of the parser); the
variant HTML files in ``fixtures/variants/`` dress that text in very different markup.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from parsers import parse_page

VARIANTS = Path(__file__).parent.parent / "fixtures" / "variants"
SEEDS = ("seed_000", "seed_004")
PAGES = sorted(VARIANTS.glob("seed_*_*.html"))


def expected_from_seed(seed: str) -> dict:
    """What a reader of the seed text sees, by line position (kicker, title, intro, 2 x 10, ...)."""
    lines = (VARIANTS / f"{seed}.txt").read_text(encoding="utf-8").splitlines()
    tools = []
    for position, base in ((1, 3), (2, 13)):
        chunk = lines[base : base + 10]
        assert chunk[4] == "Panel ship" and chunk[6] == "Community" and chunk[8] == "Entry"
        tools.append(
            {
                "position": position,
                "category": chunk[0],
                "name": chunk[1],
                "tagline": chunk[2],
                "panel_ship_pct": int(chunk[3].rstrip("%")),
                "community_pct": None if chunk[5] == "—" else int(chunk[5].rstrip("%")),
                "entry_price": chunk[7],
                "description": chunk[9],
            }
        )
    assert lines[23] == "Reviewer scorecard"
    quotes = [
        {"position": i % 2 + 1, "reviewer_seat": i // 2 + 1, "text": line[1:-1]}
        for i, line in enumerate(lines[24:32])
    ]
    assert all(line.startswith("“") and line.endswith("”") for line in lines[24:32])
    return {"title": lines[1], "listings": tools, "quotes": quotes}


def test_there_are_enough_variants() -> None:
    for seed in SEEDS:
        assert len([p for p in PAGES if p.name.startswith(seed)]) >= 4


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_variant_reads_as_its_seed(page: Path) -> None:
    seed = "_".join(page.stem.split("_")[:2])
    expected = expected_from_seed(seed)
    result = parse_page(page.read_bytes())
    assert result.status == "ok", result.problems
    assert result.problems == []
    assert result.title == expected["title"]
    for listing, want in zip(result.listings, expected["listings"], strict=True):
        for key, value in want.items():
            assert getattr(listing, key) == value, (key, page.name)
        assert listing.entry_price_kind == "free" and listing.entry_price_usd == 0.0
    got_quotes = [
        {"position": q.position, "reviewer_seat": q.reviewer_seat, "text": q.text} for q in result.quotes
    ]
    assert got_quotes == expected["quotes"]


@pytest.mark.parametrize("seed", SEEDS)
def test_all_markups_of_a_seed_parse_identically(seed: str) -> None:
    results = {p.name: parse_page(p.read_text(encoding="utf-8")).to_dict() for p in PAGES}
    mine = [value for name, value in results.items() if name.startswith(seed)]
    assert all(value == mine[0] for value in mine[1:])


def _last_quote_end(html: str, seed: str) -> int:
    """Byte offset in ``html`` just past the last word of the last quote."""
    last_quote = (VARIANTS / f"{seed}.txt").read_text(encoding="utf-8").splitlines()[31]
    tail_word = last_quote[:-1].split()[-1]
    return html.rindex(tail_word) + len(tail_word)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
@pytest.mark.parametrize("share", [0.5, 0.8, 0.95])
def test_truncated_page_is_never_ok(page: Path, share: float) -> None:
    data = page.read_bytes()
    cut = data[: int(len(data) * share)]
    seed = "_".join(page.stem.split("_")[:2])
    text = cut.decode("utf-8", errors="ignore")
    result = parse_page(cut)
    if len(text) < _last_quote_end(data.decode("utf-8"), seed):
        assert result.status in ("incomplete", "not_comparison")
        if result.status == "incomplete":
            assert result.problems
            assert all(p.split(":", 1)[0] in KNOWN_FIELDS for p in result.problems)
    # Whatever survives is a prefix of the real scorecard, never invented text; only the last
    # quote may be cut short (when markup such as <q> supplies its closing mark).
    expected = [q["text"] for q in expected_from_seed(seed)["quotes"]]
    found = [q.text for q in result.quotes]
    if found:
        assert found[:-1] == expected[: len(found) - 1]
        assert expected[len(found) - 1].startswith(found[-1])


KNOWN_FIELDS = {
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


@pytest.mark.parametrize(
    "page",
    [b"", b"   \n ", b"\x00" * 64, "<html></html>", "<p>hello</p>", "\ufeff", b"\xff\xfe\x00<"],
)
def test_empty_and_junk_pages_are_not_comparisons(page: str | bytes) -> None:
    result = parse_page(page)
    assert result.status == "not_comparison"
    assert result.problems == []


def test_binary_garbage_never_raises() -> None:
    rng = random.Random(1234)
    for _ in range(50):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000)))
        assert parse_page(blob).status in ("ok", "incomplete", "not_comparison")
