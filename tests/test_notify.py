"""Notifications (crawler/notify.py): filters and messages on plain values, then real crawls
of two site editions sending through apprise to a real webhook receiver on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler import notify
from crawler.cli import cli
from crawler.config import Settings, Site
from crawler.engine import run_crawl
from crawler.notify import ChangeRow, NotifyTarget, compose, matches
from crawler.static_server import serve_directory
from db.archive import connect
from tests.loopback import free_port
from tests.test_changes_crawl import build, page


def row(kind: str = "price_changed", tool: str | None = "Alpha", pct: float | None = 25.0) -> ChangeRow:
    return ChangeRow(
        kind, tool, "entry_price_usd", "20", "25", pct, "Alpha vs Beta", "c" * 16, "t", "/-/history/x/1..2"
    )


@pytest.mark.parametrize(
    ("target", "change", "expected"),
    [
        (NotifyTarget(("json://x",)), row(), True),
        (NotifyTarget(("json://x",), on=frozenset({"page_gone"})), row(), False),
        (NotifyTarget(("json://x",), tools=("alpha",)), row(), True),
        (NotifyTarget(("json://x",), tools=("Beta",)), row(), False),
        (NotifyTarget(("json://x",), min_price_change_pct=30), row(pct=25.0), False),
        (NotifyTarget(("json://x",), min_price_change_pct=20), row(pct=-25.0), True),
        (NotifyTarget(("json://x",), min_price_change_pct=20), row(pct=None), True),  # from free
        (NotifyTarget(("json://x",), min_price_change_pct=50), row("verdict_added"), True),
    ],
)
def test_filters(target: NotifyTarget, change: ChangeRow, expected: bool) -> None:
    assert matches(change, target) is expected


def test_a_message_has_counts_then_changes_with_diff_links() -> None:
    changes = [row(), row("verdict_added", pct=None), row()]
    title, body = compose("demo", 7, changes, "https://archive.example/")
    assert "2 price changed, 1 verdict added" in title and "crawl 7" in title
    assert "https://archive.example/-/history/x/1..2" in body
    assert body.count("\n- ") == 3


def test_the_target_label_keeps_no_credentials() -> None:
    target = NotifyTarget(("mailto://user:secret@mail.example/to", "json://127.0.0.1:9/hook?token=s"))
    assert target.label() == "mailto://mail.example, json://127.0.0.1:9"


class Receiver:
    """A webhook receiver on 127.0.0.1: keeps every JSON body POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.messages: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.messages.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "RETRY_SECONDS", 0.01)


def two_crawls(tmp_path: Path, targets: tuple[NotifyTarget, ...]) -> tuple[Path, list[int]]:
    pages = [page("Quillstream", "Proofhound"), page("Patchwright", "Stackfold")]
    moved = [
        page("Quillstream", "Proofhound", prices={"Quillstream": "$25/mo"}),
        page("Patchwright", "Stackfold", prices={"Patchwright": "$15/user/mo"}),
    ]
    first, second = build(tmp_path / "a", pages), build(tmp_path / "b", moved)
    db_path, port, codes = tmp_path / "archive.db", free_port(), []
    for site in (first, second):
        with serve_directory(site, port) as origin:
            settings = Settings(
                db_path=db_path,
                sites=(Site(name="t", start_urls=(f"{origin}/",)),),
                delay=0.0,
                notify=targets,
                public_url="https://archive.example",
            )
            codes.append(run_crawl(settings))
    return db_path, codes


def recorded(db_path: Path) -> list[tuple[Any, ...]]:
    db = connect(db_path)
    try:
        return db.execute(
            "select crawl_id, status, changes, attempts from notifications order by id"
        ).fetchall()
    finally:
        db.close()


def test_one_message_per_crawl_and_target_and_none_without_changes(
    tmp_path: Path, receiver: Receiver
) -> None:
    every = NotifyTarget((receiver.url,))
    big_moves = NotifyTarget(
        (receiver.url + "/big",), on=frozenset({"price_changed"}), min_price_change_pct=20
    )
    nobody = NotifyTarget((receiver.url + "/none",), tools=("No Such Tool",))
    db_path, codes = two_crawls(tmp_path, (every, big_moves, nobody))
    assert codes == [0, 0]
    # crawl 1 is the baseline (no change), crawl 2 moved two prices: +25 % and +25 %.
    assert len(receiver.messages) == 2
    bodies = sorted(m["message"] for m in receiver.messages)
    assert all("2 price changed" in body for body in bodies)
    assert all("https://archive.example/-/history/" in body for body in bodies)
    assert recorded(db_path) == [
        (1, "nothing", 0, 0),
        (1, "nothing", 0, 0),
        (1, "nothing", 0, 0),
        (2, "sent", 2, 1),
        (2, "sent", 2, 1),
        (2, "nothing", 0, 0),
    ]


def test_a_failing_target_is_retried_recorded_and_never_fails_the_crawl(
    tmp_path: Path, receiver: Receiver, fast_retries: None, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = NotifyTarget((f"json://127.0.0.1:{free_port()}/hook",))
    db_path, codes = two_crawls(tmp_path, (dead, NotifyTarget((receiver.url,))))
    assert codes == [0, 0]
    assert len(receiver.messages) == 1  # the working target still got its message
    assert recorded(db_path)[-2:] == [(2, "failed", 2, notify.ATTEMPTS), (2, "sent", 2, 1)]
    assert "FAILED after 3 attempts" in capsys.readouterr().out


def test_notify_test_sends_a_sample(tmp_path: Path, receiver: Receiver) -> None:
    config = tmp_path / "verdicts.toml"
    config.write_text(f'[[notify]]\nurls = ["{receiver.url}"]\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["notify", "--test", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert len(receiver.messages) == 1 and "test message" in receiver.messages[0]["message"]


def test_notify_test_without_targets_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "verdicts.toml"
    config.write_text("delay = 1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["notify", "--test", "--config", str(config)])
    assert result.exit_code == 1 and "[[notify]]" in result.output


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ('[[notify]]\non = ["price_changed"]\n', "needs at least one URL"),
        ('[[notify]]\nurls = ["json://h/"]\non = ["price_jumped"]\n', "unknown kind"),
        ('[[notify]]\nurls = ["json://h/"]\nmin_price_change_pct = "ten"\n', "must be a number"),
        ('[[notify]]\nurls = ["json://h/"]\ncolour = 1\n', "unknown setting"),
    ],
)
def test_bad_notify_blocks_are_clear_errors(tmp_path: Path, block: str, message: str) -> None:
    from crawler.config import ConfigError, load_settings

    config = tmp_path / "verdicts.toml"
    config.write_text(block, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(config)
