"""Crawl settings: `verdicts.toml` read with tomllib, then command-line flags on top.

Operators keep the sites they crawl nightly in one file, and override a value for
one run with a flag. Everything the crawl needs is gathered here into a frozen
`Settings`, so the engine and the scheduler never read files or flags themselves.

The file (every key optional except each site's `start_urls`)::

    db = "archive.db"            # relative to the file's directory
    delay = 1.0                  # seconds between requests to one host
    concurrency = 16             # requests in flight per site (sites of a run crawl together)
    per_host = 4                 # requests in flight per host
    user_agent = "verdict-archive/0.1 (+https://example.org/contact)"
    max_pages = 0                # 0 = no limit
    schedule = "0 3 * * *"       # cron, for `verdicts schedule`
    timezone = "Europe/Paris"    # default: the machine's local time zone
    max_crawl_delay = 60.0       # a longer robots.txt Crawl-delay is cut to this (and logged)
    timeout = 120.0              # seconds one page may take in all (headers and body)
    transport = "aiohttp"        # or "httpx": httpx's own client and pool (slower, ~3x CPU)
    lock_timeout = 60.0          # seconds to wait for another command's archive lock (0: fail at once)
    durability = "normal"        # or "full": sync every commit (survives power loss; slower)
    chromium = "/usr/bin/chromium"  # the browser for render = "browser" (or $VERDICTS_CHROMIUM)

    [[sites]]
    name = "example"
    start_urls = ["https://example.org/compare/"]
    hosts = ["www.example.org"]  # widens the scope beyond the start URLs' hosts
    include = ["/compare/"]      # regexes; a URL must match one (when given)
    exclude = ["\\?print="]      # regexes; a URL matching one is skipped
    render = "plain"             # or "browser": parse the DOM headless Chromium builds (docs/render.md)

    public_url = "https://archive.example.org"   # where the archive is served: diff links

    [[notify]]                   # after each crawl, one message per block (apprise URLs)
    urls = ["json://127.0.0.1:9000/hook", "mailto://user:pass@example.org"]
    on = ["price_changed", "verdict_added", "verdict_edited", "page_gone"]  # default: all
    tools = ["Notion AI"]        # only changes about these tools
    min_price_change_pct = 10    # price moves smaller than this are left out
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from crawler import __version__
from crawler.notify import NotifyTarget

DEFAULT_CONFIG = Path("verdicts.toml")
DEFAULT_SCHEDULE = "0 3 * * *"
DEFAULT_USER_AGENT = f"verdict-archive/{__version__} (+https://github.com/verdict-archive/verdict-archive)"

_TOP_KEYS = {
    "db",
    "delay",
    "concurrency",
    "per_host",
    "user_agent",
    "max_pages",
    "schedule",
    "timezone",
    "max_crawl_delay",
    "transport",
    "lock_timeout",
    "durability",
    "timeout",
    "sites",
    "notify",
    "public_url",
    "chromium",
}
TRANSPORTS = ("aiohttp", "httpx")
DURABILITIES = ("normal", "full")
DEFAULT_LOCK_TIMEOUT = 60.0  # db.lock.DEFAULT_TIMEOUT (not imported: settings stay below db/)
DEFAULT_MAX_CRAWL_DELAY = 60.0
DEFAULT_TIMEOUT = 120.0
_SITE_KEYS = {"name", "start_urls", "hosts", "include", "exclude", "render"}
#: How a site's HTML pages are read: as served, or as headless Chromium renders them.
RENDERS = ("plain", "browser")
_NOTIFY_KEYS = {"urls", "on", "tools", "min_price_change_pct"}


class ConfigError(click.ClickException):
    """A settings file or flag the user has to fix; one sentence, no traceback."""


@dataclass(frozen=True, slots=True)
class Site:
    """One set of start URLs crawled together: one `crawls` row per run."""

    name: str
    start_urls: tuple[str, ...]
    hosts: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    render: str = RENDERS[0]  # "browser": pages are parsed as Chromium renders them (crawler/render.py)

    @property
    def scope_hosts(self) -> frozenset[str]:
        """The start URLs' hosts plus any the config adds, lower-cased."""
        found = {urlsplit(url).hostname or "" for url in self.start_urls}
        return frozenset(host.lower() for host in (*found, *self.hosts) if host)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a crawl or a schedule needs, already validated."""

    db_path: Path
    sites: tuple[Site, ...] = ()
    delay: float = 1.0
    concurrency: int = 16
    per_host: int = 4
    user_agent: str = DEFAULT_USER_AGENT
    max_pages: int | None = None
    schedule: str = DEFAULT_SCHEDULE
    timezone: str | None = None
    config_path: Path | None = None
    max_crawl_delay: float = DEFAULT_MAX_CRAWL_DELAY
    transport: str = TRANSPORTS[0]
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    durability: str = DURABILITIES[0]
    timeout: float = DEFAULT_TIMEOUT  # one page's request in all, however slowly it trickles
    #: Which addresses count as private (None: crawler.addresses' default). Not a file setting:
    #: tests use it to model a public host with a loopback address.
    address_is_private: Callable[[Any], bool] | None = None
    notify: tuple[NotifyTarget, ...] = ()  # [[notify]] blocks (crawler/notify.py)
    public_url: str | None = None  # where the archive is published: links in notifications
    chromium: str | None = None  # the browser's executable (None: $VERDICTS_CHROMIUM or the default)

    def zone(self) -> ZoneInfo:
        """The schedule's time zone: the configured one, else the machine's local zone."""
        if self.timezone:
            return ZoneInfo(self.timezone)
        from tzlocal import get_localzone

        local = get_localzone()
        return local if isinstance(local, ZoneInfo) else ZoneInfo(str(local))


def load_settings(
    config_path: Path | None = None,
    *,
    urls: Iterable[str] = (),
    db_path: Path | None = None,
    delay: float | None = None,
    concurrency: int | None = None,
    per_host: int | None = None,
    user_agent: str | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    max_pages: int | None = None,
    lock_timeout: float | None = None,
    durability: str | None = None,
    timeout: float | None = None,
    render: str | None = None,
) -> Settings:
    """Read `config_path` (or ./verdicts.toml when it exists) and apply the flags.

    Start URLs given as arguments replace the file's sites with one site made of
    them; include/exclude flags are added to every site's patterns; `render` applies to
    every site.
    """
    path = config_path
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    data = read_config(path) if path is not None else {}
    base = path.parent if path is not None else Path()

    sites = tuple(_site(entry, index) for index, entry in enumerate(data.get("sites", [])))
    url_list = tuple(urls)
    if url_list:
        sites = (Site(name="command line", start_urls=_check_urls(url_list, "argument")),)
    extra_include, extra_exclude = tuple(include), tuple(exclude)
    _check_patterns(extra_include, "--include")
    _check_patterns(extra_exclude, "--exclude")
    if extra_include or extra_exclude:
        sites = tuple(
            replace(s, include=s.include + extra_include, exclude=s.exclude + extra_exclude) for s in sites
        )
    if render is not None:
        if render not in RENDERS:
            raise ConfigError(f"--render must be one of {', '.join(RENDERS)}.")
        sites = tuple(replace(s, render=render) for s in sites)

    file_db = data.get("db")
    settings = Settings(
        db_path=db_path if db_path is not None else Path(file_db or "archive.db"),
        sites=sites,
        delay=_number(data, "delay", float, minimum=0.0, default=1.0),
        concurrency=_number(data, "concurrency", int, minimum=1, default=16),
        per_host=_number(data, "per_host", int, minimum=1, default=4),
        user_agent=_string(data, "user_agent", DEFAULT_USER_AGENT),
        max_pages=_number(data, "max_pages", int, minimum=0, default=0) or None,
        schedule=_string(data, "schedule", DEFAULT_SCHEDULE),
        timezone=data.get("timezone"),
        config_path=path,
        max_crawl_delay=_number(data, "max_crawl_delay", float, minimum=0.0, default=DEFAULT_MAX_CRAWL_DELAY),
        transport=_choice(data, "transport", TRANSPORTS),
        lock_timeout=_number(data, "lock_timeout", float, minimum=0.0, default=DEFAULT_LOCK_TIMEOUT),
        durability=_choice(data, "durability", DURABILITIES),
        timeout=_number(data, "timeout", float, minimum=0.1, default=DEFAULT_TIMEOUT),
        notify=tuple(_notify(entry, index) for index, entry in enumerate(data.get("notify", []))),
        public_url=_public_url(data),
        chromium=_optional_string(data, "chromium"),
    )
    if db_path is None and file_db and path is not None:
        settings = replace(settings, db_path=base / file_db)
    overrides: dict[str, Any] = {}
    for name, value, minimum in (
        ("delay", delay, 0.0),
        ("concurrency", concurrency, 1),
        ("per_host", per_host, 1),
        ("max_pages", max_pages, 0),
        ("lock_timeout", lock_timeout, 0.0),
        ("timeout", timeout, 0.1),
    ):
        if value is not None:
            if value < minimum:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least {minimum}.")
            overrides[name] = value
    if user_agent:
        overrides["user_agent"] = user_agent
    if durability is not None:
        if durability not in DURABILITIES:
            raise ConfigError(f"--durability must be one of {', '.join(DURABILITIES)}.")
        overrides["durability"] = durability
    if overrides.get("max_pages") == 0:
        overrides["max_pages"] = None
    settings = replace(settings, **overrides)
    _check_schedule(settings)
    return settings


def read_config(path: Path) -> dict[str, Any]:
    """The parsed TOML file, with unknown keys rejected by name."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as error:
        raise ConfigError(f"Settings file {path} does not exist.") from error
    except OSError as error:
        raise ConfigError(f"Could not read settings file {path}: {error.strerror}.") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}.") from error
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}.")
    if not isinstance(data.get("sites", []), list):
        raise ConfigError(f"{path}: `sites` must be an array of tables ([[sites]]).")
    if not isinstance(data.get("notify", []), list):
        raise ConfigError(f"{path}: `notify` must be an array of tables ([[notify]]).")
    return data


