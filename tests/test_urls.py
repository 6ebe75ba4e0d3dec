"""Canonical URLs (one page, one spelling) and the crawl scope."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.urls import Scope, canonicalize, host_matches, host_of, origin_of, try_canonicalize


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://Example.COM/Path/To", "http://example.com/Path/To"),  # path case kept
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com/a#section", "http://example.com/a"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com/a?b=2&a=1", "http://example.com/a?a=1&b=2"),
        ("http://example.com/a?utm_source=x&utm_Medium=y&id=3", "http://example.com/a?id=3"),
        ("http://example.com/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4&msclkid=5", "http://example.com/a"),
        ("http://example.com/a?ref=hn&x=1", "http://example.com/a?ref=hn&x=1"),  # ref is kept
        ("http://example.com/a b?q=é", "http://example.com/a%20b?q=%C3%A9"),
        ("  http://example.com/a  ", "http://example.com/a"),
    ],
)
def test_canonicalize(url: str, canonical: str) -> None:
    assert canonicalize(url) == canonical


@pytest.mark.parametrize(
    "url", ["mailto:a@example.com", "ftp://example.com/", "/relative", "http://", "http://x:99999/"]
)
def test_not_crawlable(url: str) -> None:
    with pytest.raises(ValueError):
        canonicalize(url)
    assert try_canonicalize(url) is None


@given(
    path=st.text(alphabet="abcXYZ/-_.~%20", max_size=20),
    params=st.lists(
        st.tuples(st.sampled_from(["a", "b", "utm_x", "fbclid", "ref", "Q"]), st.text("xy1", max_size=3)),
        max_size=5,
    ),
)
def test_canonicalize_is_idempotent(path: str, params: list[tuple[str, str]]) -> None:
    query = "&".join(f"{key}={value}" for key, value in params)
    url = f"HTTP://Ex.Example.com:80/{path}?{query}#frag"
    once = canonicalize(url)
    assert canonicalize(once) == once
    assert "utm_" not in once and "fbclid" not in once and "#" not in once


def test_host_and_origin() -> None:
    assert host_of("https://User@Example.COM:8080/x") == "example.com"
    assert origin_of("https://Example.com:443/a/b?c") == "https://example.com"
    assert origin_of("http://example.com:8080/a") == "http://example.com:8080"
    assert origin_of("http://[::1]:8080/a") == "http://[::1]:8080"


def test_host_matches_exact_and_wildcards() -> None:
    hosts = frozenset({"example.com", ".docs.example.org", "*.shop.net"})
    assert host_matches("example.com", hosts)
    assert not host_matches("www.example.com", hosts)
    assert host_matches("docs.example.org", hosts)
    assert host_matches("a.b.docs.example.org", hosts)
    assert host_matches("eu.shop.net", hosts)
    assert not host_matches("evildocs.example.org", hosts)
    assert not host_matches("example.org", hosts)


def test_scope_hosts_include_exclude() -> None:
    scope = Scope(["Example.com"], include=[r"/compare/", r"/vs/"], exclude=[r"\?page=\d{3,}"])
    assert scope.allows("https://example.com/compare/a-vs-b")
    assert scope.allows("https://example.com/vs/x?page=2")
    assert not scope.allows("https://example.com/vs/x?page=100")  # exclude wins
    assert not scope.allows("https://example.com/about")  # not included
    assert not scope.allows("https://other.com/compare/a-vs-b")  # other host


def test_scope_from_start_urls_defaults_to_their_hosts() -> None:
    scope = Scope.from_urls(["https://a.example/x", "http://B.example:8080/y"])
    assert scope.hosts == frozenset({"a.example", "b.example"})
    assert scope.allows("https://a.example/anything")


def test_bad_pattern_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="bad include pattern"):
        Scope(["a.example"], include=["(unclosed"])
