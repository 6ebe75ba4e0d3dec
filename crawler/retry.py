"""When to try a request again, and how long to wait first.

A bad night (a server restarting, a rate limiter, a flaky link) should cost a few retries, not a
lost crawl, and retrying must never hammer a host that is already struggling. The policy:
connection errors, timeouts, 5xx and 429 are retried up to `max_attempts` requests in all;
waits grow exponentially with full jitter (AWS "Exponential Backoff and Jitter"), and a server's
`Retry-After` (seconds or an HTTP date) is a floor on the wait. A `Retry-After` longer than
`retry_after_max` is not shortened: the URL is given up for this run instead.

The loop itself lives in the fetcher (it also has to hold politeness slots and read bodies);
this module is the pure part, easy to test: the policy, Retry-After parsing, and which
exceptions are worth a retry, described in one line for the archive. tenacity and stamina were
considered: both retry a callable on exceptions, but a status-driven retry with a server-chosen
wait needs a custom wait and an exception per response, which costs more per request (and reads
less plainly) than this small policy.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

__all__ = [
    "RetryPolicy",
    "describe_error",
    "parse_retry_after",
    "retryable_error",
]

#: 5xx answers that will not change on a retry.
_PERMANENT_5XX = frozenset({501, 505})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent or
    unreadable. A date in the past means 0."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to float
        return float(value)
    from email.utils import parsedate_to_datetime  # rare: kept off the start-up path

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded attempts, exponential backoff with full jitter, Retry-After as a floor."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0

    def retryable_status(self, status: int) -> bool:
        """True for 429 and for 5xx answers that may go away (not 501 / 505)."""
        return status == 429 or (500 <= status < 600 and status not in _PERMANENT_5XX)

    def backoff(self, attempt: int, rand: float | None = None) -> float:
        """Full-jitter wait after failed attempt number `attempt` (1-based):
        uniform in [0, min(backoff_max, backoff_base * 2 ** (attempt - 1))]."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return ceiling * (random.random() if rand is None else rand)

    def wait(self, attempt: int, retry_after: float | None, rand: float | None = None) -> float:
        """Seconds to wait before the next attempt: the jittered backoff, but never less than
        the server's Retry-After. Callers check `too_long` first."""
        wait = self.backoff(attempt, rand)
        if retry_after is not None and retry_after > wait:
            return retry_after
        return wait

    def too_long(self, retry_after: float | None) -> bool:
        """True if the server asked for a longer pause than this run is willing to wait."""
        return retry_after is not None and retry_after > self.retry_after_max


# ---- which exceptions are retried, and how they read in the archive ----------------------------
# The wire raises aiohttp's exceptions (crawler.transport); with httpx (its own pool, or a
# client passed in) httpx's, some of them wrapping an aiohttp cause. httpx is looked up only if
# something already imported it: the default crawl never does.

#: aiohttp errors that the same request will hit again: a response it cannot parse (such as
#: an over-long header line) and a URL it cannot send.
_PERMANENT_AIOHTTP = (aiohttp.ClientResponseError, aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)


def _httpx_permanent() -> tuple[type[BaseException], ...]:
    httpx = sys.modules.get("httpx")
    if httpx is None:
        return ()
    return (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError, httpx.DecodingError)


def retryable_error(error: BaseException) -> bool:
    """True for connection errors and timeouts; False for a request that cannot succeed."""
    return not isinstance(error, _PERMANENT_AIOHTTP + _httpx_permanent())


def describe_error(
    error: BaseException, *, connect_timeout: float, read_timeout: float, total_timeout: float
) -> str:
    """One line saying what went wrong, in words an operator understands.

    httpx-aiohttp maps aiohttp's exceptions to httpx ones loosely (a refused connection or a
    server hang-up arrives as httpx.ConnectTimeout), so an aiohttp cause is read first.
    """
    cause = error if isinstance(error, aiohttp.ClientError) else error.__cause__
    if isinstance(cause, aiohttp.ClientError):
        error = cause
        if isinstance(error, aiohttp.SocketTimeoutError):
            return f"read timeout: no data from the server for {read_timeout:g} s"
        if isinstance(error, aiohttp.ConnectionTimeoutError):
            return f"connect timeout: no connection within {connect_timeout:g} s"
        if isinstance(error, aiohttp.ServerTimeoutError):
            return f"timeout: {_one_line(error) or type(error).__name__}"
        if isinstance(error, aiohttp.ServerDisconnectedError):
            return "connection dropped: the server closed it before the response was complete"
        if isinstance(error, aiohttp.ClientPayloadError):
            return f"connection dropped mid-response: {_one_line(error)}"
        if isinstance(error, aiohttp.ClientConnectorError):
            return f"cannot connect: {_one_line(error.os_error)}"
        if isinstance(error, aiohttp.ClientOSError | aiohttp.ClientConnectionResetError):
            return f"connection dropped: {_one_line(error) or type(error).__name__}"
        if isinstance(error, aiohttp.ClientResponseError) and error.status == 400:
            # aiohttp's parser refusing what the server sent (bad framing, header floods)
            return f"invalid HTTP response: {_first_line(error.message)}"
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(error, httpx.HTTPError):
        if isinstance(error, httpx.ReadTimeout):
            return f"read timeout: no data from the server for {read_timeout:g} s"
        if isinstance(error, httpx.ConnectTimeout):
            return f"connect timeout: no connection within {connect_timeout:g} s"
        if isinstance(error, httpx.TimeoutException):
            return f"timeout: {_one_line(error) or type(error).__name__}"
        if isinstance(error, httpx.ConnectError):
            return f"cannot connect: {_one_line(error)}"
        if isinstance(error, httpx.DecodingError):
            return f"body does not match its Content-Encoding: {_one_line(error)}"
        if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
            return f"connection dropped mid-response: {_one_line(error)}"
    if isinstance(error, TimeoutError):
        return f"timeout: the response took longer than {total_timeout:g} s in all"
    if isinstance(error, ConnectionError):
        return f"connection dropped: {_one_line(error) or type(error).__name__}"
    return f"{type(error).__name__}: {_one_line(error)}"


def _first_line(message: str) -> str:
    return " ".join(message.strip().split("\n", 1)[0].split()).rstrip(":")[:200]


def _one_line(error: object) -> str:
    return " ".join(str(error).split())[:300]
