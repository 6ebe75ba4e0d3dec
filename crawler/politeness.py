"""How hard the crawler may press on each host, and on the network overall.

Operators crawl sites they do not own, so every request to a host waits for a slot: at most
`per_host` requests to one host in flight, request starts at least `delay` seconds apart per host
(the larger of the configured delay and robots.txt `Crawl-delay`), and a 429 / Retry-After pushes
that host's next slot back for every URL, not just the one that got it. A global semaphore caps
all requests in flight. The per-host wait happens before a global slot is taken, so a host that
must be waited for never blocks the others.

Clock and sleep are injectable so tests can record the waits instead of sleeping through them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["Politeness"]

Sleep = Callable[[float], Awaitable[object]]


class _Host:
    __slots__ = ("delay", "gate", "next_start")

    def __init__(self, per_host: int, delay: float) -> None:
        self.gate = asyncio.Semaphore(per_host)
        self.delay = delay
        self.next_start = 0.0


class Politeness:
    """Per-host delay and concurrency, plus a global concurrency cap.

    Use as `await politeness.acquire(host)` ... `politeness.release(host)` around one request
    (a try/finally; cheaper than an async context manager on the hot path).
    """

    __slots__ = ("_clock", "_global", "_hosts", "_sleep", "delay", "per_host")

    def __init__(
        self,
        delay: float,
        per_host: int,
        concurrency: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if per_host < 1 or concurrency < 1:
            raise ValueError("per_host and concurrency must be at least 1")
        self.delay = max(0.0, delay)
        self.per_host = per_host
        self._global = asyncio.Semaphore(concurrency)
        self._hosts: dict[str, _Host] = {}
        self._clock = clock
        self._sleep = sleep

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(self.per_host, self.delay)
        return state

    def set_crawl_delay(self, host: str, crawl_delay: float | None) -> None:
        """Apply robots.txt Crawl-delay: the host's delay becomes max(delay, crawl_delay)."""
        state = self._host(host)
        delay = max(self.delay, crawl_delay or 0.0)
        if state.next_start > 0.0:  # a request already started: space the next one by the new delay
            state.next_start += delay - state.delay
        state.delay = delay

    def host_delay(self, host: str) -> float:
        """The delay currently applied between request starts to `host`."""
        return self._host(host).delay

    def penalize(self, host: str, seconds: float) -> None:
        """No new request to `host` starts within `seconds` from now (429 / Retry-After)."""
        state = self._host(host)
        state.next_start = max(state.next_start, self._clock() + seconds)

    async def acquire(self, host: str) -> None:
        """Wait for a slot on `host` (concurrency, then its delay), then for a global slot."""
        state = self._host(host)
        await state.gate.acquire()
        try:
            if state.delay > 0.0 or state.next_start > 0.0:
                now = self._clock()
                start = max(now, state.next_start)
                state.next_start = start + state.delay  # reserved before sleeping: no races
                if start > now:
                    await self._sleep(start - now)
            await self._global.acquire()
        except BaseException:
            state.gate.release()
            raise

    def release(self, host: str) -> None:
        """Give back the slots taken by `acquire(host)`."""
        self._global.release()
        self._hosts[host].gate.release()
