"""The history pages of the published archive (db/history_plugin.py): real archive,
real Datasette (in-process client), three snapshots of one page."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from datasette.app import Datasette

from crawler.demo import DEMO_SITE
from db.identity import comparison_id
from db.publish import make_datasette
from tests.archive_factory import at, crawled_on_days

URL = "https://example.test/compare/cellwise-vs-querypilot/"
HTML = (DEMO_SITE / "compare" / "cellwise-vs-querypilot" / "index.html").read_text("utf-8")
MARKUP = "<b>bold</b> & <script>alert(1)</script>"
SECOND = HTML.replace("profile the dataset", "profile the whole dataset", 1)
THIRD = SECOND.replace("profile the whole dataset", "profile the &lt;b&gt;bold&lt;/b&gt; dataset", 1)


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Datasette:
    path = tmp_path_factory.mktemp("history") / "archive.db"
    crawled_on_days(path, URL, (HTML, SECOND, THIRD))
    return make_datasette(path)


CID = comparison_id(URL)


async def get(ds: Datasette, path: str, status: int = 200) -> str:
    response = await ds.client.get(path)
    assert response.status_code == status, path
    return response.text


async def test_the_row_page_links_to_the_history(ds: Datasette) -> None:
    page = await get(ds, f"/archive/comparisons/{CID}")
    assert f'href="/-/history/{CID}"' in page


async def test_history_lists_every_snapshot_in_order_with_diffs(ds: Datasette) -> None:
    page = await get(ds, f"/-/history/{CID}")
    assert [at(1), at(2), at(3)] == re.findall(r"<td>(2026-11-0\d[^<]*)</td>\s*<td>2026", page)
    pairs = re.findall(rf'href="/-/history/{CID}/(\d+)\.\.(\d+)"', page)
    assert ("1", "2") in pairs and ("2", "3") in pairs
    assert "verdict edited" in page


async def test_diff_shows_removed_and_added_words_and_steps(ds: Datasette) -> None:
    page = await get(ds, f"/-/history/{CID}/1..2")
    assert "<ins>whole</ins>" in page
    assert 'rel="prev"' not in page and f'rel="next" href="/-/history/{CID}/2..3"' in page
    last = await get(ds, f"/-/history/{CID}/2..3")
    assert f'rel="prev" href="/-/history/{CID}/1..2"' in last and 'rel="next"' not in last
    assert "<del>whole</del>" in last
    wide = await get(ds, f"/-/history/{CID}/1..3")  # any two, not only neighbours
    assert "<ins>&lt;b&gt;bold&lt;/b&gt;</ins>" in wide


async def test_a_quote_with_markup_renders_as_text(ds: Datasette) -> None:
    page = await get(ds, f"/-/history/{CID}/2..3")
    assert "<b>bold</b>" not in page
    assert html.escape("<b>bold</b>", quote=False) in page


async def test_every_history_link_keeps_the_base_url(ds: Datasette) -> None:
    path = ds.databases["archive"].path
    prefixed = make_datasette(path, settings={"base_url": "/prefix/"})  # its client adds the prefix
    pages = [
        f"/archive/comparisons/{CID}",
        f"/-/history/{CID}",
        f"/-/history/{CID}/1..2",
        f"/-/history/{CID}/2..3",
    ]
    links = []
    for page in pages:
        links += re.findall(r'href="([^"]*history[^"]*)"', await get(prefixed, page))
    assert len(links) >= 8
    assert [link for link in links if not link.startswith("/prefix/-/history/")] == []
    for link in set(links):  # and each answers
        await get(prefixed, link.removeprefix("/prefix"))


async def test_unknown_pages_and_pairs_are_404(ds: Datasette) -> None:
    await get(ds, "/-/history/0000000000000000", 404)
    await get(ds, "/-/history/not-an-id", 404)
    await get(ds, f"/-/history/{CID}/1..999", 404)
    await get(ds, f"/-/history/{CID}/2..2", 404)


async def test_bodies_stay_private_to_visitors(ds: Datasette) -> None:
    await get(ds, "/archive/bodies", 403)
    rows = await ds.client.get("/archive.json?sql=select+data+from+bodies&_shape=array")
    assert all(row["data"] is None for row in rows.json())


async def test_pages_need_no_outside_resources(ds: Datasette) -> None:
    for path in (f"/-/history/{CID}", f"/-/history/{CID}/1..2"):
        page = await get(ds, path)
        # scripts, images and stylesheets all come from this server (links to elsewhere may exist)
        assert not re.search(r'src="(https?:)?//|<link[^>]+href="(https?:)?//', page), path


def test_templates_ship_with_the_package() -> None:
    root = Path(__file__).resolve().parent.parent
    assert (root / "db" / "templates" / "diff.html").is_file()
