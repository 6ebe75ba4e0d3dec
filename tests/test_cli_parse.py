"""`verdicts parse`: what the parser sees in one page, from a file or over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crawler.cli import cli
from crawler.demo import DEMO_SITE
from crawler.static_server import StaticServer, serve_directory
from tests.conftest import FIXTURES

SLUG = "smolvlm2-turbo-vs-mistral-next-22b"
PAGE = DEMO_SITE / "compare" / SLUG / "index.html"
EXPECTED = json.loads((FIXTURES / "expected" / f"{SLUG}.json").read_text(encoding="utf-8"))


def parse_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["parse", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_parse_a_file_as_json_matches_the_golden_record() -> None:
    got = parse_json(str(PAGE))
    assert got["status"] == "ok"
    assert got["title"] == EXPECTED["title"]
    assert got["quotes"] == EXPECTED["quotes"]


def test_parse_a_legacy_encoded_file_reads_its_meta_charset(tmp_path: Path) -> None:
    html = PAGE.read_text(encoding="utf-8").replace("<head>", '<head><meta charset="shift_jis">', 1)
    html = html.replace("Developer Tools", "開発ツール")
    page = tmp_path / "sjis.html"
    page.write_bytes(html.encode("shift_jis", errors="xmlcharrefreplace"))
    got = parse_json(str(page))
    assert got["listings"][0]["category"] == "開発ツール"
    assert got["quotes"] == EXPECTED["quotes"]


def test_parse_a_url_over_loopback() -> None:
    with serve_directory(DEMO_SITE) as origin:
        got = parse_json(f"{origin}/compare/{SLUG}/")
    assert got["title"] == EXPECTED["title"]


def test_parse_prints_a_readable_summary_and_non_comparisons_say_so() -> None:
    runner = CliRunner()
    page = runner.invoke(cli, ["parse", str(PAGE)])
    assert page.exit_code == 0
    assert "status:   ok" in page.output and "seat 4" in page.output
    about = runner.invoke(cli, ["parse", str(DEMO_SITE / "about" / "index.html")])
    assert "not_comparison" in about.output


def test_parse_a_missing_file_is_a_one_line_error() -> None:
    result = CliRunner().invoke(cli, ["parse", "/no/such/page.html"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Could not read /no/such/page.html")
    assert "Traceback" not in result.output


def test_parse_a_url_obeys_robots_txt() -> None:
    private = next((DEMO_SITE / "private").rglob("index.html")).parent
    path = "/" + private.relative_to(DEMO_SITE).as_posix() + "/"
    with StaticServer(DEMO_SITE) as server:
        result = CliRunner().invoke(cli, ["parse", f"{server.origin}{path}"])
    assert result.exit_code == 1
    assert "robots.txt disallows it" in result.output
    assert path not in server.paths()  # never requested
    assert "/robots.txt" in server.paths()


def test_parse_a_url_applies_the_size_cap(tmp_path: Path) -> None:
    (tmp_path / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    (tmp_path / "huge.html").write_bytes(b"<html><body>" + b"<p>x</p>" * 800_000 + b"</body></html>")
    with serve_directory(tmp_path) as origin:
        result = CliRunner().invoke(cli, ["parse", f"{origin}/huge.html"])
    assert result.exit_code == 1
    assert "body larger than 5000000 bytes" in result.output
    assert "Traceback" not in result.output


def test_parse_a_url_that_is_not_a_page_says_so(tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text("{}")
    with serve_directory(tmp_path) as origin:
        result = CliRunner().invoke(cli, ["parse", f"{origin}/data.json"])
    assert result.exit_code == 1
    assert "not HTML: application/json" in result.output
