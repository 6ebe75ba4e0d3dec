"""Near duplicates: edited quotes point at the original; stock openings alone do not."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from db.archive import open_archive
from db.identity import tool_id, verdict_id
from db.near_duplicates import mark_near_duplicates, similarity, words
from db.store import ArchiveWriter
from parsers.model import ParseResult, Quote
from tests.archive_factory import at, comparison, fetched, listing
from tests.conftest import FIXTURES

SEEDS = sorted((FIXTURES / "data" / "seeds").glob("*.txt"))  # committed: never skipped


def seed_page(path: Path) -> tuple[str, str, list[Quote]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    left, right = lines[4], lines[14]
    texts = [line.strip("\u201c\u201d") for line in lines if line.startswith("\u201c")]
    quotes = [Quote(1 + i % 2, 1 + i // 2, text) for i, text in enumerate(texts)]
    return left, right, quotes


@pytest.fixture
def db(archive_path: Path) -> Database:
    return open_archive(archive_path)


def page(left: str, right: str, quotes: list[Quote]) -> ParseResult:
    return comparison(left, right, listings=[listing(1, left), listing(2, right)], quotes=quotes)


def store_pages(db: Database, pages: list[tuple[str, ParseResult]], day: int) -> None:
    ArchiveWriter(db, None).store(
        [(fetched(f"https://example.test/{slug}", slug, at(day)), parse) for slug, parse in pages]
    )


def edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_the_seed_texts_are_committed() -> None:
    assert len(SEEDS) >= 3


def test_edits_are_near_duplicates_and_stock_openings_are_not(db: Database) -> None:
    pages = [seed_page(path) for path in SEEDS]
    store_pages(db, [(f"seed{i}", page(*p)) for i, p in enumerate(pages)], day=1)
    left, right, quotes = pages[0]
    original_number = quotes[0].text
    original_words = quotes[2].text
    # Seed 000's first two quotes both open "The primitive here is clean:" (a stock opening).
    assert original_number.startswith("The primitive here is clean:")
    assert quotes[1].text.startswith("The primitive here is clean:")
    corrected = edit(original_number, "under 2GB", "under 3GB")
    reworded = edit(
        edit(original_words, "Direct competitor is", "The closest rival is"),
        "Ships now",
        "It ships today",
    )
    stock = "The primitive here is clean: a hosted queue with retries, nothing else worth a word."
    edited = [
        Quote(1, 1, corrected),
        Quote(1, 2, reworded),
        Quote(1, 3, stock),
        *quotes[3:],
    ]
    store_pages(db, [("seed0-edited", page(left, right, edited))], day=2)
    stats = mark_near_duplicates(db)
    assert stats.checked == len(db.execute("SELECT id FROM verdicts").fetchall())
    marked = dict(
        db.execute("SELECT id, near_duplicate_of FROM verdicts WHERE near_duplicate_of IS NOT NULL")
    )
    tid = tool_id(left)
    assert marked == {
        verdict_id(tid, corrected): verdict_id(tid, original_number),
        verdict_id(tid, reworded): verdict_id(tid, original_words),
    }
    assert stats.marked == 2


def test_the_pass_is_incremental_and_the_earlier_verdict_is_the_original(db: Database) -> None:
    text = " ".join(f"word{i}" for i in range(40))
    later_edit = text.replace("word20", "changed")
    store_pages(db, [("a", page("Alpha", "Beta", [Quote(1, 1, later_edit)]))], day=5)
    assert mark_near_duplicates(db).checked == 1
    # The unedited text turns up later in the crawl but was first published earlier.
    store_pages(db, [("b", page("Alpha", "Beta", [Quote(1, 1, text), Quote(2, 1, text)]))], day=3)
    stats = mark_near_duplicates(db)
    assert stats.checked == 2  # only the new ones (Alpha's and Beta's copies of the text)
    pointers = dict(db.execute("SELECT id, near_duplicate_of FROM verdicts"))
    alpha = tool_id("Alpha")
    assert pointers[verdict_id(alpha, later_edit)] == verdict_id(alpha, text)
    assert pointers[verdict_id(alpha, text)] is None
    # Beta's copy has the same text as Alpha's: an attribution conflict, not a near duplicate.
    assert pointers[verdict_id(tool_id("Beta"), text)] is None
    assert mark_near_duplicates(db).checked == 0
    # Every checked verdict is in the persisted band index; deleting a verdict drops its entry.
    assert db.execute("SELECT count(*) FROM verdict_signatures").fetchone()[0] == 3
    with db.atomic():
        db.execute("UPDATE verdicts SET near_duplicate_of = NULL")
        db.execute("DELETE FROM verdict_appearances")
        db.execute("DELETE FROM verdicts WHERE id = ?", [verdict_id(alpha, later_edit)])
    assert db.execute("SELECT count(*) FROM verdict_signatures").fetchone()[0] == 2


def test_similarity_measure_separates_edits_from_shared_openings() -> None:
    base = words("The moat question is harder: Mistral's position isn't the weights at all.")
    assert (
        similarity(base, words("The moat question is harder: Mistral's position isn't the model at all."))
        >= 0.8
    )
    assert similarity(base, words("The moat question is harder: nobody pays for a CLI, ever.")) < 0.8
