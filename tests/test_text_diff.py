"""db/text_diff.py: the word-level diff of visible text (pure)."""

from __future__ import annotations

from db.text_diff import NEWLINE, Piece, changed, plain, word_diff, words


def test_words_keep_block_breaks() -> None:
    assert words(["Alpha vs Beta", "Panel  ship"]) == ["Alpha", "vs", "Beta", NEWLINE, "Panel", "ship"]


def test_a_rewritten_word_is_removed_then_added() -> None:
    pieces = word_diff(["the list is mostly right"], ["the list is right nearly always"], context=None)
    assert pieces == [
        Piece("same", "the list is"),
        Piece("removed", "mostly"),
        Piece("same", "right"),
        Piece("added", "nearly always"),
    ]
    assert plain(pieces) == "the list is [-mostly-] right {+nearly always+}"


def test_identical_text_has_no_change() -> None:
    assert not changed(word_diff(["same words here"], ["same words here"]))


def test_long_unchanged_runs_are_cut_to_the_context() -> None:
    filler = " ".join(f"w{i}" for i in range(100))
    pieces = word_diff([f"{filler} old tail"], [f"{filler} new tail"], context=3)
    assert pieces[0] == Piece("gap", "…")
    assert pieces[1] == Piece("same", "w97 w98 w99")
    assert [p.op for p in pieces[2:]] == ["removed", "added", "same"]


def test_markup_like_text_is_kept_as_text() -> None:
    pieces = word_diff(["<b>bold</b> claim"], ["<script>x</script> claim"], context=None)
    assert Piece("added", "<script>x</script>") in pieces
