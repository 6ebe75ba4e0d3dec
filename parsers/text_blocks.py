"""Turn HTML into the ordered list of text blocks a reader sees, whatever the markup.

Layout parsers never look at tags or classes: they read these blocks the way a person reads the
rendered page. Markup matters only for where one block ends and the next begins. Inline elements
(span, a, em, strong, code, b, i, ...) do not split, so ``A <span>vs</span> B`` stays one block
``"A vs B"``; every other element does (div, p, h1-h6, li, td, br, and unknown or custom elements,
which sites almost always style as blocks). Invisible content (head, script, style, noscript,
template, svg, elements marked ``hidden`` or ``display:none``) is dropped. Entities are decoded by
lexbor, whitespace is collapsed to single spaces, and ``<q>`` gets the quotation marks a browser
would draw around it.

Speed matters (the crawler parses every fetched page): one C-level depth-first ``traverse`` of
lexbor's tree that skips whitespace-only text nodes, no recursion (a 10,000-deep page cannot
overflow the stack). A text node's block is its nearest non-inline ancestor; a new block starts
whenever that owner changes or a non-inline element (such as ``<br>``) comes between two text
nodes. Zero-width characters and soft hyphens, which render as nothing, are removed.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

#: Elements that flow inside a line of text (CSS display: inline by default).
_INLINE = "a abbr b bdi bdo big cite code data del dfn em font i img ins kbd label mark nobr q rb rp rt"
_INLINE_MORE = "ruby s samp small span strike strong sub sup time tt u var wbr"
INLINE_TAGS: tuple[str, ...] = tuple(f"{_INLINE} {_INLINE_MORE}".split())

#: Elements whose text content is never rendered (raw text); dropped during the walk.
RAW_TEXT_TAGS: tuple[str, ...] = ("script", "style", "title", "xmp", "noembed", "noframes", "iframe")

#: Invisible containers skipped (with everything inside) during the walk.
SKIPPED_TAGS: tuple[str, ...] = ("noscript", "svg", "math", "object", "template", "head")

#: Hidden elements only a CSS selector finds. Each runs only when the source contains one of its
#: needles: a tree-wide search costs more than the walk.
HIDDEN_SELECTORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("[hidden]", (" hidden",)),
    ('[style*="display:none"],[style*="display: none"]', ("display:",)),
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


#: Characters that render as nothing but would break word matching ("Panel\u200bship").
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\xad"
_DROP_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE))


def _source(html: str | bytes) -> str:
    """Text of the page. Callers that know the HTTP charset decode first (``crawler.encoding``);
    bare bytes are read as UTF-8, else as Windows-1252, the way browsers fall back."""
    if isinstance(html, str):
        return html
    try:
        return html.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = html.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for char in text if char > "\x7f") - bad
    # Mostly valid UTF-8 with a few stray bytes stays UTF-8; otherwise it is a legacy code page.
    return text if good >= bad else html.decode("cp1252", errors="replace")


def _present(source: str, needles: tuple[str, ...]) -> bool:
    return any(needle in source for needle in needles)


def _remove_hidden(tree: LexborHTMLParser, source: str) -> None:
    selector = ",".join(css for css, needles in HIDDEN_SELECTORS if _present(source, needles))
    if not selector:
        return
    for node in tree.css(selector):
        # Only unlinks the subtree: cheap, and safe when matches are nested.
        node.decompose(recursive=False)


def _draw_quotation_marks(tree: LexborHTMLParser) -> None:
    """Browsers draw quotation marks around ``<q>``; the text itself has none."""
    for node in tree.css("q"):
        node.insert_before("\u201c")
        node.insert_after("\u201d")


def _after_subtree(node: LexborNode) -> LexborNode | None:
    """The node the walk yields right after ``node``'s subtree (whitespace-only text is skipped)."""
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


def _space_before(node: LexborNode, inline_ids: frozenset[int]) -> bool:
    """Did a whitespace-only text node (skipped by the walk) sit right before ``node``'s text?

    ``<b>A</b> <i>B</i>`` reads "A B" while ``<b>A</b><i>B</i>`` reads "AB"; the walk skips the
    (many) whitespace-only nodes for speed, so a continuing text node asks here instead.
    """
    current: LexborNode | None = node
    while current is not None:
        previous = current.prev
        if previous is not None:
            return previous.is_empty_text_node
        current = current.parent
        if current is None or current.tag_id not in inline_ids:
            return False
    return False


def text_blocks(html: str | bytes) -> list[str]:
    """Return the visible text of ``html`` as ordered, whitespace-collapsed, non-empty blocks."""
    source = _source(html)
    if not source or source.isspace():  # (``strip()`` would copy the whole page)
        return []
    tree = LexborHTMLParser(source)
    # Lexbor moves all content into <body>; starting there skips <head> without visiting it.
    root = tree.body or tree.root
    if root is None:
        return []
    _remove_hidden(tree, source)
    raw = _walk(root, stop_at_q=True)
    if raw is None:
        # The walk met a visible <q> (rare): draw its quotation marks, then read again. Looking
        # for <q> during the walk costs nothing; searching the source for it costs more.
        _draw_quotation_marks(tree)
        raw = _walk(root, stop_at_q=False)
        assert raw is not None
    joined = "".join(raw)
    if any(char in joined for char in _INVISIBLE):
        raw = [part.translate(_DROP_INVISIBLE) for part in raw]
    return [block for block in (" ".join(part.split()) for part in raw) if block]


def _walk(root: LexborNode, stop_at_q: bool) -> list[str] | None:
    """The text of each block under ``root``, uncollapsed; None on meeting a ``<q>`` if asked."""
    raw: list[str] = []
    current: list[str] = []
    owner_of_current = -1
    inline_ids = INLINE_IDS
    non_splitting = NON_SPLITTING_IDS
    raw_text_ids = RAW_TEXT_IDS
    skipped_ids = SKIPPED_IDS
    text_id = TEXT_ID
    q_id = Q_ID if stop_at_q else -2
    resume_at = -1  # mem_id of the node after a skipped subtree; -1 when not skipping
    # Whitespace-only text nodes (half of all nodes in indented HTML) are skipped in C.
    for node in root.traverse(include_text=True, skip_empty=True):
        if resume_at != -1:
            if node.mem_id != resume_at:
                continue
            resume_at = -1
        tag_id = node.tag_id
        if tag_id == text_id:
            parent = node.parent
            while parent is not None and parent.tag_id in inline_ids:
                parent = parent.parent
            if parent is None:
                owner = 0
            elif parent.tag_id in raw_text_ids:
                continue
            else:
                owner = parent.mem_id
            if owner != owner_of_current:
                if current:
                    raw.append("".join(current))
                    current = []
                owner_of_current = owner
            elif current and _space_before(node, inline_ids):
                current.append(" ")
            current.append(node.text_content)
        elif tag_id in skipped_ids:
            following = _after_subtree(node)
            if following is None:
                break
            resume_at = following.mem_id
        elif tag_id not in non_splitting:
            owner_of_current = -1
        elif tag_id == q_id:
            return None
    if current:
        raw.append("".join(current))
    return raw
