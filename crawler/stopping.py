"""Stop signals (SIGINT, SIGTERM): a crawl stops cleanly whenever one arrives.

A signal sets an event that the crawl polls: it stops after the pages in flight,
stores them and exits 130 (the next crawl resumes). Python's default handlers would
instead kill the process with -15 or raise KeyboardInterrupt wherever it happened to
be, so the crawl command installs these before anything else and keeps them until it
exits (`catch_stop_signals`); once its outcome is recorded, `ignore_stop_signals` makes
a late signal harmless through the interpreter's shutdown, which would otherwise restore
the default handlers and let a signal end the process with -15.

A second SIGINT still interrupts at once (Ctrl+C twice); the crawl's rows then stay
`running` and the next crawl resumes them.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["STOP_SIGNALS", "catch_stop_signals", "ignore_stop_signals", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def catch_stop_signals(stop: threading.Event | None = None) -> threading.Event:
    """Route SIGINT/SIGTERM to `stop` (a new event by default) until the process ends or
    the handlers are replaced; returns the event. Main thread only."""
    stop = stop or threading.Event()

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    return stop


def ignore_stop_signals() -> None:
    """The command's outcome is decided: a signal now has nothing left to stop."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT/SIGTERM for the block; the previous handlers come back after
    (outside the main thread, where no handler can be installed, an event nothing sets)."""
    if threading.current_thread() is not threading.main_thread():
        yield threading.Event()
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    stop = catch_stop_signals()
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            if old is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(sig, old)
