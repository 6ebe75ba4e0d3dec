"""A fast static HTTP/1.1 server for a directory on 127.0.0.1, for the demo, tests and benchmarks.

`verdicts demo` and the end-to-end tests crawl a bundled site over real HTTP, and the
benchmarks need a server that is not the bottleneck. The standard library's
`http.server` spends more CPU per request than the crawler being measured, so this
is a small asyncio protocol in a background thread: keep-alive, no per-request
allocations beyond the response, bodies cached in memory.

It behaves like a plain web server where the crawler cares: `index.html` for
directory URLs, ETag + Last-Modified with 304 on conditional requests, Content-Type
by extension, `404.html` served with status 404. Sitemaps and robots.txt in a
fixture cannot know the port they will be served on, so the literal `__ORIGIN__` in
`.xml`, `.xml.gz` and `.txt` bodies is replaced by `http://127.0.0.1:<port>`.
Every request is recorded in `requests`, so tests can prove what was (not) fetched.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

PLACEHOLDER = b"__ORIGIN__"
_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".gz": "application/gzip",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css",
    ".js": "text/javascript",
}
_REASONS = {200: "OK", 301: "Moved Permanently", 304: "Not Modified", 404: "Not Found"}
_REASONS.update({400: "Bad Request", 405: "Method Not Allowed"})
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION = re.compile(r"HTTP/1\.[01]")


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the server saw it."""

    method: str
    path: str  # path and query, as sent
    status: int
    conditional: bool  # sent If-None-Match or If-Modified-Since
    at: float = 0.0  # time.monotonic() when it was answered: spacing per host in tests
    user_agent: str | None = None  # the User-Agent header sent


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    content_type: str
    etag: str
    last_modified: str
    mtime: float


