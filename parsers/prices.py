"""Read an "Entry" price as written on a page into a kind and a monthly US-dollar figure.

Pages state prices in free text ("Free", "$20/mo", "From $9/month", "$99/yr", "Contact sales",
"$0.002 per 1K tokens", "€15/mo (≈ $16)"). Comparing tools needs one number, so this module turns
the text into ``(kind, usd_per_month)`` where kind is one of free, freemium, paid, usage, contact,
unknown. The original text is always stored beside it, so a rule can be fixed and re-run later.

Decisions worth knowing:
- A US-dollar amount with no period ("$49", "Starts at $10") is taken as monthly: an entry price
  on a tool page is the entry plan's monthly fee unless it says otherwise.
- Yearly, weekly and daily amounts are converted (x 1/12, x 52/12, x 365/12), rounded to cents.
- One-time and lifetime prices are ``paid`` with no monthly figure: they have no honest one.
- ``freemium`` (a free tier beside paid plans) has no single monthly figure either: None.
- Other currencies give ``paid`` with None unless the text also states a dollar rate
  ("€15/mo (≈ $16)" -> 16).
- Per-unit prices (tokens, requests, images) are ``usage`` with None.

Only simple, linear regular expressions are used (no nested quantifiers), so hostile input cannot
make matching slow.
"""

from __future__ import annotations

import re
from functools import lru_cache

from parsers.model import PriceKind

#: Only starts at the beginning of a number (the lookbehind), so scanning stays linear.
_AMOUNT = r"(?<![\d,.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?"
#: Entry prices are short; longer text is cut before any matching.
_MAX_TEXT = 300
#: "$20", "US$ 20", "USD 20" ...
_USD_BEFORE = re.compile(r"(?:us\$|\$|usd)\s?" + _AMOUNT)
#: ... and "20 USD", "20$".
_USD_AFTER = re.compile(_AMOUNT + r"\s?(?:usd\b|\$)")
_OTHER_CURRENCY = re.compile(r"[€£¥₹₩₽₺¢]|\b(?:eur|gbp|jpy|inr|cad|aud|chf|cny|sek|nok|dkk)\b")
_PERIOD_ANYWHERE = re.compile(
    r"(?:/|\bper\b|\ba\b)\s?(mo|mon|month|mth|yr|year|wk|week|day)s?\b"
    r"|\b(monthly|yearly|annually|annual|weekly|daily)\b"
)
_USAGE = re.compile(
    r"usage|pay[\s-]*as[\s-]*you[\s-]*go|pay[\s-]*per[\s-]*use|metered|\btokens?\b|per\s+(?:1k|1m|"
    r"\d+k|\d+m|thousand|million|request|call|image|minute|second|hour|query|api)|\bcredits?\b"
)
_CONTACT = re.compile(
    r"contact|custom|enterprise|quote|\bsales\b|get in touch|on request|talk to|call us|\bdemo\b"
)
_FREEMIUM = re.compile(r"freemium|free\s+(?:tier|plan|version|edition)|free\s*(?:\+|&|and)\s*paid")
_FREE_TRIAL = re.compile(r"free\s+trial|trial")
_FREE = re.compile(r"\bfree\b|open[\s-]?source|\boss\b|\bgratis\b|no cost")
_PAID = re.compile(r"\bpaid\b|subscription|premium|licen[cs]e|\bpro\b|one[\s-]?time|lifetime")
_DIGIT = re.compile(r"\d")
_UNKNOWN = re.compile(r"^(?:[-–—?/.\s]*|n/?a|tba|tbd|unknown|none)$")

_MONTHS_PER = {"month": 1.0, "year": 1 / 12, "week": 52 / 12, "day": 365 / 12}
_PERIOD_WORDS = {
    "mo": "month",
    "mon": "month",
    "mos": "month",
    "month": "month",
    "months": "month",
    "monthly": "month",
    "mth": "month",
    "m": "month",
    "yr": "year",
    "yrs": "year",
    "year": "year",
    "years": "year",
    "yearly": "year",
    "annually": "year",
    "annual": "year",
    "y": "year",
    "wk": "week",
    "week": "week",
    "weeks": "week",
    "weekly": "week",
    "day": "day",
    "days": "day",
    "daily": "day",
    "one-time": "once",
    "onetime": "once",
    "once": "once",
    "lifetime": "once",
    "one": "once",
    "forever": "once",
}
#: Words that may sit between an amount and its period: "$12 / user / mo", "$20 billed monthly".
_FILLER = {
    "/",
    "per",
    "a",
    "an",
    "each",
    "user",
    "users",
    "seat",
    "seats",
    "member",
    "members",
    "person",
    "editor",
    "billed",
    "paid",
    "usd",
    "us",
}
_STRIP = "()[],.;:*~≈"


def _amount(match: re.Match[str]) -> float:
    whole, fraction = match.group(1), match.group(2)
    return float(whole.replace(",", "") + ("." + fraction if fraction else ""))


def _period_after(text: str) -> str | None:
    """The period right after an amount ("/mo", "per seat per month", "one-time"), if any."""
    for word in text.replace("/", " / ").split()[:6]:
        token = word.strip(_STRIP)
        if not token or token in _FILLER:
            continue
        return _PERIOD_WORDS.get(token)
    return None


def _period_anywhere(text: str) -> str | None:
    match = _PERIOD_ANYWHERE.search(text)
    if match is None:
        return None
    return _PERIOD_WORDS.get(match.group(1) or match.group(2))


def _first_usd(text: str) -> tuple[float, str | None] | None:
    """The first dollar amount in ``text`` and the period written right after it."""
    candidates = [m for m in (_USD_BEFORE.search(text), _USD_AFTER.search(text)) if m]
    if not candidates:
        return None
    match = min(candidates, key=lambda m: m.start())
    return _amount(match), _period_after(text[match.end() : match.end() + 60])


def _monthly(amount: float, period: str) -> float:
    return round(amount * _MONTHS_PER[period], 2)


def parse_entry_price(text: str | None) -> tuple[PriceKind, float | None]:
    """Classify an entry price and give its monthly USD amount where the text states one."""
    if text is not None and len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT]
    return _parse_entry_price(text)


#: A site's pages repeat a handful of entry prices: each distinct text is classified once.
@lru_cache(maxsize=4096)
def _parse_entry_price(text: str | None) -> tuple[PriceKind, float | None]:
    normal = " ".join((text or "")[:_MAX_TEXT].lower().split())
    if _UNKNOWN.match(normal):
        return "unknown", None
    found = _first_usd(normal)
    if found is not None:
        amount, period = found
        if period is None and _USAGE.search(normal):
            return "usage", None
        if period is None:
            period = _period_anywhere(normal) or "month"
        if period == "once":
            return "paid", None
        if _FREEMIUM.search(normal):
            return "freemium", None
        if amount == 0:
            return "free", 0.0
        return "paid", _monthly(amount, period)
    if _USAGE.search(normal):
        return "usage", None
    if _FREEMIUM.search(normal):
        return "freemium", None
    if _OTHER_CURRENCY.search(normal):
        # A price in another currency: paid, but no dollar figure to give.
        return "paid", None
    if _FREE_TRIAL.search(normal):
        return "paid", None
    if _FREE.search(normal):
        return "free", 0.0
    if _DIGIT.search(normal):
        # A bare number ("15/mo"): some currency, unstated.
        return "paid", None
    if _CONTACT.search(normal):
        return "contact", None
    if _PAID.search(normal):
        return "paid", None
    return "unknown", None
