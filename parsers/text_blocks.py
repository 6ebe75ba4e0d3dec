"""Turn HTML into the ordered list of text blocks a reader sees, whatever the markup.

Layout parsers never look at tags or classes: they read these blocks the way a person reads the
rendered page. Markup matters only for where one block ends and the next begins. Inline elements
(span, a, em, strong, code, b, i, ...) do not split, so ``A <span>vs</span> B`` stays one block
``"A vs B"``; every other element does (div, p, h1-h6, li, td, br, and unknown or custom elements,
which sites almost always style as blocks). Invisible content (head, script, style, noscript,
template, svg, math, object, textarea, audio and video fallback, closed dialogs, elements marked
``hidden`` or ``display:none``) is dropped. Entities are decoded by
lexbor, and ``<q>`` gets the quotation marks a browser would draw around it.

Whitespace follows CSS ``white-space: normal``, as a browser renders it (docs/text-fidelity.md,
checked against Chromium's ``innerText`` by tests/test_text_fidelity*.py): inside a block, all
text is one run, whatever inline elements, comments or invisible nodes sit between its pieces,
and each run of whitespace in it reads as one space; a block's ends are trimmed; each line of a
``<pre>`` is a block. So React's
``A<!-- --> <!-- -->vs<!-- --> <!-- -->B`` reads "A vs B" and ``<b>A</b> <!-- --><i>B</i>``
reads "A B". No-break spaces read as plain spaces, and zero-width characters and soft hyphens,
which render as nothing, are removed (both so that words match).

Speed matters (the crawler parses every fetched page), so lexbor does the splitting in C: inline
elements are unwrapped and invisible nodes and comments removed, after which each block's text is
one text node, and one ``text()`` call reads them all, separated. Python visits only elements, in
one C-level ``traverse`` with no recursion (a 10,000-deep page cannot overflow the stack), and
collapses whitespace over the whole page at once.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from parsers.nesting import cap_nesting

#: Elements that flow inside a line of text (CSS display: inline by default, or ``contents``).
_INLINE = "a abbr area b bdi bdo big cite code data del dfn em embed font i img input ins kbd label map"
_INLINE_MORE = "mark nobr picture q rb rt ruby s samp slot small source span strike strong sub sup time"
INLINE_TAGS: tuple[str, ...] = tuple(f"{_INLINE} {_INLINE_MORE} tt u var wbr".split())

#: Elements whose text content is never rendered (raw text); dropped during the walk.
RAW_TEXT_TAGS: tuple[str, ...] = (
    "script",
    "style",
    "title",
    "xmp",
    "noembed",
    "noframes",
    "iframe",
    "textarea",
)

#: Invisible containers skipped (with everything inside) during the walk: a media element's or a
#: gauge's fallback content shows only in browsers that lack the element; ``rp`` only in those
#: that lack ruby.
SKIPPED_TAGS: tuple[str, ...] = ("noscript", "svg", "math", "object", "template", "head", "audio", "video")
SKIPPED_TAGS += ("meter", "progress", "rp", "datalist")

#: Hidden elements only a CSS selector finds. Each runs only when the source contains one of its
#: needles: a tree-wide search costs more than the walk.
HIDDEN_SELECTORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("[hidden]", (" hidden",)),
    ('[style*="display:none"],[style*="display: none"]', ("display:",)),
    ("dialog:not([open])", ("<dialog",)),
)


def _tag_ids() -> tuple[frozenset[int], frozenset[int], frozenset[int], frozenset[int], int, int]:
    """Lexbor's numeric ids: inline, never-splitting, raw-text and skipped tags; text; ``<q>``.

    Comparing ints is much cheaper than comparing tag names on every node of every page.
    """
    inline_html = "".join(f"<{tag}>x</{tag}><!--c-->" for tag in INLINE_TAGS)
    raw_html = "".join(f"<{tag}>x</{tag}>" for tag in RAW_TEXT_TAGS)
    skipped_html = "".join(f"<{tag}></{tag}>" for tag in SKIPPED_TAGS)
    sample = LexborHTMLParser(f"<!doctype html><p>{inline_html}{raw_html}</p>{skipped_html}")
    inline: set[int] = set()
    neutral: set[int] = set()
    raw: set[int] = set()
    skipped: set[int] = set()
    text_id = q_id = -1
    for node in sample.root.traverse(include_text=True):
        if node.tag == "q":
            q_id = node.tag_id
        if node.tag in INLINE_TAGS:
            inline.add(node.tag_id)
        elif node.tag in RAW_TEXT_TAGS:
            raw.add(node.tag_id)
        elif node.tag in SKIPPED_TAGS:
            skipped.add(node.tag_id)
        elif node.tag == "-text":
            text_id = node.tag_id
        elif node.is_comment_node:
            neutral.add(node.tag_id)
    never_split = inline | neutral | raw | skipped
    return frozenset(inline), frozenset(never_split), frozenset(raw), frozenset(skipped), text_id, q_id


INLINE_IDS, NON_SPLITTING_IDS, RAW_TEXT_IDS, SKIPPED_IDS, TEXT_ID, Q_ID = _tag_ids()
#: ``<wbr>`` decides whether a line break after it reads; in ``<pre>`` every line break is kept.
WBR_ID: int = LexborHTMLParser("<p><wbr></p>").css_first("wbr").tag_id  # type: ignore[union-attr]
PRE_ID: int = LexborHTMLParser("<pre></pre>").css_first("pre").tag_id  # type: ignore[union-attr]
#: Nodes that neither split blocks nor show text: comments, raw-text and skipped elements.
DROPPED_IDS = NON_SPLITTING_IDS - INLINE_IDS


#: Characters that render as nothing but would break word matching ("Panel\u200bship"). The last,
#: a noncharacter no page has in its text, stands for ``<wbr>`` until whitespace is collapsed.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\xad\ufdd0"
_WBR = "\ufdd0"
_DROP_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE))


#: The tree of the page read last, kept (never read) until the next page's tree is built. Freeing a
#: document as soon as it is read hands its memory back to the operating system, and the next page
#: faults it back in: some 20-60 us of kernel time per page on Linux, a tenth of the whole parse.
#: Freed while the next tree exists, the memory is reused instead. Big pages are not kept.
_LAST_TREE: list[LexborHTMLParser | None] = [None]
_KEEP_MAX = 1 << 20


def _source(html: str | bytes) -> tuple[str, str | bytes]:
    """Text of the page, and what to hand lexbor (the bytes themselves when they are UTF-8).

    Callers that know the HTTP charset decode first (``crawler.encoding``); bare bytes are read
    as UTF-8, else as Windows-1252, the way browsers fall back. Valid UTF-8 goes to lexbor as
    is: the same bytes it would get by encoding the decoded text again, without that copy.
    """
    if isinstance(html, str):
        return html, html
    # (what the "utf-8-sig" codec does, without its Python-level wrapper: drop one byte order mark)
    markup = html[3:] if html[:3] == b"\xef\xbb\xbf" else html
    try:
        return markup.decode("utf-8"), markup
    except UnicodeDecodeError:
        pass
    text = html.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for char in text if char > "\x7f") - bad
    # Mostly valid UTF-8 with a few stray bytes stays UTF-8; otherwise it is a legacy code page.
    text = text if good >= bad else html.decode("cp1252", errors="replace")
    return text, text


def _present(source: str, needles: tuple[str, ...]) -> bool:
    return any(_contains(source, needle) for needle in needles)


def _contains(source: str, needle: str) -> bool:
    """``needle in source``, faster for a needle led by a space (" hidden").

    Indented markup has spaces everywhere, which makes such a needle slow to scan for; the rest of
    it is rarer, so find that and check the character before each hit.
    """
    if needle[:1] != " ":
        return needle in source
    rest = needle[1:]
    at = source.find(rest, 1)
    while at > 0:
        if source[at - 1] == " ":
            return True
        at = source.find(rest, at + 1)
    return False


def _remove_hidden(tree: LexborHTMLParser, source: str) -> None:
    selector = ",".join(css for css, needles in HIDDEN_SELECTORS if _present(source, needles))
    if not selector:
        return
    for node in tree.css(selector):
        # Only unlinks the subtree: cheap, and safe when matches are nested.
        node.decompose(recursive=False)


def _mark(marked: list[LexborNode]) -> None:
    """Write what ``<q>``, ``<wbr>`` and ``<pre>`` show into the text.

    Browsers draw quotation marks around ``<q>`` (the text itself has none); a line break right
    after a ``<wbr>`` does not read (see ``_collapse``); each line of a ``<pre>`` is a line of its
    own, so its line breaks become block separators.
    """
    for node in marked:
        tag_id = node.tag_id
        if tag_id == Q_ID:
            node.insert_before("\u201c")
            node.insert_after("\u201d")
        elif tag_id == WBR_ID:
            node.insert_before(_WBR)
        else:
            texts = [text for text in node.traverse(include_text=True) if text.tag_id == TEXT_ID]
            for text in texts:
                content = text.text_content or ""
                if "\n" in content:
                    text.insert_before(_PRE_BREAK.sub(_SEPARATOR, content))
                    text.decompose()


def text_blocks(html: str | bytes) -> list[str]:
    """Return the visible text of ``html`` as ordered, whitespace-collapsed, non-empty blocks."""
    source, markup = _source(html)
    if not source or source.isspace():  # (``strip()`` would copy the whole page)
        return []
    tree = LexborHTMLParser(cap_nesting(markup))
    _LAST_TREE[0] = tree if len(markup) <= _KEEP_MAX else None
    # Lexbor moves all content into <body>; starting there skips <head> without visiting it.
    root = tree.body or tree.root
    if root is None:
        return []
    _remove_hidden(tree, source)
    return _split_blocks(_block_text(tree, root))


#: Separates blocks in the text lexbor hands back. HTML parsing never leaves U+0000 in text (it
#: drops it or turns it into U+FFFD), so it cannot come from the page.
_SEPARATOR = "\x00"
#: Bytes that need no care when collapsing: printable ASCII, the newline and the separator.
_PLAIN_ASCII = bytes(range(0x20, 0x7F)) + b"\n\x00"


def _split_blocks(text: str) -> list[str]:
    """``text`` cut at each separator, whitespace collapsed to single spaces, empty blocks dropped.

    Lexbor has already stripped each block's ends (``text(strip=True)``), which is where indented
    markup puts most of its line breaks. What is left is checked with a few C calls over the whole
    page: usually there is nothing but printable text, spaces and line breaks inside wrapped prose,
    collapsed on the UTF-8 bytes (where splitting every block into words costs a Python object
    per word), or nothing to collapse at all. Anything else (tabs, no-break spaces, zero-width
    characters) takes the general way, block by block, which gives the same result when there is
    nothing else.
    """
    data = text.encode("utf-8", "surrogatepass")
    # Every other whitespace or invisible character is outside printable ASCII, and unprintable.
    unusual = data.translate(None, _PLAIN_ASCII)
    if unusual and not unusual.decode("utf-8", "surrogatepass").isprintable():
        return [block for block in map(_collapse, text.split(_SEPARATOR)) if block]
    # A ``<pre>`` line split by a comment or an element keeps a space beside its separator
    # (``<pre>A <!-- -->\n</pre>``): the space and the line break were never in one text node.
    loose = b" \x00" in data or b"\x00 " in data
    if b"\n" not in data and b"  " not in data and not loose:
        return [part for part in text.split(_SEPARATOR) if part]
    # Line breaks inside blocks (prose wrapped in the source) and the indentation after them.
    data = b" ".join([line.strip(b" ") for line in data.split(b"\n")])
    while b"  " in data:
        data = data.replace(b"  ", b" ")
    if loose:
        # (one space at most is left beside a separator; a block of one space becomes empty)
        data = data.replace(b" \x00", b"\x00").replace(b"\x00 ", b"\x00")
    return [part for part in data.decode().split(_SEPARATOR) if part]


def _collapse(part: str) -> str:
    """``part`` with invisible characters dropped and whitespace collapsed to single spaces.

    A line break next to a zero-width space is removed rather than read as a space, as CSS says
    (the spaces and tabs around it first), and so is one right after a ``<wbr>``, as Chromium
    does: ``A<wbr>\nB`` reads "AB", ``A\n<wbr>B`` reads "A B".
    """
    if part.isprintable() and "  " not in part and part[:1] != " " and part[-1:] != " ":
        return part
    if "\n" in part and ("\u200b" in part or _WBR in part):
        part = _ZERO_WIDTH_BREAK.sub("", _SEGMENT_BREAK.sub("\n", part))
    if any(char in part for char in _INVISIBLE):
        part = part.translate(_DROP_INVISIBLE)
    return " ".join(part.split())


#: A line break in ``<pre>`` and the spaces and tabs around it.
_PRE_BREAK = re.compile(r"[ \t]*\n[ \t]*")
#: A line break and the spaces and tabs around it (consecutive breaks count as one).
_SEGMENT_BREAK = re.compile(r"[ \t]*\n[ \t\n]*")
#: A line break after a zero-width space or ``<wbr>``, or before a zero-width space.
_ZERO_WIDTH_BREAK = re.compile("(?<=[\u200b\ufdd0])\n|\n(?=\u200b)")


def _block_text(tree: LexborHTMLParser, root: LexborNode) -> str:
    """The text under ``root``, one run per block, runs separated by ``_SEPARATOR``.

    Lexbor does the work in C: inline elements are unwrapped, invisible nodes and comments
    removed, so that each block's text becomes one text node, which ``text()`` then reads in one
    call. Python only visits elements (not the many text nodes), once.
    """
    inline, dropped, marked = _sort_nodes(root)
    if marked:
        _mark(marked)
    # (whitespace on either side of a removed node stays: merged, it collapses to one space)
    for node in dropped:
        node.decompose(recursive=False)  # unlinks it: cheap, and its subtree goes with it
    for node in inline:
        node.unwrap(delete_empty=True)
    if root.parent is None:
        # The page hides its whole <body> (a script shows it later), which is read all the same;
        # lexbor merges text only in a node that has a parent, so give it one.
        tree.create_node("div").insert_child(root, move=True)
    root.merge_text_nodes()
    # (``strip`` strips each block in C: what collapsing would do to its ends anyway)
    return root.text(separator=_SEPARATOR, strip=True, skip_empty=True)


def _sort_nodes(root: LexborNode) -> tuple[list[LexborNode], list[LexborNode], list[LexborNode]]:
    """Inline elements, the nodes that render nothing, and the ``<q>``, ``<wbr>`` and ``<pre>``
    elements under ``root``. One C-level walk over elements and comments; text nodes are not visited.

    Whatever sits inside a skipped element (``<svg>``, ``<noscript>``...) goes with it, so it
    needs no care (a ``<q>`` in there only gets quotation marks no one reads).
    """
    inline: list[LexborNode] = []
    dropped: list[LexborNode] = []
    marked: list[LexborNode] = []
    inline_ids = INLINE_IDS
    dropped_ids = DROPPED_IDS
    marked_ids = (Q_ID, WBR_ID)
    pre_id = PRE_ID
    for node in root.traverse():
        tag_id = node.tag_id
        if tag_id in inline_ids:
            inline.append(node)
            if tag_id in marked_ids:
                marked.append(node)
        elif tag_id in dropped_ids:
            dropped.append(node)
        elif tag_id == pre_id:
            marked.append(node)
    return inline, dropped, marked
