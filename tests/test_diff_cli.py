"""`verdicts diff`: two real snapshots of a page in a real archive, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.demo import DEMO_SITE
from tests.archive_factory import at, crawled_on_days

URL = "https://example.test/compare/cellwise-vs-querypilot/"
HTML = (DEMO_SITE / "compare" / "cellwise-vs-querypilot" / "index.html").read_text("utf-8")
EDITED = HTML.replace("profile the dataset", "profile the whole dataset", 1).replace(
    "$12/user/mo", "$15/user/mo"
)


@pytest.fixture
def archive(archive_path: Path) -> Path:
    crawled_on_days(archive_path, URL, (HTML, EDITED, EDITED.replace("whole dataset", "entire dataset")))
    return archive_path


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(cli, ["diff", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_default_is_the_last_two_snapshots(archive: Path) -> None:
    out = run(URL, "--db", str(archive))
    assert f"{at(2)}" in out and f"{at(3)}" in out
    assert "[-whole-] {+entire+}" in out
    assert "price changed" not in out  # the price moved between the first two


def test_from_and_to_pick_snapshots_by_time(archive: Path) -> None:
    out = run(URL, "--db", str(archive), "--from", "2026-11-01T13:00:00Z", "--to", "2026-11-02T13:00")
    assert "price changed" in out and "$12/user/mo -> $15/user/mo (+25.0 %)" in out
    assert "verdict edited" in out and "{+whole+}" in out


def test_colour_on_a_terminal(archive: Path) -> None:
    out = run(URL, "--db", str(archive), env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert "\x1b[" in out and "[-whole-]" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["https://example.test/compare/nope/"], "No snapshot of https://example.test/compare/nope/"),
        ([URL, "--from", "2020-01-01"], "No snapshot at or before 2020-01-01"),
        ([URL, "--to", "yesterday"], "is not an ISO 8601 time"),
        ([URL, "--to", "0001-01-01T00:00:00+01:00"], "is not an ISO 8601 time"),  # before UTC's year 1
        ([URL, "--from", "2026-11-03T13:00", "--to", "2026-11-03T14:00"], "pick the same snapshot"),
    ],
)
def test_bad_input_is_one_clear_sentence(archive: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["diff", *args, "--db", str(archive)])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
