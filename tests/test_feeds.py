"""Atom feeds of the change log (db/feeds.py, canned queries in db/metadata.yml), read by a
feed reader (feedparser) from a real Datasette over a real archive: zero, one, many entries."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest
from datasette.app import Datasette

from crawler.demo import DEMO_SITE
from db.publish import make_datasette
from tests.archive_factory import crawled_on_days

URL = "https://example.test/compare/cellwise-vs-querypilot/"
HTML = (DEMO_SITE / "compare" / "cellwise-vs-querypilot" / "index.html").read_text("utf-8")
SECOND = HTML.replace("profile the dataset", "profile the &lt;whole&gt; dataset", 1).replace(
    ">$12/user/mo<", ">$15/user/mo<"
)


def archive(path: Path, bodies: tuple[str, ...]) -> Datasette:
    crawled_on_days(path, URL, bodies)
    return make_datasette(path)


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Datasette:
    return archive(tmp_path_factory.mktemp("feeds") / "archive.db", (HTML, SECOND))


async def feed(ds: Datasette, path: str) -> feedparser.FeedParserDict:
    response = await ds.client.get(path)
    assert response.status_code == 200, (path, response.text[:300])
    assert response.headers["content-type"].startswith("application/xml")
    parsed = feedparser.parse(response.text)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


async def test_all_changes(ds: Datasette) -> None:
    parsed = await feed(ds, "/archive/changes_feed.atom")
    titles = sorted(entry.title for entry in parsed.entries)
    assert len(titles) == 2 and titles[0].startswith("price changed · QueryPilot")
    edited = next(e for e in parsed.entries if e.title.startswith("verdict edited"))
    assert edited.content[0].type == "text/html"
    text = edited.content[0].value
    assert "<p>Removed: " in text and "<p>Added: " in text
    assert "profile the &lt;whole&gt; dataset" in text and "<whole>" not in text  # the quote's markup as text
    assert edited.link.startswith("http://localhost/-/history/") and ".." in edited.link
    assert f'<a href="{edited.link}">' in text
    assert edited.updated_parsed is not None and edited.updated.endswith("+00:00")


async def test_one_tool(ds: Datasette) -> None:
    parsed = await feed(ds, "/archive/changes_feed.atom?tool=QueryPilot")
    assert [e.title.split(" · ")[0] for e in parsed.entries] == ["price changed"]
    assert "$12/user/mo -&gt; $15/user/mo (+25.0 %)" in parsed.entries[0].content[0].value


async def test_price_moves_above_a_threshold(ds: Datasette) -> None:
    assert len((await feed(ds, "/archive/price_moves_feed.atom")).entries) == 1
    assert len((await feed(ds, "/archive/price_moves_feed.atom?pct=30")).entries) == 0


async def test_feed_links_keep_the_base_url(ds: Datasette) -> None:
    prefixed = make_datasette(ds.databases["archive"].path, settings={"base_url": "/prefix/"})
    parsed = await feed(prefixed, "/archive/changes_feed.atom")  # the client adds the prefix
    for entry in parsed.entries:
        assert entry.link.startswith("http://localhost/prefix/-/history/")
        assert f'<a href="{entry.link}">' in entry.content[0].value
        response = await prefixed.client.get(entry.link.removeprefix("http://localhost/prefix"))
        assert response.status_code == 200


async def test_an_archive_without_changes_has_valid_empty_feeds(tmp_path: Path) -> None:
    empty = archive(tmp_path / "archive.db", (HTML,))
    for path in (
        "/archive/changes_feed.atom",
        "/archive/price_moves_feed.atom",
        "/archive/changes_feed.atom?tool=X",
    ):
        parsed = await feed(empty, path)
        assert parsed.entries == [] and parsed.feed.title
