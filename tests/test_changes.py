"""db/changes.py: the change rules on plain states (no database)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from db.changes import (
    EDIT_SIMILARITY,
    KINDS,
    Change,
    PageState,
    QuoteState,
    ToolState,
    diff_states,
    page_state,
    price_move_pct,
    similarity,
)
from db.identity import content_id
from tests.archive_factory import comparison, listing, with_quote

QUOTE = "The sync engine is fast and the offline mode finally works the way a team expects it to."


def tool(tid: str = "a", position: int = 1, **values: object) -> ToolState:
    base: dict[str, object] = {
        "panel_ship_pct": 80,
        "community_pct": 60,
        "entry_price": "$20/mo",
        "entry_price_usd": 20.0,
        "tagline": "A tagline",
        "description": "A description.",
    }
    base.update(values)
    return ToolState(tid, position, **base)  # type: ignore[arg-type]


def quote(text: str, tid: str = "a", seat: int = 1) -> QuoteState:
    return QuoteState(tid, seat, text, content_id("verdict", tid, text))


def state(
    *quotes: QuoteState, title: str = "A vs B", tools: tuple[ToolState, ...] | None = None
) -> PageState:
    return PageState(title, tools if tools is not None else (tool("a", 1), tool("b", 2)), tuple(quotes))


def kinds(changes: list[Change]) -> list[str]:
    return [c.kind for c in changes]


def test_a_new_page_is_one_page_new() -> None:
    assert diff_states(None, state(quote(QUOTE))) == [Change("page_new", field="title", new="A vs B")]


def test_the_same_state_is_no_change() -> None:
    page = state(quote(QUOTE), quote("Another one entirely", "b", 2))
    assert diff_states(page, page) == []


def test_reordering_quotes_is_not_a_change() -> None:
    one, two = quote(QUOTE, seat=1), quote("Something else said by seat two about A", seat=2)
    assert diff_states(state(one, two), state(two, one)) == []


def test_title_change() -> None:
    changes = diff_states(state(), state(title="A versus B"))
    assert changes == [Change("title_changed", field="title", old="A vs B", new="A versus B")]


@pytest.mark.parametrize(
    ("old", "new", "pct"),
    [(20.0, 25.0, 25.0), (20.0, 15.0, -25.0), (0.0, 10.0, None), (20.0, None, None), (30.0, 31.0, 3.3)],
)
def test_price_change_carries_usd_and_per_cent(old: float, new: float | None, pct: float | None) -> None:
    before = state(tools=(tool("a", entry_price=f"${old}", entry_price_usd=old), tool("b", 2)))
    after = state(tools=(tool("a", entry_price=f"${new}", entry_price_usd=new), tool("b", 2)))
    (change,) = diff_states(before, after)
    assert (change.kind, change.tool_id, change.old, change.new) == ("price_changed", "a", old, new)
    assert change.detail == {"old_price": f"${old}", "new_price": f"${new}", "pct": pct}
    assert price_move_pct(old, new) == pct


def test_a_reprinted_price_with_the_same_usd_is_no_change() -> None:
    before = state(tools=(tool("a", entry_price="$20/mo"), tool("b", 2)))
    after = state(tools=(tool("a", entry_price="$20 / month"), tool("b", 2)))
    assert diff_states(before, after) == []


def test_unpriced_plans_compare_by_their_printed_text() -> None:
    before = state(tools=(tool("a", entry_price="Contact us", entry_price_usd=None), tool("b", 2)))
    after = state(tools=(tool("a", entry_price="Contact sales", entry_price_usd=None), tool("b", 2)))
    assert kinds(diff_states(before, after)) == ["price_changed"]


def test_scores_tagline_and_description() -> None:
    before = state(tools=(tool("a"), tool("b", 2)))
    after = state(
        tools=(
            tool("a", panel_ship_pct=70, tagline="New tagline"),
            tool("b", 2, community_pct=None, description="Rewritten."),
        )
    )
    changes = diff_states(before, after)
    assert [(c.kind, c.tool_id, c.field, c.old, c.new) for c in changes] == [
        ("score_changed", "a", "panel_ship_pct", 80, 70),
        ("tagline_changed", "a", "tagline", "A tagline", "New tagline"),
        ("score_changed", "b", "community_pct", 60, None),
        ("description_changed", "b", "description", "A description.", "Rewritten."),
    ]
    assert changes[0].detail == {"points": -10}


def test_tools_are_matched_by_id_not_position() -> None:
    before = state(tools=(tool("a", 1), tool("b", 2)))
    after = state(tools=(tool("b", 1), tool("a", 2)))
    assert diff_states(before, after) == []


def test_added_and_removed_quotes() -> None:
    kept = quote(QUOTE)
    gone = quote("Completely unrelated words about pricing tiers and seats", "b", 2)
    came = quote("A fresh opinion on the plugin marketplace appeared", "b", 3)
    changes = diff_states(state(kept, gone), state(kept, came))
    assert [(c.kind, c.tool_id, c.old, c.new) for c in changes] == [
        ("verdict_added", "b", None, came.text),
        ("verdict_removed", "b", gone.text, None),
    ]


def test_a_quote_rewritten_by_a_few_words_is_one_edit_linking_both() -> None:
    old = quote(QUOTE, seat=2)
    new = quote(QUOTE.replace("finally works", "now works"), seat=2)
    (change,) = diff_states(state(old), state(new))
    assert (change.kind, change.old, change.new) == ("verdict_edited", old.text, new.text)
    assert change.detail is not None
    assert change.detail["removed_verdict_id"] == old.verdict_id
    assert change.detail["added_verdict_id"] == new.verdict_id
    assert change.detail["similarity"] >= EDIT_SIMILARITY


def test_an_edit_pairs_only_quotes_about_the_same_tool() -> None:
    old = quote(QUOTE, "a")
    new = quote(QUOTE.replace("finally", "really"), "b")
    assert kinds(diff_states(state(old), state(new))) == ["verdict_added", "verdict_removed"]


def test_each_removed_quote_pairs_with_its_closest_addition() -> None:
    first = quote("Setup took an afternoon and the docs answered every question we had", seat=1)
    second = quote("Billing is confusing and the invoices never match the usage page", seat=2)
    first_new = quote(first.text.replace("an afternoon", "a morning"), seat=1)
    second_new = quote(second.text.replace("confusing", "opaque"), seat=2)
    changes = diff_states(state(first, second), state(second_new, first_new))
    assert sorted((c.kind, c.old, c.new) for c in changes) == sorted(
        [("verdict_edited", first.text, first_new.text), ("verdict_edited", second.text, second_new.text)]
    )


def test_a_quote_that_moved_seat() -> None:
    before, after = quote(QUOTE, seat=1), quote(QUOTE, seat=3)
    (change,) = diff_states(state(before), state(after))
    assert (change.kind, change.field, change.old, change.new) == (
        "verdict_moved_seat",
        "reviewer_seat",
        1,
        3,
    )


def test_a_duplicated_quote_losing_one_copy_is_one_removal() -> None:
    twice = (quote(QUOTE, seat=1), quote(QUOTE, seat=2))
    assert kinds(diff_states(state(*twice), state(twice[0]))) == ["verdict_removed"]


def test_similarity_is_word_level_and_normalised() -> None:
    assert similarity("It’s  FAST", "it's fast") == 1.0
    assert similarity("alpha beta gamma delta", "epsilon zeta eta theta") == 0.0


def test_state_json_round_trip() -> None:
    page = state(quote(QUOTE), quote("x", "b", 2), tools=(tool("a", entry_price_usd=None), tool("b", 2)))
    assert PageState.from_json(page.to_json(), page.texts()) == page


def test_rows_have_content_ids_and_text_values() -> None:
    change = Change("price_changed", "a", "entry_price_usd", 20.0, 25.5, {"pct": 27.5})
    row = change.row(3, "2026-11-02T00:00:00+00:00", "c1")
    assert row[1:] == (3, "2026-11-02T00:00:00+00:00", "c1", "a", "price_changed", "entry_price_usd", "20",
                       "25.5", '{"pct": 27.5}')  # fmt: skip
    assert row[0] == change.row(9, "2026-11-02T00:00:00+00:00", "c1")[0]
    assert row[0] != change.row(3, "2026-11-03T00:00:00+00:00", "c1")[0]


def test_page_state_only_from_complete_parses() -> None:
    ids = {"Alpha": "ta", "Beta": "tb"}
    key = lambda tid, text: f"{tid}:{text}"  # noqa: E731
    assert page_state(comparison(status="incomplete"), ids, key) is None
    assert page_state(None, ids, key) is None
    parsed = page_state(comparison(), ids, key)
    assert parsed is not None
    assert [(t.tool_id, t.position, t.entry_price_usd) for t in parsed.tools] == [
        ("ta", 1, 20.0),
        ("tb", 2, 20.0),
    ]
    assert len(parsed.quotes) == 8 and {q.tool_id for q in parsed.quotes} == {"ta", "tb"}


def test_end_to_end_on_parses() -> None:
    """From two ParseResults: a price move and an edit, nothing else."""
    ids = {"Alpha": "ta", "Beta": "tb"}
    key = lambda tid, text: f"{tid}:{text}"  # noqa: E731
    before = comparison()
    after = with_quote(before, 0, before.quotes[0].text.replace("clean", "tidy"))
    after = replace(after, listings=[listing(1, "Alpha", price="$30/mo", usd=30.0), before.listings[1]])
    changes = diff_states(page_state(before, ids, key), page_state(after, ids, key))  # type: ignore[arg-type]
    assert kinds(changes) == ["price_changed", "verdict_edited"]
    assert all(c.kind in KINDS for c in changes)


def test_a_stored_state_keeps_texts_by_reference_and_diffs_the_same() -> None:
    old = state(
        quote(QUOTE),
        quote("Kept as it was, word for word, on both editions", "b", 2),
        tools=(tool("a", tagline="Old tagline"), tool("b", 2)),
    )
    new = state(
        quote(QUOTE.replace("finally", "now")),
        quote("Kept as it was, word for word, on both editions", "b", 2),
        tools=(tool("a", tagline="New tagline"), tool("b", 2)),
    )
    stored = old.to_json()
    assert QUOTE not in stored and "Old tagline" not in stored
    wanted = new.wanted(stored)
    assert wanted == {old.quotes[0].verdict_id, text_ref_of(old, "tagline")}
    texts = {ref: text for ref, text in old.texts().items() if ref in wanted}
    assert diff_states(PageState.from_json(stored, texts, new), new) == diff_states(old, new)


def text_ref_of(page: PageState, field: str) -> str:
    from db.changes import text_ref

    return text_ref(getattr(page.tools[0], field)) or ""
