"""Turn HTML into the ordered list of text blocks a reader sees, whatever the markup.

Layout parsers never look at tags or classes: they read these blocks the way a person reads the
rendered page. Markup matters only for where one block ends and the next begins: block-level
elements (div, p, h1-h6, li, td, ...) and ``<br>`` split; inline elements (span, a, em, strong, ...)
do not, so ``A <span>vs</span> B`` stays one block ``"A vs B"``. Invisible content (head, script,
style, noscript, template, svg, elements with the ``hidden`` attribute) is dropped. Entities are
decoded by lexbor and whitespace is collapsed to single spaces.

The walk is iterative (a 10,000-deep page cannot overflow the stack) and visits each node once.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

#: Elements whose start and end separate blocks (CSS display: block/table/list-item by default,
#: plus form controls and embedded content that never share a line of prose with their neighbours).
BLOCK_TAGS: frozenset[str] = frozenset(
    """
    address article aside blockquote body br button caption center dd details dialog dir div dl dt
    fieldset figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 header hgroup hr html
    iframe img input legend li listing main menu nav ol optgroup option p plaintext pre section
    select summary table tbody td textarea tfoot th thead tr ul video audio canvas object embed
    """.split()
)

#: Elements whose content is never rendered as text.
SKIP_TAGS: frozenset[str] = frozenset(
    {"head", "script", "style", "noscript", "template", "svg", "math", "title", "iframe", "object"}
)

_TEXT = "-text"


def _decode(html: str | bytes) -> str:
    if isinstance(html, bytes):
        # Lexbor decodes UTF-8 itself; undecodable bytes must not abort a parse.
        return html.decode("utf-8", errors="replace")
    return html


def text_blocks(html: str | bytes) -> list[str]:
    """Return the visible text of ``html`` as ordered, whitespace-collapsed, non-empty blocks."""
    source = _decode(html)
    if not source.strip():
        return []
    tree = LexborHTMLParser(source)
    root = tree.root
    if root is None:
        return []
    return blocks_from_node(root)


def blocks_from_node(root: LexborNode) -> list[str]:
    """Walk ``root`` once (iteratively) and split its visible text into blocks."""
    blocks: list[str] = []
    current: list[str] = []
    block_tags = BLOCK_TAGS
    skip_tags = SKIP_TAGS

    def flush() -> None:
        if current:
            text = " ".join("".join(current).split())
            if text:
                blocks.append(text)
            current.clear()

    # Stack of pending work: a node to enter, or None meaning "a block element closed here".
    stack: list[LexborNode | None] = [root]
    pop = stack.pop
    push = stack.append
    while stack:
        node = pop()
        if node is None:
            flush()
            continue
        tag = node.tag
        if tag == _TEXT:
            value = node.text_content
            if value:
                current.append(value)
            continue
        if tag in skip_tags or tag is None or tag.startswith("-"):
            continue
        if "hidden" in node.attributes:
            continue
        is_block = tag in block_tags
        if is_block:
            flush()
            push(None)
        child = node.last_child
        while child is not None:
            push(child)
            child = child.prev
    flush()
    return blocks
