"""Human-readable rendering of a ``ParseResult`` for ``verdicts parse`` (a new layout's first look).

Pure: returns a string, prints nothing, so the CLI stays a thin layer and tests can read it.
"""

from __future__ import annotations

import textwrap

from parsers.model import ParseResult

_WIDTH = 100


def _short(text: str | None, width: int = _WIDTH - 20) -> str:
    if text is None:
        return "—"
    return textwrap.shorten(text, width=width, placeholder=" …")


def format_parse_result(result: ParseResult) -> str:
    """Status, title, both tools' fields, the scorecard and any problems, as plain text."""
    lines = [
        f"status:   {result.status}",
        f"parser:   {result.parser} {result.parser_version}",
        f"title:    {_short(result.title)}",
    ]
    for item in result.listings:
        community = "—" if item.community_pct is None else f"{item.community_pct}%"
        panel = "—" if item.panel_ship_pct is None else f"{item.panel_ship_pct}%"
        usd = "—" if item.entry_price_usd is None else f"${item.entry_price_usd:g}/mo"
        lines += [
            "",
            f"tool {item.position}:   {_short(item.name)}",
            f"  category:    {_short(item.category)}",
            f"  tagline:     {_short(item.tagline)}",
            f"  panel ship:  {panel}",
            f"  community:   {community}",
            f"  entry:       {_short(item.entry_price)} ({item.entry_price_kind or '—'}, {usd})",
            f"  description: {_short(item.description)}",
        ]
    if result.quotes:
        lines += ["", f"scorecard: {len(result.quotes)} quotes"]
        for quote in result.quotes:
            lines.append(f"  seat {quote.reviewer_seat} · tool {quote.position}: {_short(quote.text, 70)}")
    if result.embedded:
        kinds = ", ".join(f"{item.kind} ({len(item.data)})" for item in result.embedded)
        lines += ["", f"embedded data: {kinds}"]
        for d in result.disagreements:
            where = f" (tool {d.position})" if d.position else ""
            lines.append(f"  disagrees on {d.field}{where}: text {d.visible!r}, {d.source} {d.embedded!r}")
    if result.problems:
        lines += ["", f"problems ({len(result.problems)}):"]
        lines += [f"  - {problem}" for problem in result.problems]
    return "\n".join(lines)
