"""The writer's quote-id cache (db.ingest.verdict_keys) gives the ids db.identity defines.

The cache normalises a quote once for both ids and keys entries by a digest of the raw
text; these tests pin that it still yields exactly `identity.verdict_id` and
`identity.text_key`, on hits, misses and after eviction.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from db.identity import text_key, tool_id, verdict_id
from db.ingest import _VerdictKeys, verdict_keys

TEXTS = [
    "The primitive here is clean: one API, one bill.",
    "  The primitive  here\tis clean:\none API, one bill.  ",
    "\u201cCurly\u201d quotes and it\u2019s apostrophes \u00bbfolded\u00ab",
    "Ｆｕｌｌｗｉｄｔｈ text, NFKC\u00a0folds it",
    "",
]


def test_ids_match_identity_on_miss_and_hit() -> None:
    tool = tool_id("Cellwise")
    verdict_keys.cache_clear()
    for text in TEXTS:
        expected = (verdict_id(tool, text), text_key(text))
        assert verdict_keys(tool, text) == expected  # miss
        assert verdict_keys(tool, text) == expected  # hit


def test_same_text_under_two_tools_gets_two_verdict_ids() -> None:
    text = TEXTS[0]
    one, two = tool_id("Cellwise"), tool_id("Kiln Agents")
    assert verdict_keys(one, text)[0] != verdict_keys(two, text)[0]
    assert verdict_keys(one, text)[1] == verdict_keys(two, text)[1]


def test_eviction_bounds_the_cache_and_keeps_ids_right() -> None:
    keys = _VerdictKeys(maxsize=3)
    tool = tool_id("Cellwise")
    texts = [f"quote number {n}" for n in range(10)]
    for text in texts * 2:
        assert keys(tool, text) == (verdict_id(tool, text), text_key(text))
        assert len(keys.cache) <= 3


@given(st.text(max_size=80), st.text(min_size=1, max_size=20))
def test_any_text_matches_identity(text: str, name: str) -> None:
    tool = tool_id(name)
    assert verdict_keys(tool, text) == (verdict_id(tool, text), text_key(text))
