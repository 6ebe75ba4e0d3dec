"""A real HTTP/1.1 server on 127.0.0.1 whose routes misbehave on purpose.

Fetch tests need a server that answers 503 then 200, drops the connection halfway through a
body, stalls past a timeout, streams without end, redirects in circles... and a log that proves
what was (and was not) requested. This is that server: `http.server` on a random free port in
a background thread, keep-alive on, every route a list of `Reply`s (the last one repeats) or a
function of the request headers.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FakeTime", "FaultServer", "Reply", "Request"]

CHUNK = 64 * 1024


@dataclass
class Reply:
    """One canned answer. `body` is sent as is (gzipped first when `gzip` is set)."""

    status: int = 200
    body: bytes = b"<html><body>ok</body></html>"
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before the status line
    drop_after: int | None = None  # send this many body bytes of a longer promised body, then close
    stall: float = 0.0  # with drop_after: wait this long after the partial body before closing
    endless: bool = False  # stream CHUNK-sized pieces until the client goes away (or `endless_cap`)
    endless_cap: int = 64 * 1024 * 1024
    content_length: int | None = None  # override the Content-Length header (any reply)
    gzip: bool = False
    raw: bytes | None = None  # sent as the whole response (status line, headers, body), then closed
    trickle: float = 0.0  # send a byte of body every `trickle` seconds, never finishing
    raw_trickle: float = 0.0  # with `raw`: send it a byte every `raw_trickle` seconds (for a minute at most)


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]


Route = list[Reply] | Callable[[dict[str, str]], Reply]


class FaultServer:
    """Routes by exact path (query included); unknown paths answer 404."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[Request] = []
        self.disconnects: list[str] = []  # paths whose client hung up while the body streamed
        self.bytes_sent: dict[str, int] = {}
        self.connections = 0  # TCP connections accepted
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port = self._server.server_address[1]
        self.origin = f"http://{host}:{self.port}"
        self.errors: list[str] = []  # exceptions raised while handling a request
        self._server.handle_error = self._handle_error  # type: ignore[method-assign]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return self.origin + path

    def route(self, path: str, *replies: Reply | Callable[[dict[str, str]], Reply]) -> None:
        """Answer `path` with `replies` in turn (the last repeats), or with a function."""
        if len(replies) == 1 and callable(replies[0]) and not isinstance(replies[0], Reply):
            self.routes[path] = replies[0]
        else:
            self.routes[path] = list(replies)  # type: ignore[arg-type]

    def paths(self) -> list[str]:
        """Every path requested so far, in order."""
        with self._lock:
            return [request.path for request in self.log]

    def wait_for_disconnect(self, path: str, timeout: float = 5.0) -> bool:
        """True once the server has seen the client hang up on `path`'s body."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if path in self.disconnects:
                    return True
            time.sleep(0.01)
        return False

    def _handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        with self._lock:
            self.errors.append(f"{type(error).__name__}: {error}")

    def _next_reply(self, path: str, headers: dict[str, str]) -> Reply:
        with self._lock:
            self.log.append(Request(path, headers))
            route = self.routes.get(path)
            count = self._counts.get(path, 0)
            self._counts[path] = count + 1
        if route is None:
            return Reply(404, b"not found", "text/plain")
        if callable(route):
            return route(headers)
        return route[min(count, len(route) - 1)]

    def _record(self, path: str, sent: int, disconnected: bool) -> None:
        with self._lock:
            self.bytes_sent[path] = self.bytes_sent.get(path, 0) + sent
            if disconnected:
                self.disconnects.append(path)


def _handler_for(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server.connections += 1

        def do_GET(self) -> None:
            headers = {key.lower(): value for key, value in self.headers.items()}
            reply = server._next_reply(self.path, headers)
            if reply.delay:
                time.sleep(reply.delay)
            body = gzip.compress(reply.body) if reply.gzip else reply.body
            try:
                if reply.raw is not None:
                    self._send_raw(reply.raw, reply.raw_trickle)
                    return
                self.send_response(reply.status)
                if reply.content_type is not None:
                    self.send_header("Content-Type", reply.content_type)
                if reply.gzip:
                    self.send_header("Content-Encoding", "gzip")
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if reply.endless:
                    if reply.content_length is not None:
                        self.send_header("Content-Length", str(reply.content_length))
                    else:
                        self.send_header("Connection", "close")  # body ends when the socket does
                    self.end_headers()
                    self._stream_endless(reply)
                    return
                if reply.trickle:
                    self.send_header("Content-Length", str(reply.content_length or 10**9))
                    self.end_headers()
                    self._trickle(reply.trickle)
                    return
                length = len(body) if reply.content_length is None else reply.content_length
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if reply.status == 304:
                    return
                if reply.drop_after is not None:
                    self.wfile.write(body[: reply.drop_after])
                    self.wfile.flush()
                    if reply.stall:
                        time.sleep(reply.stall)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)
                if length > len(body):  # promised more than it sends: hang up after the body
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _send_raw(self, data: bytes, every: float = 0.0) -> None:
            self.close_connection = True
            if every:
                deadline = time.monotonic() + 60.0
                sent, disconnected = 0, False
                try:
                    while sent < len(data) and time.monotonic() < deadline:
                        self.wfile.write(data[sent : sent + 1])
                        self.wfile.flush()
                        sent += 1
                        time.sleep(every)
                except (BrokenPipeError, ConnectionResetError):
                    disconnected = True
                server._record(self.path, sent, disconnected)
                return
            self.wfile.write(data)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

        def _trickle(self, every: float) -> None:
            """One byte at a time until the client hangs up (or a minute has passed)."""
            self.close_connection = True
            sent, disconnected = 0, False
            deadline = time.monotonic() + 60.0
            try:
                self.wfile.write(b"<html><body>")
                while time.monotonic() < deadline:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    sent += 1
                    time.sleep(every)
            except (BrokenPipeError, ConnectionResetError):
                disconnected = True
            server._record(self.path, sent, disconnected)

        def _stream_endless(self, reply: Reply) -> None:
            piece = b"<p>" + b"x" * (CHUNK - 7) + b"</p>"
            sent = 0
            disconnected = False
            try:
                while sent < reply.endless_cap:
                    self.wfile.write(piece)
                    sent += len(piece)
            except (BrokenPipeError, ConnectionResetError):
                disconnected = True
            self.close_connection = True
            server._record(self.path, sent, disconnected)

    return Handler


class FakeTime:
    """A clock and a sleep for the Fetcher that record waits instead of sleeping through them.

    `sleep` moves the clock forward by what was asked, so politeness sees time pass.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)