def _check_table(entry: Any, where: str, keys: set[str], shape: str) -> None:
    """One [[sites]] or [[notify]] entry is a table of known settings, or a ConfigError."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be {shape}.")
    unknown = sorted(set(entry) - keys)
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}.")


def _site(entry: Any, index: int) -> Site:
    where = f"sites[{index}]"
    _check_table(entry, where, _SITE_KEYS, "a table")
    start_urls = _string_list(entry, "start_urls", where)
    if not start_urls:
        raise ConfigError(f"{where} needs at least one URL in start_urls.")
    include = _string_list(entry, "include", where)
    exclude = _string_list(entry, "exclude", where)
    _check_patterns(include, f"{where}.include")
    _check_patterns(exclude, f"{where}.exclude")
    hosts = tuple(h.lower() for h in _string_list(entry, "hosts", where))
    render = entry.get("render", RENDERS[0])
    if render not in RENDERS:
        raise ConfigError(f"{where}.render must be one of {', '.join(map(repr, RENDERS))}, not {render!r}.")
    name = entry.get("name", f"site {index + 1}")
    if not isinstance(name, str):
        raise ConfigError(f"{where}.name must be a string.")
    return Site(
        name=name,
        start_urls=_check_urls(start_urls, f"{where}.start_urls"),
        hosts=hosts,
        include=include,
        exclude=exclude,
        render=render,
    )


def _notify(entry: Any, index: int) -> NotifyTarget:
    from db.changes import KINDS

    where = f"notify[{index}]"
    _check_table(entry, where, _NOTIFY_KEYS, "a table ([[notify]])")
    urls = _string_list(entry, "urls", where)
    if not urls:
        raise ConfigError(f"{where} needs at least one URL in urls (an apprise URL, e.g. json://host/path).")
    kinds = _string_list(entry, "on", where)
    wrong = sorted(set(kinds) - set(KINDS))
    if wrong:
        raise ConfigError(f"{where}.on: unknown kind(s) {', '.join(wrong)}; known: {', '.join(KINDS)}.")
    threshold = None
    if "min_price_change_pct" in entry:
        threshold = _number(entry, "min_price_change_pct", float, minimum=0.0, default=None)
    return NotifyTarget(
        urls=urls,
        on=frozenset(kinds) if kinds else None,
        tools=_string_list(entry, "tools", where),
        min_price_change_pct=threshold,
    )


def _public_url(data: Mapping[str, Any]) -> str | None:
    value = data.get("public_url")
    if value is None:
        return None
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        raise ConfigError(f"`public_url` must be an http(s) URL, not {value!r}.")
    return value.rstrip("/")


def _string_list(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key} must be a list of strings.")
    return tuple(value)


def _check_urls(urls: tuple[str, ...], where: str) -> tuple[str, ...]:
    from crawler.urls import try_canonicalize

    for url in urls:
        try:  # urlsplit itself refuses some (an unclosed IPv6 bracket)
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid or try_canonicalize(url) is None:  # a port out of range, ...
            raise ConfigError(f"{where}: {url!r} is not an http(s) URL.")
    return urls


def _check_patterns(patterns: tuple[str, ...], where: str) -> None:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ConfigError(f"{where}: {pattern!r} is not a valid regex ({error}).") from error


def _number(data: Mapping[str, Any], key: str, kind: type, *, minimum: float, default: Any) -> Any:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"`{key}` must be a number, not {value!r}.")
    if kind is int and not isinstance(value, int):
        raise ConfigError(f"`{key}` must be a whole number, not {value!r}.")
    if value < minimum:
        raise ConfigError(f"`{key}` must be at least {minimum}, not {value!r}.")
    return kind(value)


def _string(data: Mapping[str, Any], key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"`{key}` must be a non-empty string.")
    return value


def _optional_string(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"`{key}` must be a non-empty string.")
    return value


def _choice(data: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = data.get(key, choices[0])
    if value not in choices:
        raise ConfigError(f"`{key}` must be one of {', '.join(map(repr, choices))}, not {value!r}.")
    return str(value)


def _check_schedule(settings: Settings) -> None:
    """Fail early on a cron line or time zone the scheduler would reject."""
    try:
        zone = settings.zone()
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigError(f"`timezone` {settings.timezone!r} is not a known time zone.") from error
    if settings.schedule == DEFAULT_SCHEDULE:
        return  # valid in every zone: spare every crawl APScheduler's import (~25 ms CPU)
    from crawler.schedule import cron_trigger

    try:
        cron_trigger(settings.schedule, zone)
    except ValueError as error:
        raise ConfigError(f"`schedule` {settings.schedule!r} is not a cron line: {error}.") from error
