"""The parser's text blocks equal what Chromium renders, on cases recorded from it (no browser).

Each case in tests/data/text_fidelity_cases.json is a piece of markup and the ``innerText``
Chromium gave for it (JavaScript disabled, the page-side kept differences applied; see
tests/fidelity.py). tests/test_text_fidelity_browser.py checks that the recording still matches
a live Chromium, so these cases cannot drift from the browser.
"""

from __future__ import annotations

import pytest

from parsers.text_blocks import text_blocks
from tests.fidelity import KEPT_DIFFERENCES, ROOT, browser_blocks, document, load_cases

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[case["why"] for case in CASES])
def test_parser_reads_what_chromium_renders(case: dict[str, str]) -> None:
    assert text_blocks(document(case["html"])) == browser_blocks(case["inner_text"])


def test_the_cases_are_recorded_and_distinct() -> None:
    assert len({case["html"] for case in CASES}) == len(CASES)
    # (only markup that shows nothing may have an empty recording)
    assert sum(bool(case["inner_text"]) for case in CASES) == len(CASES)


@pytest.mark.parametrize(
    ("inner_text", "blocks"),
    [
        ("a\tb\nc", ["a", "b", "c"]),  # table cells
        ("A\xa0 B\n\n\xa0C\xa0", ["A B", "C"]),  # no-break spaces
        ("A  B", ["A B"]),  # two collapsible spaces on both sides of an image
        ("zero\u200bwidth soft\xadhy", ["zerowidth softhy"]),  # invisible characters
        ("\n\nA\n \nB\n", ["A", "B"]),  # blank lines (paragraph margins) are no blocks
    ],
)
def test_browser_text_becomes_blocks_by_the_kept_differences(inner_text: str, blocks: list[str]) -> None:
    assert browser_blocks(inner_text) == blocks


def test_every_kept_difference_is_documented_with_its_reason() -> None:
    doc = (ROOT / "docs" / "text-fidelity.md").read_text(encoding="utf-8")
    for name, reason in KEPT_DIFFERENCES.items():
        assert f"| {name} |" in doc, f"docs/text-fidelity.md does not list the kept difference {name!r}"
        assert len(reason.split()) >= 10
