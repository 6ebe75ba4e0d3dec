"""One HTTP exchange as it went over the wire: what a WARC needs besides the payload.

A web archive (WARC, `verdicts warc export`) keeps the request sent and the response's
status line and headers as received, with the server's IP address. The wires
(crawler.transport) build an `Exchange` from what their HTTP library already parsed:
header blocks joined back into bytes, one line per header in the order received. Cheap
enough to take on every response (a join of a few short byte strings); the writer
process stores it compactly (db/fetch_log.py).

The body is not here: the fetcher keeps it after its Content-Encoding (FetchResult.body),
which the export says in the record.
"""

from __future__ import annotations

from typing import Any, NamedTuple

CRLF = b"\r\n"


class Exchange(NamedTuple):
    """Request and response heads of the final hop of a fetch (a tuple: pickles cheaply)."""

    request: bytes  # request line and headers as sent, CRLF-separated, no blank line
    response: bytes  # status line and headers as received, CRLF-separated, no blank line
    remote_ip: str | None  # the server's address, when the connection tells it


def head(first_line: bytes, headers: Any) -> bytes:
    """`first_line` and `headers` ((name, value) byte or str pairs) as one header block."""
    lines = [first_line]
    for name, value in headers:
        if isinstance(name, str):
            name, value = name.encode("latin-1"), value.encode("latin-1")
        lines.append(name + b": " + value)
    return CRLF.join(lines)


def from_aiohttp(response: Any) -> Exchange:
    """The exchange of an aiohttp ClientResponse whose body is not read yet."""
    version = response.version
    proto = f"HTTP/{version.major}.{version.minor}".encode() if version else b"HTTP/1.1"
    status = f"{response.status} {response.reason or ''}".rstrip().encode("latin-1")
    info = response.request_info
    url = info.url
    target = (url.raw_path_qs or "/").encode("latin-1")
    request = head(b"GET " + target + b" " + proto, _with_host(info.headers.items(), url.raw_authority))
    # The connection is handed back to the pool as soon as a short body is in; the
    # protocol the body is read from keeps the socket.
    protocol = getattr(response, "_protocol", None)  # (falsy when its buffer is empty)
    if protocol is None:
        protocol = getattr(response.content, "_protocol", None)
    transport = getattr(protocol, "transport", None)
    peer = transport.get_extra_info("peername") if transport is not None else None
    ip = peer[0] if peer else None
    return Exchange(request, head(proto + b" " + status, response.raw_headers), ip)


def from_httpx(response: Any) -> Exchange:
    """The exchange of an httpx.Response opened with stream=True."""
    proto = (response.http_version or "HTTP/1.1").encode("ascii")
    status = f"{response.status_code} {response.reason_phrase or ''}".rstrip().encode("latin-1")
    request = response.request
    target = request.url.raw_path or b"/"
    sent = head(b"GET " + target + b" " + proto, request.headers.raw)
    ip = None
    stream = response.extensions.get("network_stream")
    if stream is not None:
        try:
            peer = stream.get_extra_info("server_addr")
        except Exception:  # an in-memory or foreign transport has none
            peer = None
        ip = peer[0] if peer else None
    return Exchange(sent, head(proto + b" " + status, response.headers.raw), ip)


def _with_host(headers: Any, authority: str) -> list[tuple[str, str]]:
    """The request headers with Host first (aiohttp adds it on the wire when absent)."""
    items = list(headers)
    if not any(name.lower() == "host" for name, _ in items) and authority:
        items.insert(0, ("Host", authority))
    return items
