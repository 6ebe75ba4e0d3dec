"""crawler.urls' fast host/origin path must answer exactly as the urlsplit one does."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.urls import host_and_origin, host_of

_DEFAULT = {"http": 80, "https": 443}


def _reference(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = name = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT.get(scheme):
        return name, f"{scheme}://{host}"
    return name, f"{scheme}://{host}:{port}"


def _both(url: str) -> tuple[object, object]:
    try:
        expected: object = _reference(url)
    except ValueError:
        expected = ValueError
    try:
        got: object = host_and_origin(url)
    except ValueError:
        got = ValueError
    return expected, got


@pytest.mark.parametrize(
    "url",
    [
        "http://Example.COM/a",
        "https://example.com:443/x?y#z",
        "http://example.com:080",
        "http://127.0.0.1:8080/compare/a-vs-b/",
        "http://h:99999/",
        "http://h:/x",
        "http://user:pw@h:81/",
        "http://[::1]:8080/",
        "HTTP://h/",
        "http://h\t/x",
        "http://h?q#f",
        "http:///path",
        "ftp://h/x",
    ],
)
def test_examples_agree(url: str) -> None:
    expected, got = _both(url)
    assert got == expected
    if expected is not ValueError:
        assert host_of(url) == (urlsplit(url).hostname or "")


_NETLOC = st.text(alphabet="aZ09.-_~:@[]%\t /?#", max_size=16)


@given(st.sampled_from(["http://", "https://", "HTTP://", "x://"]), _NETLOC, st.text(max_size=8))
def test_fast_path_agrees_with_urlsplit(scheme: str, netloc: str, rest: str) -> None:
    url = scheme + netloc + rest
    expected, got = _both(url)
    assert got == expected
    try:
        hostname = urlsplit(url).hostname or ""
    except ValueError:
        return
    assert host_of(url) == hostname
