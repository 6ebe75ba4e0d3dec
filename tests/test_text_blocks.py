"""``text_blocks`` gives what a plain node-by-node walk gives, on every page and on random HTML.

``parsers.text_blocks`` lets lexbor split blocks in C (unwrap inline elements, merge text nodes)
where it used to walk every node in Python. The walk is kept here as the reference the fast code
is compared with: each block is the text of its nodes joined as they are, whitespace collapsed
(CSS ``white-space: normal``; that this is what a browser shows is checked against Chromium in
tests/test_text_fidelity*.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser, LexborNode

from parsers.text_blocks import (
    HIDDEN_SELECTORS,
    INLINE_IDS,
    NON_SPLITTING_IDS,
    Q_ID,
    RAW_TEXT_IDS,
    SKIPPED_IDS,
    TEXT_ID,
    text_blocks,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
PAGES = sorted(FIXTURES.rglob("*.html"))

# --- the reference: a plain Python walk over every node ------------------------------------------

_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\xad"
_DROP_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE))


def _reference_source(html: str | bytes) -> str:
    if isinstance(html, str):
        return html
    try:
        return html.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = html.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for char in text if char > "\x7f") - bad
    return text if good >= bad else html.decode("cp1252", errors="replace")


def _after_subtree(node: LexborNode) -> LexborNode | None:
    current: LexborNode | None = node
    while current is not None:
        following = current.next
        if following is not None:
            if following.is_empty_text_node:
                current = following
                continue
            return following
        current = current.parent
    return None


def _walk(root: LexborNode, stop_at_q: bool) -> list[str] | None:
    raw: list[str] = []
    current: list[str] = []
    owner_of_current = -1
    q_id = Q_ID if stop_at_q else -2
    resume_at = -1
    for node in root.traverse(include_text=True):
        if resume_at != -1:
            if node.mem_id != resume_at:
                continue
            resume_at = -1
        tag_id = node.tag_id
        if tag_id == TEXT_ID:
            parent = node.parent
            while parent is not None and parent.tag_id in INLINE_IDS:
                parent = parent.parent
            if parent is None:
                owner = 0
            elif parent.tag_id in RAW_TEXT_IDS:
                continue
            else:
                owner = parent.mem_id
            if owner != owner_of_current:
                if current:
                    raw.append("".join(current))
                    current = []
                owner_of_current = owner
            current.append(node.text_content or "")
        elif tag_id in SKIPPED_IDS:
            following = _after_subtree(node)
            if following is None:
                break
            resume_at = following.mem_id
        elif tag_id not in NON_SPLITTING_IDS:
            owner_of_current = -1
        elif tag_id == q_id:
            return None
    if current:
        raw.append("".join(current))
    return raw


def reference_text_blocks(html: str | bytes) -> list[str]:
    source = _reference_source(html)
    if not source or source.isspace():
        return []
    tree = LexborHTMLParser(source)
    root = tree.body or tree.root
    if root is None:
        return []
    selector = ",".join(css for css, needles in HIDDEN_SELECTORS if any(n in source for n in needles))
    if selector:
        for node in tree.css(selector):
            node.decompose(recursive=False)
    for node in root.css("wbr"):  # marked: a line break right after it does not read
        node.insert_before("\ufdd0")
    for pre in root.css("pre"):  # each line is a block: its line breaks marked, cut after the walk
        for text in [t for t in pre.traverse(include_text=True) if t.tag == "-text"]:
            text.insert_before(re.sub(r"[ \t]*\n[ \t]*", "\x00", text.text_content or ""))
            text.decompose()
    raw = _walk(root, stop_at_q=True)
    if raw is None:
        for node in root.css("q"):
            node.insert_before("\u201c")
            node.insert_after("\u201d")
        raw = _walk(root, stop_at_q=False)
        assert raw is not None
    raw = [line for part in raw for line in part.split("\x00")]
    # CSS: a line break beside a zero-width space is removed (Chromium: also one after a <wbr>)
    raw = [
        re.sub("(?<=[\u200b\ufdd0])\n|\n(?=\u200b)", "", re.sub(r"[ \t]*\n[ \t\n]*", "\n", p)) for p in raw
    ]
    if any(char in "".join(raw) for char in _INVISIBLE + "\ufdd0"):
        raw = [part.translate(_DROP_INVISIBLE).replace("\ufdd0", "") for part in raw]
    return [block for block in (" ".join(part.split()) for part in raw) if block]


def same_as_reference(html: str | bytes) -> None:
    def run(implementation):  # type: ignore[no-untyped-def]
        try:
            return implementation(html)
        except Exception as error:  # both must fail alike (e.g. ``<html hidden>``)
            return type(error).__name__

    assert run(text_blocks) == run(reference_text_blocks)


# --- every page we have, and rewrites of them ----------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_pages_read_as_before(page: Path) -> None:
    data = page.read_bytes()
    text = data.decode("utf-8")
    for html in (data, b"\xef\xbb\xbf" + data, text, re.sub(r">\s+<", "><", text)):
        same_as_reference(html)
    # (template fragments show no text of their own, nor do the client-rendered example's
    # shells until a browser runs their scripts: fixtures/build_rendered.py)
    if "templates" not in page.parts and "rendered" not in page.parts:
        assert text_blocks(data)  # the comparison is not vacuous


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p><b>A</b> <i>B</i></p>", ["A B"]),
        # Whitespace collapses across inline boundaries, comments and empty elements, as in CSS.
        ("<p><b>A</b> <!-- c --><i>B</i></p>", ["A B"]),
        ("<h1>A<!-- --> <!-- -->vs<!-- --> <!-- -->B</h1>", ["A vs B"]),
        ("<p><b>A</b> <img><i>B</i></p>", ["A B"]),
        ("<p><b>A</b> <span></span>B</p>", ["A B"]),
        ("<p><b><i>A</i> </b>B</p>", ["A B"]),
        ("<p><b>A</b><i>B</i></p>", ["AB"]),
        ("<p><b>A</b> <i><u>B</u></i></p>", ["A B"]),
        ("<p><b>A</b> <i> <u>B</u></i></p>", ["A B"]),
        ("<p><b>A</b> <i><svg></svg>B</i></p>", ["A B"]),
        ("<p>A <script>x</script>B</p>", ["A B"]),
        ("<p>A<br>B</p><p>C<!-- x -->D</p>", ["A", "B", "CD"]),
        ("<p>x <q>y</q> z</p>", ["x “y” z"]),
        ("<body hidden><p>A <q>B</q></p></body>", ["A “B”"]),
        ("<p>tab\there&nbsp;nbsp</p><p>zero\u200bwidth</p>", ["tab here nbsp", "zerowidth"]),
        ("<p>long<wbr>\n  word, zero\u200b\nwidth</p><p>A<wbr> B</p>", ["longword, zerowidth", "A B"]),
        ("<p>A\n<wbr>B</p>", ["A B"]),
        ("<pre>a  b\n  c\n\nd <b>e\nf</b></pre>", ["a b", "c", "d e", "f"]),
        # a space and the line break it ends split by a comment or an element still end the line
        ("A<pre>A <!-- -->\n</pre>", ["A", "A"]),
        ("<pre>x <i>\n</i>y\n<!-- --> z\n<b> </b>\nw</pre>", ["x", "y", "z", "w"]),
    ],
)
def test_spacing_rules(html: str, expected: list[str]) -> None:
    assert text_blocks(html) == expected
    assert reference_text_blocks(html) == expected


# --- random HTML -----------------------------------------------------------------------------------

INLINE = ["span", "b", "i", "a", "em", "q", "small", "sup", "label", "img", "wbr", "code"]
BLOCKS = [
    "p",
    "div",
    "br",
    "li",
    "td",
    "svg",
    "script",
    "noscript",
    "template",
    "title",
    "body",
    "x-y",
    "pre",
]
TEXTS = ["A", "B", "x y", " ", "  ", "\n", "\t", "\xa0", "\u200b", "\r\n", "\x0c", "\x0b", "“", "—"]
BITS = ["<!--c-->", "<!---->", "&nbsp;", "&#9;", "&ldquo;", "<img>", "<br>", "<span></span>", "<b> </b>"]
ATTRIBUTES = ["", "", " hidden", ' style="display:none"', ' class="a"']


@st.composite
def markup(draw: st.DrawFn, depth: int = 0) -> str:
    """HTML heavy in what decides blocks and spaces: inline nesting, blanks, comments, hiding."""
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 5))):
        choice = draw(st.integers(0, 6 if depth < 4 else 1))
        if choice == 0:
            parts.append(draw(st.sampled_from(TEXTS)))
        elif choice == 1:
            parts.append(draw(st.sampled_from(BITS)))
        else:
            tag = draw(st.sampled_from(INLINE if choice <= 4 else BLOCKS))
            attributes = draw(st.sampled_from(ATTRIBUTES))
            inner = draw(markup(depth + 1))
            closing = draw(st.sampled_from([f"</{tag}>", ""]))
            parts.append(f"<{tag}{attributes}>{inner}{closing}")
    return "".join(parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markup())
def test_random_markup_reads_as_before(html: str) -> None:
    same_as_reference(html)
    same_as_reference(html.encode("utf-8"))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_read_as_before(data: bytes) -> None:
    same_as_reference(data)
