"""verdicts.toml and flags: what the file sets, what a flag overrides, what a bad file says."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import DEFAULT_SCHEDULE, ConfigError, load_settings

GOOD = """
db = "data/archive.db"
delay = 2.5
concurrency = 8
per_host = 2
user_agent = "verdict-archive-test (+https://example.org/contact)"
max_pages = 500
schedule = "30 4 * * 1-5"
timezone = "Europe/Paris"
max_crawl_delay = 30
transport = "httpx"

[[sites]]
name = "tools"
start_urls = ["https://Tools.Example.org/compare/", "https://tools.example.org/"]
hosts = ["cdn.example.org"]
include = ["/compare/"]
exclude = ["\\\\?print="]

[[sites]]
start_urls = ["https://other.example.net/"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "verdicts.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_values_are_read(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.db_path == tmp_path / "data" / "archive.db"
    assert (settings.delay, settings.concurrency, settings.per_host) == (2.5, 8, 2)
    assert settings.user_agent.startswith("verdict-archive-test")
    assert settings.max_pages == 500
    assert settings.schedule == "30 4 * * 1-5"
    assert settings.zone() == ZoneInfo("Europe/Paris")
    assert (settings.max_crawl_delay, settings.transport) == (30.0, "httpx")
    first, second = settings.sites
    assert first.name == "tools"
    assert first.scope_hosts == {"tools.example.org", "cdn.example.org"}
    assert first.include == ("/compare/",)
    assert first.exclude == ("\\?print=",)
    assert second.name == "site 2"
    assert second.scope_hosts == {"other.example.net"}


def test_flags_override_the_file(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, GOOD),
        urls=("http://127.0.0.1:8000/",),
        db_path=tmp_path / "other.db",
        delay=0.0,
        concurrency=32,
        per_host=16,
        user_agent="flag-agent",
        include=("/a/",),
        exclude=("/b/",),
        max_pages=0,
    )
    assert settings.db_path == tmp_path / "other.db"
    assert (settings.delay, settings.concurrency, settings.per_host) == (0.0, 32, 16)
    assert settings.user_agent == "flag-agent"
    assert settings.max_pages is None  # 0 means no limit
    (site,) = settings.sites  # start URLs on the command line replace the file's sites
    assert site.start_urls == ("http://127.0.0.1:8000/",)
    assert (site.include, site.exclude) == (("/a/",), ("/b/",))
    assert settings.schedule == "30 4 * * 1-5"  # not overridden


def test_include_flags_add_to_every_site(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD), exclude=("/tag/",))
    assert [s.exclude for s in settings.sites] == [("\\?print=", "/tag/"), ("/tag/",)]


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None)
    assert settings.sites == ()
    assert settings.db_path == Path("archive.db")
    assert (settings.delay, settings.concurrency, settings.per_host) == (1.0, 16, 4)
    assert settings.schedule == DEFAULT_SCHEDULE == "0 3 * * *"
    assert settings.timezone is None
    assert isinstance(settings.zone(), ZoneInfo)
    assert "verdict-archive/" in settings.user_agent


def test_verdicts_toml_in_the_working_directory_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, GOOD)
    monkeypatch.chdir(tmp_path)
    assert len(load_settings(None).sites) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("delay = ", "not valid TOML"),
        ("delays = 1", "unknown setting(s) delays"),
        ("delay = 'slow'", "`delay` must be a number"),
        ("concurrency = 0", "`concurrency` must be at least 1"),
        ("concurrency = 2.5", "whole number"),
        ("schedule = 'every night'", "is not a cron line"),
        ("timezone = 'Mars/Olympus'", "not a known time zone"),
        ("sites = 3", "array of tables"),
        ("transport = 'curl'", "`transport` must be one of 'aiohttp', 'httpx'"),
        ("max_crawl_delay = -1", "`max_crawl_delay` must be at least 0"),
        ("[[sites]]\nname = 'x'", "needs at least one URL"),
        ("[[sites]]\nstart_urls = ['ftp://x.org/']", "is not an http(s) URL"),
        ("[[sites]]\nstart_urls = ['http://[::1']", "is not an http(s) URL"),
        ("[[sites]]\nstart_urls = ['http://x.org:99999/']", "is not an http(s) URL"),
        ("[[sites]]\nstart_urls = ['https://x.org/']\ninclude = ['(']", "not a valid regex"),
        ("[[sites]]\nstart_urls = ['https://x.org/']\nscope = 1", "unknown setting(s) scope"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert message in caught.value.message


def test_missing_file_and_bad_flags(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="--delay must be at least"):
        load_settings(None, delay=-1.0)
    with pytest.raises(ConfigError, match="not a valid regex"):
        load_settings(None, include=("[",))
    with pytest.raises(ConfigError, match="not an http"):
        load_settings(None, urls=("example.org",))


def test_cli_reports_a_bad_file_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "delay = -3")
    result = CliRunner().invoke(cli, ["crawl", "--config", str(path)])
    assert result.exit_code == 1
    assert "Error: `delay` must be at least 0.0" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://[bad/x", "http://h.test:99999/", "file:///etc/passwd", ""]
)
def test_cli_refuses_a_broken_start_url_in_one_line(tmp_path: Path, url: str) -> None:
    result = CliRunner().invoke(cli, ["crawl", url, "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 1
    assert f"Error: argument: {url!r} is not an http(s) URL." in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "a.db").exists()  # nothing written


def test_cli_without_start_urls_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["crawl", "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 1
    assert "No start URLs" in result.output


def test_cli_uses_the_files_db_unless_db_is_given(tmp_path: Path) -> None:
    from db.lock import ArchiveLock

    path = write(tmp_path, 'db = "from-file.db"\n[[sites]]\nstart_urls = ["http://127.0.0.1:9/"]\n')
    with ArchiveLock(tmp_path / "from-file.db"):  # refuses at once, naming the archive
        result = CliRunner().invoke(cli, ["crawl", "--config", str(path), "--lock-timeout", "0"])
        assert result.exit_code == 1
        assert f"another crawl is running on {tmp_path / 'from-file.db'}" in result.output
    with ArchiveLock(tmp_path / "flag.db"):
        flag = CliRunner().invoke(
            cli, ["crawl", "--config", str(path), "--db", str(tmp_path / "flag.db"), "--lock-timeout", "0"]
        )
        assert f"another crawl is running on {tmp_path / 'flag.db'}" in flag.output