class StaticServer:
    """Serve `root` on 127.0.0.1 (a free port unless given) from a background thread.

    `host` another loopback address (127.0.0.2, ...) makes another host for the crawler,
    whose politeness is per host name, not per port."""

    def __init__(self, root: str | Path, port: int = 0, host: str = "127.0.0.1") -> None:
        self.root = Path(root).resolve()
        self.port = port
        self.host = host
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []  # unexpected errors while answering (each got a 400)
        self._cache: dict[Path, _File] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(lambda: _Protocol(self), self.host, self.port)
                )
            except BaseException as error:  # reported to the starting thread
                failure.append(error)
                ready.set()
                loop.close()
                return
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            try:
                loop.run_forever()
            finally:
                self._server.close()
                loop.run_until_complete(self._server.wait_closed())
                loop.close()

        self._thread = threading.Thread(target=run, name="static-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self.origin

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> StaticServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def paths(self, method: str = "GET") -> list[str]:
        """The paths requested with `method`, in order."""
        with self._lock:
            return [r.path for r in self.requests if r.method == method]

    # -- serving ---------------------------------------------------------------------------

    def respond(self, method: str, target: str, headers: dict[str, str]) -> bytes:
        path = unquote(urlsplit(target).path) or "/"
        if not path.startswith("/") or "\x00" in path:
            return self._bad_request(method, target)
        status, extra, file = self._resolve(path)
        conditional = "if-none-match" in headers or "if-modified-since" in headers
        body = b""
        out = list(extra)
        if file is not None:
            out += [
                ("Content-Type", file.content_type),
                ("ETag", file.etag),
                ("Last-Modified", file.last_modified),
            ]
            if status == 200 and _not_modified(file, headers):
                status = 304
            else:
                body = file.body
        if method not in ("GET", "HEAD"):
            status, body, out = 405, b"", [("Allow", "GET, HEAD")]
        with self._lock:
            self.requests.append(
                Request(method, target, status, conditional, time.monotonic(), headers.get("user-agent"))
            )
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
        head += [f"{name}: {value}" for name, value in out]
        if status != 304:
            head.append(f"Content-Length: {len(body)}")
        payload = "\r\n".join(head).encode("latin-1") + b"\r\n\r\n"
        return payload if method == "HEAD" or status == 304 else payload + body

    def _bad_request(self, method: str, target: str) -> bytes:
        with self._lock:
            self.requests.append(Request(method, target, 400, False))
        return BAD_REQUEST

    def _resolve(self, path: str) -> tuple[int, list[tuple[str, str]], _File | None]:
        try:
            return self._find(path)
        except (OSError, ValueError):  # a name too long, a symlink loop...: not found
            return 404, [], self._load(self.root / "404.html")

    def _find(self, path: str) -> tuple[int, list[tuple[str, str]], _File | None]:
        candidate = (self.root / path.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.root):
            return 404, [], self._load(self.root / "404.html")
        if candidate.is_dir():
            if not path.endswith("/"):
                return 301, [("Location", path + "/")], None
            candidate = candidate / "index.html"
        if candidate.is_file():
            return 200, [], self._load(candidate)
        return 404, [], self._load(self.root / "404.html")

    def _load(self, path: Path) -> _File | None:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        cached = self._cache.get(path)
        if cached is not None and cached.mtime == mtime:
            return cached
        body = path.read_bytes()
        name = path.name.lower()
        if name.endswith((".xml", ".txt")):
            body = body.replace(PLACEHOLDER, self.origin.encode())
        elif name.endswith(".xml.gz"):
            body = gzip.compress(gzip.decompress(body).replace(PLACEHOLDER, self.origin.encode()), mtime=0)
        content_type = _TYPES.get(path.suffix.lower()) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        file = _File(
            body=body,
            content_type=content_type,
            etag='"' + hashlib.sha1(body).hexdigest()[:20] + '"',
            last_modified=formatdate(mtime, usegmt=True),
            mtime=mtime,
        )
        self._cache[path] = file
        return file


def _not_modified(file: _File, headers: dict[str, str]) -> bool:
    if "if-none-match" in headers:
        tags = {tag.strip().removeprefix("W/") for tag in headers["if-none-match"].split(",")}
        return file.etag in tags or "*" in tags
    since = headers.get("if-modified-since")
    if since:
        try:
            return int(file.mtime) <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False
    return False


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]] | None:
    """(method, target, version, headers) of a request head, or None if it is malformed.

    Malformed: not three parts in the request line, a method that is not a token, a version
    other than HTTP/1.0 or 1.1, a target that is not a path, a control byte anywhere, a
    header line without a name, or a request body (this server does not read bodies, so
    its bytes would be taken for the next request).
    """
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if not _TOKEN.fullmatch(method) or not _VERSION.fullmatch(version) or not target.startswith("/"):
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name) or any(ord(c) < 0x20 and c != "\t" for c in value):
            return None
        headers[name.lower()] = value.strip(" \t")
    if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
        return None
    return method, target, version, headers


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive for GET and HEAD; request bodies are not supported.

    Anything malformed gets a 400 and the connection is closed; nothing a client sends
    can raise out of here (an unexpected error still answers 400, and is counted in
    `StaticServer.errors` so tests see it).
    """

    def __init__(self, server: StaticServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:  # a head this long is not a request
                    self.transport.write(BAD_REQUEST)
                    self.transport.close()
                    self.transport = None
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            try:
                request = parse_head(head)
                if request is None:
                    response = BAD_REQUEST
                else:
                    response = self.server.respond(request[0], request[1], request[3])
            except Exception as error:  # never a traceback and a dropped connection
                self.server.errors.append(error)
                request, response = None, BAD_REQUEST
            self.transport.write(response)
            if request is None or response is BAD_REQUEST:
                self.transport.close()
                self.transport = None
                return
            _, _, version, headers = request
            connection = headers.get("connection", "").lower()
            if connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive"):
                self.transport.close()
                self.transport = None


@contextmanager
def serve_directory(path: str | Path, port: int = 0) -> Iterator[str]:
    """Serve `path` on 127.0.0.1 for the duration of the block; yields the origin URL."""
    with StaticServer(path, port) as server:
        yield server.origin


def main() -> None:  # pragma: no cover - `python -m crawler.static_server DIR [PORT]`
    import sys

    root = sys.argv[1] if len(sys.argv) > 1 else "."
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    with StaticServer(root, port) as server:
        print(server.origin, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
