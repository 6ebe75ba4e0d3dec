"""Debian's Chromium for the browser tests: where it is, how it starts, and when it must exist."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crawler.render import BASE_ARGS, chromium_path

#: The browser the crawl would launch ($VERDICTS_CHROMIUM, else Debian's).
CHROMIUM = Path(chromium_path())
#: The tests' reference browser: the project's base flags, without the crawl's network
#: barriers (crawler/render.py), so it reads the loopback servers directly.
CHROMIUM_ARGS = list(BASE_ARGS)


def required() -> bool:
    """In CI (and with VERDICTS_REQUIRE_BROWSER=1) a missing browser or tool is an error, not a
    skip, so a broken install can never pass as green."""
    return os.environ.get("CI") == "true" or os.environ.get("VERDICTS_REQUIRE_BROWSER") == "1"


def require_chromium() -> None:
    """Skip the calling test module when Chromium is missing, or fail it where `required()`."""
    if CHROMIUM.exists():
        return
    if required():
        raise RuntimeError(f"{CHROMIUM} is missing and CI or VERDICTS_REQUIRE_BROWSER requires it.")
    pytest.skip(
        f"{CHROMIUM} is not installed (apt-get install chromium) - browser test skipped.",
        allow_module_level=True,
    )
