"""How the parser's text blocks are compared with what Chromium renders (docs/text-fidelity.md).

The browser is the oracle: for the same HTML, ``parsers.text_blocks`` must give the lines of
Chromium's ``innerText`` (JavaScript disabled), word for word and space for space. A few
differences are kept on purpose. Each is listed in ``KEPT_DIFFERENCES`` with its reason and is
applied in exactly one place: on the page before ``innerText`` is read (``PREPARE``), or on the
text it returns (``browser_blocks``). Nothing else may differ.

Used by tests/test_text_fidelity.py (recorded cases, no browser) and
tests/test_text_fidelity_browser.py (the live comparison). ``python -m tests.fidelity`` records
``tests/data/text_fidelity_cases.json`` again from Chromium.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.chromium import CHROMIUM, CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).parent / "data" / "text_fidelity_cases.json"

#: Every difference between the parser and Chromium's innerText that is kept, and why.
KEPT_DIFFERENCES: dict[str, str] = {
    "table cells": "innerText joins the cells of a table row with tabs; the parser reads each cell as "
    "a block, so a tab counts as a block break.",
    "q quotation marks": "a browser draws the quotation marks of <q> with CSS, so they are missing "
    "from innerText; the parser adds them (the quote's bounds are part of what the page says).",
    "noscript": "with scripts off a browser shows <noscript>; the parser reads pages as a browser "
    "with scripts on does (the crawler's pages are meant to be seen with scripts on).",
    "custom elements": "the parser reads unknown and custom elements as blocks, as sites style them; "
    "without the site's stylesheet a browser lays them out inline, so they get display:block "
    "unless the page's own CSS gives them a display.",
    "closed details": "a browser shows only the summary of a closed <details> until it is opened; the "
    "parser reads its contents too, as a reader who opens it does (FAQ answers), so the browser side "
    "opens every <details>.",
    "object and math": "the parser drops <object> (whose fallback text shows only when its resource "
    "fails to load) and MathML (no comparison states a price or score as a formula); the browser side "
    "removes them.",
    "pre whitespace": "a browser keeps every space and tab inside a line of <pre>; the parser collapses "
    "them as everywhere else (words must match), so the browser side turns such tabs into spaces (a tab "
    "there is no table cell) and runs of spaces collapse as for no-break spaces.",
    "buttons": "a button is an inline-block box in a browser, its label trimmed but kept on the "
    "line; the parser reads it as a block of its own (a label is page furniture, not prose), so the "
    "browser side gives buttons display:block.",
    "no-break spaces": "the parser reads a no-break space as a plain space, which collapses with the "
    "whitespace beside it (words must match whatever space the page used); a browser keeps each.",
    "invisible characters": "zero-width spaces and joiners, word joiners, BOMs and soft hyphens render "
    "as nothing; the parser removes them so words match, innerText keeps them.",
}

#: Run in the page before ``innerText`` is read: the page-side kept differences.
PREPARE = """() => {
  // closed details: opened, as the parser reads them
  for (const d of document.querySelectorAll('body details')) d.open = true;
  // object and math: dropped by the parser
  for (const n of document.querySelectorAll('body object, body math')) n.remove();
  // q quotation marks: written into the text, as the parser does
  for (const q of document.querySelectorAll('body q')) {
    if (!q.checkVisibility()) continue;
    q.before('\\u201c');
    q.after('\\u201d');
  }
  // noscript: the parser reads the page as a browser with scripts on
  for (const n of document.querySelectorAll('body noscript')) n.remove();
  // pre whitespace: a tab inside a line is a space, not a cell break
  for (const pre of document.querySelectorAll('body pre')) {
    const walk = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    for (let t = walk.nextNode(); t; t = walk.nextNode()) t.data = t.data.replace(/\t/g, ' ');
  }
  // buttons: blocks of their own
  for (const b of document.querySelectorAll('body button')) {
    if (getComputedStyle(b).display !== 'none') b.style.display = 'block';
  }
  // custom elements: blocks, unless the page's CSS says otherwise
  for (const el of document.querySelectorAll('body *')) {
    const unknown = el instanceof HTMLUnknownElement || el.localName.includes('-');
    if (unknown && !el.namespaceURI.endsWith('svg') && getComputedStyle(el).display === 'inline'
        && !el.style.display) {
      el.style.display = 'block';
    }
  }
  return document.body ? document.body.innerText : '';
}"""

#: Characters that render as nothing (dropped by the parser, kept by innerText).
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\xad"))
_SPACES = re.compile(r"[ \xa0]+")


def browser_blocks(inner_text: str) -> list[str]:
    """The lines of ``innerText`` as blocks, after the text-side kept differences."""
    text = inner_text.replace("\t", "\n")  # table cells: a tab is a block break
    text = text.translate(_INVISIBLE)  # invisible characters
    lines = (_SPACES.sub(" ", line).strip(" ") for line in text.split("\n"))  # no-break spaces
    return [line for line in lines if line]


def document(fragment: str) -> str:
    """A whole page around a fragment of body markup."""
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{fragment}</body></html>"


def load_cases() -> list[dict[str, str]]:
    cases: list[dict[str, str]] = json.loads(CASES.read_text(encoding="utf-8"))
    return cases


class Chromium:
    """One headless Chromium with JavaScript disabled and one page, reused for every read."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            self.page = self._open()
        except Exception:
            self._playwright.stop()
            raise

    def _open(self) -> Page:
        """A fresh context (JavaScript off, loopback only) and its one page."""
        self._context = self._browser.new_context(java_script_enabled=False)
        # Loopback only: anything else a page asks for is refused, never fetched.
        self._context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith(("http://127.", "about:", "data:"))
                else route.abort()
            ),
        )
        page = self._context.new_page()
        page.set_default_timeout(15_000)
        return page

    def reset(self) -> None:
        """Close the context (and its connections: a server may now stop cleanly) for a new one."""
        self._context.close()
        self.page = self._open()

    def inner_text(self, html: str) -> str:
        """innerText of ``html`` loaded as a page, after ``PREPARE``."""
        self.page.set_content(html)
        text: str = self.page.evaluate(PREPARE)
        return text

    def inner_text_at(self, url: str) -> str:
        """innerText of the page at ``url`` (the loopback server's), after ``PREPARE``."""
        self.page.goto(url)
        text: str = self.page.evaluate(PREPARE)
        return text

    def close(self) -> None:
        try:
            self._browser.close()
        finally:
            self._playwright.stop()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def record() -> int:
    """Write the innerText of every recorded case again, from Chromium."""
    cases = load_cases()
    with Chromium() as chromium:
        for case in cases:
            case["inner_text"] = chromium.inner_text(document(case["html"]))
    CASES.write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"recorded {len(cases)} cases into {CASES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(record())
