"""crawls rows and the frontier: a new run takes over an unfinished one's work, and only that."""

from __future__ import annotations

from pathlib import Path

from db import crawl_log, frontier
from db.archive import open_archive
from db.frontier import Entry

STARTS = ["https://a.example/", "https://b.example/x"]


def test_site_key_is_the_same_for_the_same_set_in_any_order() -> None:
    key = crawl_log.site_key(STARTS)
    assert key == crawl_log.site_key(list(reversed(STARTS))) == crawl_log.site_key(STARTS * 2)
    assert key != crawl_log.site_key(STARTS[:1])
    assert len(key) == 16


def test_a_running_crawl_is_resumed_with_its_frontier(archive_path: Path) -> None:
    db = open_archive(archive_path)
    site = crawl_log.site_key(STARTS)
    first = crawl_log.begin(db, site, STARTS)
    assert first.resumed_from is None
    with db.atomic():
        frontier.add(db, first.crawl_id, [Entry(u) for u in ("u1", "u2", "u3")])
        frontier.add(db, first.crawl_id, [Entry("s.xml", 0, "sitemap")])
        frontier.mark(db, first.crawl_id, [("u1", "done"), ("u2", "failed")])
    # the process dies here: the row stays `running`

    second = crawl_log.begin(db, site, STARTS)
    assert second.resumed_from == first.crawl_id
    old = crawl_log.get(db, first.crawl_id)
    assert old["status"] == "interrupted" and old["finished_at"]
    assert f"resumed by crawl {second.crawl_id}" in old["error"]
    pending, known = frontier.load(db, second.crawl_id)
    assert known == {"u1", "u2", "u3", "s.xml"}
    assert [(e.url, e.kind) for e in pending] == [("u2", "html"), ("u3", "html"), ("s.xml", "sitemap")]
    assert frontier.counts(db, first.crawl_id) == {}  # older frontiers are pruned

    crawl_log.add_counts(db, second.crawl_id, [3, 1, 1, 2, 0, 5, 1, 2])
    crawl_log.finish(db, second.crawl_id, "completed")
    row = crawl_log.get(db, second.crawl_id)
    assert (row["status"], row["pages_fetched"], row["verdicts_new"]) == ("completed", 3, 5)
    assert (row["pages_unreadable"], row["parse_errors"]) == (1, 2)

    third = crawl_log.begin(db, site, STARTS)  # after a completed run: a fresh start
    assert third.resumed_from is None
    assert frontier.load(db, third.crawl_id) == ([], set())
    other = crawl_log.begin(db, crawl_log.site_key(["https://c.example/"]), ["https://c.example/"])
    assert other.resumed_from is None
    assert crawl_log.get(db, third.crawl_id)["status"] == "running"  # another site's run
    db.close()
