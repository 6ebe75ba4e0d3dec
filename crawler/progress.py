"""What a person watching a crawl sees: a live bar on a terminal, log lines otherwise.

On a terminal, a rich progress bar shows pages done out of done + queued, the rate and
the errors so far. Under cron or systemd (no terminal) a bar is noise in a log file,
so the same figures are printed as one plain line every `interval` seconds. Both go
to stderr; the end-of-crawl summary (`format_summary`) is for stdout. rich is imported
only for the bar (~50 ms of start-up a cron run does not need).
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Any

from db.change_log import describe_counts

if TYPE_CHECKING:
    from crawler.engine import CrawlReport

ERROR_OUTCOMES = frozenset({"failed", "skipped"})
SUMMARY_FAILURES = 20
BAR_SECONDS = 0.1  # the bar's figures are updated at most this often (it redraws at 4 Hz)


class Progress:
    """Counts fetch outcomes and shows them; call `page()` per result, `close()` at the end."""

    def __init__(
        self,
        label: str,
        *,
        stream: IO[str] | None = None,
        interval: float = 5.0,
        live: bool | None = None,
    ) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        if live is None:
            isatty = getattr(self.stream, "isatty", None)
            live = bool(isatty and isatty())
        self.live = live
        self.console: Any = None
        self.interval = interval
        self.done = 0
        self.errors = 0
        self.queued = 0
        self.started = time.monotonic()
        self._next_line = self.started + interval
        self._next_bar = self.started
        self._bar: Any = None
        self._task = None
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self.console = Console(file=self.stream, highlight=False)
            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f} pages/s"),
                TextColumn("[red]{task.fields[errors]} errors"),
                TimeElapsedColumn(),
                console=self.console,
                refresh_per_second=4,
                transient=False,
            )
            self._task = self._bar.add_task(label, total=None, rate=0.0, errors=0)
            self._bar.start()

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def page(self, outcome: str, queued: int) -> None:
        self.done += 1
        self.queued = queued
        if outcome in ERROR_OUTCOMES:
            self.errors += 1
        now = time.monotonic()
        if self._bar is not None:
            if now >= self._next_bar or outcome in ERROR_OUTCOMES:
                self._next_bar = now + BAR_SECONDS
                self._refresh()
        else:
            if now >= self._next_line:
                self._next_line = now + self.interval
                self._print(self.line())

    def line(self) -> str:
        return (
            f"{self.label}: {self.done} done, {self.queued} queued, "
            f"{self.rate:.1f} pages/s, {self.errors} errors"
        )

    def message(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, soft_wrap=True, markup=False)
        else:
            self._print(text)

    def _print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _refresh(self) -> None:
        assert self._bar is not None and self._task is not None
        self._bar.update(
            self._task,
            completed=self.done,
            total=self.done + self.queued,
            rate=self.rate,
            errors=self.errors,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._refresh()
            self._bar.stop()
            self._bar = None
        elif self.done:
            self._print(self.line())


def format_summary(report: CrawlReport) -> str:
    """The end-of-crawl summary: outcome, counters, rate and the failures by URL."""
    counts = report.counts
    lines = [
        f"Crawl {report.crawl_id} of {report.site_name}: {report.status}"
        + (f" (resumed crawl {report.resumed_from})" if report.resumed_from else ""),
        f"  requests {report.requests} in {report.seconds:.1f} s "
        f"({report.requests / report.seconds if report.seconds else 0:.1f} pages/s)",
        f"  pages fetched {counts.get('pages_fetched', 0)}, "
        f"not modified {counts.get('pages_not_modified', 0)}, "
        f"failed {counts.get('pages_failed', 0)}",
        f"  comparisons new {counts.get('comparisons_new', 0)}, "
        f"changed {counts.get('comparisons_changed', 0)}; "
        f"verdicts new {counts.get('verdicts_new', 0)}",
        f"  changes: {describe_counts(report.changes)}",
    ]
    if report.unreadable_count:
        lines.append(
            f"  unreadable candidate comparisons ({report.unreadable_count}; "
            "parse_status 'unreadable' in the archive):"
        )
        lines.extend(f"    {url}" for url in report.unreadable)
        if report.unreadable_count > len(report.unreadable):
            lines.append(f"    ... and {report.unreadable_count - len(report.unreadable)} more")
    lines.extend(render_lines(report))
    errors = report.writer.parse_errors if report.writer is not None else []
    if errors:
        lines.append(f"  parse errors ({counts.get('parse_errors', len(errors))}):")
        lines.extend(f"    {error}" for error in errors[:SUMMARY_FAILURES])
    if report.failures:
        lines.append(f"  failures ({len(report.failures)}):")
        for url, reason in report.failures[:SUMMARY_FAILURES]:
            lines.append(f"    {url}: {reason}")
        if len(report.failures) > SUMMARY_FAILURES:
            more = len(report.failures) - SUMMARY_FAILURES
            lines.append(f"    ... and {more} more (pages with status 'failed' in the archive)")
    lines.extend(f"  {reason}" for reason in report.reasons)
    if report.notifications:
        from crawler.notify import summary_lines

        lines.extend(summary_lines(report.notifications))
    return "\n".join(lines)


def render_lines(report: CrawlReport) -> list[str]:
    """What the browser did (render = "browser"), or the hint to use it when a plain crawl
    found unreadable pages that look client-rendered (parsers/candidates.py)."""
    stats = report.rendered
    if stats is None:
        if report.render == "plain" and report.client_rendered:
            return [
                f"  {report.client_rendered} of the unreadable pages look client-rendered (an empty shell "
                'its scripts fill in): set render = "browser" in the site\'s [[sites]] block of '
                "verdicts.toml, or crawl with --render browser (docs/render.md)"
            ]
        return []
    blocked = sum(stats.blocked.values())
    lines = [
        f"  rendered in the browser: {stats.pages} pages ({stats.failed} failed, "
        f"{stats.timed_out} cut at the idle timeout"
        + (f", {stats.stopped} left for the next crawl by the stop" if stats.stopped else "")
        + f"); subrequests {stats.subrequests} fetched, "
        f"{blocked} blocked"
        + (" (" + ", ".join(f"{n} {why}" for why, n in stats.blocked.most_common()) + ")" if blocked else "")
    ]
    shown = list(dict.fromkeys(stats.examples))[:SUMMARY_FAILURES]
    lines.extend(f"    blocked {url}: {why}" for url, why in shown)
    lines.extend(f"    render failed {url}: {why}" for url, why in stats.errors)
    if report.client_rendered:
        lines.append(
            f"  {report.client_rendered} pages still look client-rendered after rendering: "
            "see the blocked subrequests above"
        )
    return lines
