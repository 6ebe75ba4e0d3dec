"""The writer's read-ahead of the pipe: in order, bounded, end of file last."""

from __future__ import annotations

import time
from multiprocessing import Pipe

import pytest

from crawler.writer import _TIMED_OUT, _Inbox


def test_messages_come_out_in_order_then_end_of_file() -> None:
    parent, child = Pipe()
    for n in range(50):
        parent.send_bytes(b"%d" % n)
    parent.close()
    inbox = _Inbox(child)
    received = [inbox.get(1.0) for _ in range(51)]
    assert received == [b"%d" % n for n in range(50)] + [None]


def test_get_times_out_when_nothing_comes() -> None:
    parent, child = Pipe()
    inbox = _Inbox(child)
    started = time.monotonic()
    assert inbox.get(0.05) is _TIMED_OUT
    assert time.monotonic() - started >= 0.04
    parent.send_bytes(b"late")
    assert inbox.get(1.0) == b"late"


def test_read_ahead_stops_at_its_bound_and_resumes() -> None:
    parent, child = Pipe()
    message = b"x" * 1000
    for _ in range(20):
        parent.send_bytes(message)
    inbox = _Inbox(child, max_bytes=3000)
    deadline = time.monotonic() + 2.0
    while inbox._bytes < 3000 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # give the thread time to read past its bound, were it to
    assert 3000 <= inbox._bytes <= 3000 + len(message) - 1
    assert [inbox.get(1.0) for _ in range(20)] == [message] * 20  # nothing lost past the bound


def test_a_broken_pipe_reads_as_end_of_file(monkeypatch: pytest.MonkeyPatch) -> None:
    parent, child = Pipe()  # the parent end stays open: a working read would block

    def broken() -> bytes:
        raise OSError("connection reset")

    monkeypatch.setattr(child, "recv_bytes", broken)
    assert _Inbox(child).get(1.0) is None
    parent.close()
