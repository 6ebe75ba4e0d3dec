"""The browser fetch's contract where no browser runs: settings, a missing browser, the hint.

`render = "browser"` (verdicts.toml) and `--render browser` choose it per site; when
Playwright or Chromium is missing the crawl stops before any request with one sentence
naming the install command; and a plain crawl of client-rendered pages marks them
unreadable and suggests the option. The crawls with Chromium are in tests/test_render_crawl.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import ConfigError, load_settings
from crawler.demo import DEMO_RENDERED
from crawler.static_server import StaticServer
from db.archive import connect
from tests.conftest import FIXTURES, ROOT

RENDERED = DEMO_RENDERED


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "verdicts.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_render_is_chosen_per_site_and_the_flag_applies_to_every_site(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        '[[sites]]\nstart_urls = ["http://127.0.0.1:1/"]\nrender = "browser"\n\n'
        '[[sites]]\nstart_urls = ["http://127.0.0.1:2/"]\n',
    )
    assert [s.render for s in load_settings(config).sites] == ["browser", "plain"]
    assert [s.render for s in load_settings(config, render="browser").sites] == ["browser", "browser"]
    assert [s.render for s in load_settings(config, render="plain").sites] == ["plain", "plain"]


def test_an_unknown_render_is_a_clear_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[[sites]]\nstart_urls = ["http://127.0.0.1:1/"]\nrender = "chrome"\n')
    with pytest.raises(ConfigError, match=r"sites\[0\]\.render must be one of 'plain', 'browser'"):
        load_settings(config)


def test_crawl_help_explains_render() -> None:
    result = CliRunner().invoke(cli, ["crawl", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--render [plain|browser]" in text
    assert "headless Chromium" in text and "verdict-archive[browser]" in text


def crawl_cli(db_path: Path, origin: str, *extra: str, env: dict[str, str] | None = None):
    runner = CliRunner(env=env)
    args = ["crawl", f"{origin}/", "--db", str(db_path), "--delay", "0", "--render", "browser", *extra]
    return runner.invoke(cli, args)


def test_a_missing_chromium_stops_the_crawl_before_any_request(tmp_path: Path) -> None:
    db_path = tmp_path / "archive.db"
    bogus = str(tmp_path / "no-such-chromium")
    with StaticServer(RENDERED) as server:
        result = crawl_cli(db_path, server.origin, env={"VERDICTS_CHROMIUM": bogus})
        requests = list(server.requests)
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert f"needs Chromium, and {bogus} is not an executable" in message
    assert "apt-get install chromium" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert requests == []
    assert not db_path.exists()


def test_the_configured_chromium_path_is_the_one_checked(tmp_path: Path) -> None:
    db_path = tmp_path / "archive.db"
    not_executable = tmp_path / "chromium"
    not_executable.write_text("", encoding="utf-8")
    config = write_config(tmp_path, f'chromium = "{not_executable}"\n')
    with StaticServer(RENDERED) as server:
        result = crawl_cli(db_path, server.origin, "--config", str(config))
        assert server.requests == []
    assert result.exit_code == 1
    assert f"{not_executable} is not an executable" in " ".join(result.output.split())


def test_missing_playwright_stops_the_crawl_before_any_request(tmp_path: Path) -> None:
    """A fresh interpreter in which `playwright` cannot be imported (as without the extra)."""
    db_path = tmp_path / "archive.db"
    code = (
        "import sys; sys.modules['playwright'] = None; sys.modules['playwright.async_api'] = None; "
        "from crawler.cli import cli; cli(sys.argv[1:])"
    )
    with StaticServer(RENDERED) as server:
        args = ["crawl", f"{server.origin}/", "--db", str(db_path), "--render", "browser"]
        done = subprocess.run(
            [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        requests = list(server.requests)
    assert done.returncode == 1, done.stderr
    message = " ".join(done.stderr.split())
    assert "needs Playwright, which is not installed: run `pip install 'verdict-archive[browser]'`" in message
    assert "Traceback" not in done.stderr
    assert requests == []
    assert not db_path.exists()


def test_a_plain_crawl_marks_client_rendered_pages_unreadable_and_suggests_the_browser(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "archive.db"
    with StaticServer(RENDERED) as server:
        result = CliRunner().invoke(cli, ["crawl", f"{server.origin}/", "--db", str(db_path), "--delay", "0"])
        asked = set(server.paths())
    shells = sorted(p.parent.name for p in (RENDERED / "compare").glob("*/index.html"))
    assert result.exit_code == 2, result.output  # degraded: candidate comparisons no layout read
    text = " ".join(result.output.split())
    assert f"{len(shells)} of the unreadable pages look client-rendered" in text
    assert 'set render = "browser" in the site\'s [[sites]] block' in text
    assert "--render browser" in text
    assert "/assets/app.js" not in asked  # a plain crawl runs no script
    db = connect(db_path)
    try:
        rows = db.execute(
            "SELECT url, parse_status, parse_problems, rendered_sha256 FROM snapshots "
            "WHERE url LIKE '%/compare/%'"
        ).fetchall()
        assert sorted(url.rstrip("/").rsplit("/", 1)[1] for url, *_ in rows) == shells
        assert {status for _, status, _, _ in rows} == {"unreadable"}
        assert all("looks client-rendered" in problems for _, _, problems, _ in rows)
        assert {rendered for *_, rendered in rows} == {None}
        assert db.execute("SELECT count(*) FROM comparisons").fetchone()[0] == 0
    finally:
        db.close()


def test_a_plain_crawl_of_a_server_rendered_site_suggests_nothing(tmp_path: Path) -> None:
    db_path = tmp_path / "archive.db"
    with StaticServer(FIXTURES / "frameworks" / "react") as server:
        result = CliRunner().invoke(cli, ["crawl", f"{server.origin}/", "--db", str(db_path), "--delay", "0"])
    assert result.exit_code == 0, result.output
    assert "--render browser" not in result.output


def tree(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_committed_example_is_exactly_what_its_generator_writes(tmp_path: Path) -> None:
    command = [sys.executable, str(FIXTURES / "build_rendered.py"), "--out", str(tmp_path / "out")]
    subprocess.run(command, check=True, capture_output=True)
    fresh, committed = tree(tmp_path / "out"), tree(RENDERED)
    assert sorted(fresh) == sorted(committed), "rerun: python fixtures/build_rendered.py"
    assert [name for name in fresh if fresh[name] != committed[name]] == []
    variants = {"inline": 0, "fetched": 0}
    for page in RENDERED.glob("compare/*/index.html"):
        shell = page.read_text(encoding="utf-8")
        assert "tool-card" not in shell and "blockquote" not in shell  # nothing to read as served
        variants["inline" if 'id="comparison-data"' in shell else "fetched"] += 1
    assert variants["inline"] >= 1 and variants["fetched"] >= 1


def test_demo_render_browser_without_chromium_fails_fast_with_the_crawls_sentence(tmp_path: Path) -> None:
    db_path = tmp_path / "archive.db"
    bogus = str(tmp_path / "no-such-chromium")
    with StaticServer(RENDERED) as server:
        expected = " ".join(
            crawl_cli(db_path, server.origin, env={"VERDICTS_CHROMIUM": bogus}).output.split()
        )
    args = ["demo", "--no-serve", "--site-port", "0", "--db", str(db_path), "--render", "browser"]
    result = CliRunner(env={"VERDICTS_CHROMIUM": bogus}).invoke(cli, args)
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert f"needs Chromium, and {bogus} is not an executable" in message
    assert message == expected  # the same sentence the crawl gives
    assert "Serving" not in result.output  # nothing served, nothing crawled
    assert not db_path.exists()
