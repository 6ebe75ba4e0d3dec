"""Entry prices as pages write them -> (kind, monthly USD)."""

from __future__ import annotations

import pytest

from parsers.prices import parse_entry_price

CASES: list[tuple[str, str, float | None]] = [
    ("Free", "free", 0.0),
    ("free", "free", 0.0),
    ("$0", "free", 0.0),
    ("$0/mo", "free", 0.0),
    ("Open source", "free", 0.0),
    ("Free (up to 3 users)", "free", 0.0),
    ("$20/mo", "paid", 20.0),
    ("$99/yr", "paid", 8.25),
    ("From $9/month", "paid", 9.0),
    ("$1,200/yr", "paid", 100.0),
    ("$12/user/mo", "paid", 12.0),
    ("$8.50 per seat per month", "paid", 8.5),
    ("US$19.99/month", "paid", 19.99),
    ("USD 20 per month", "paid", 20.0),
    ("20 USD/mo", "paid", 20.0),
    ("$240 billed annually", "paid", 20.0),
    ("$5/week", "paid", 21.67),
    ("$1/day", "paid", 30.42),
    ("Starts at $10", "paid", 10.0),
    ("$20–$40/mo", "paid", 20.0),
    ("Free trial, then $29/mo", "paid", 29.0),
    ("Free trial", "paid", None),
    ("$300 one-time", "paid", None),
    ("$99 lifetime deal", "paid", None),
    ("€15/mo", "paid", None),
    ("£10/month", "paid", None),
    ("€15/mo (≈ $16)", "paid", 16.0),
    ("15/mo", "paid", None),
    ("Paid", "paid", None),
    ("Freemium", "freemium", None),
    ("Free plan, Pro $20/mo", "freemium", None),
    ("Contact sales", "contact", None),
    ("Custom", "contact", None),
    ("Enterprise pricing", "contact", None),
    ("Usage-based", "usage", None),
    ("Pay as you go", "usage", None),
    ("Pay-as-you-go", "usage", None),
    ("$0.002 per 1K tokens", "usage", None),
    ("$3 per 1M tokens", "usage", None),
    ("", "unknown", None),
    ("—", "unknown", None),
    ("n/a", "unknown", None),
    ("Coming soon", "unknown", None),
]


@pytest.mark.parametrize(("text", "kind", "usd"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_entry_price(text: str, kind: str, usd: float | None) -> None:
    assert parse_entry_price(text) == (kind, usd)


def test_none_is_unknown() -> None:
    assert parse_entry_price(None) == ("unknown", None)


def test_whitespace_and_case_do_not_matter() -> None:
    assert parse_entry_price("  FROM   $9 / Month ") == ("paid", 9.0)


@pytest.mark.parametrize("hostile", ["$" + "1," * 20000, "9" * 50000 + "/", "per " * 20000])
def test_hostile_text_returns(hostile: str) -> None:
    # Quadratic matching on these once took minutes; now text is capped and numbers anchored.
    kind, _ = parse_entry_price(hostile)
    assert kind in {"free", "freemium", "paid", "usage", "contact", "unknown"}
