"""What a person sees during and after a crawl: log lines without a terminal, a bar with one."""

from __future__ import annotations

import io

from crawler.engine import CrawlReport
from crawler.progress import Progress, format_summary


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress("site", stream=out, interval=0.0)
    assert not progress.live  # a StringIO is not a terminal
    progress.page("fetched", queued=5)
    progress.page("failed", queued=4)
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("site: 1 done, 5 queued, ")
    assert lines[1].startswith("site: 2 done, 4 queued, ")
    assert lines[-1].endswith(", 1 errors")


def test_rich_bar_on_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress("site", stream=out, live=True)
    for _ in range(20):
        progress.page("fetched", queued=3)
    progress.page("skipped", queued=0)
    progress.close()
    text = out.getvalue()
    assert "21/21" in text
    assert "pages/s" in text and "1 errors" in text


def test_summary_lists_failures_and_counts() -> None:
    report = CrawlReport(
        site_name="tools",
        crawl_id=7,
        status="completed",
        resumed_from=6,
        requests=30,
        seconds=3.0,
        counts={"pages_fetched": 25, "pages_not_modified": 2, "pages_failed": 3,
                "comparisons_new": 4, "comparisons_changed": 1, "verdicts_new": 9},
        failures=[(f"http://x/{n}", "HTTP 503 after 4 attempts") for n in range(25)],
    )  # fmt: skip
    text = format_summary(report)
    assert text.splitlines()[0] == "Crawl 7 of tools: completed (resumed crawl 6)"
    assert "requests 30 in 3.0 s (10.0 pages/s)" in text
    assert "pages fetched 25, not modified 2, failed 3" in text
    assert "comparisons new 4, changed 1; verdicts new 9" in text
    assert "failures (25):" in text
    assert "http://x/19: HTTP 503 after 4 attempts" in text
    assert "http://x/20:" not in text
    assert "... and 5 more" in text
