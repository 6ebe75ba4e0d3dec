"""HTTP heads for WARC records: parsed from the fetch log, matched to the stored payload,
or synthesised for snapshots archived before the fetch log existed.

The archive keeps bodies after their Content-Encoding and de-chunked, so a response's
headers as received may not describe the payload that goes in the record: a stale
`Content-Encoding: gzip` would make a replay tool inflate plain HTML, and a chunked
`Transfer-Encoding` or a wire `Content-Length` would cut it. `for_payload` drops those
and sets the payload's length, and says what it changed (written in the record).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders

#: Codings the fetcher inflates (crawler.transport.Inflater): the stored body is decoded.
DECODED_CODINGS = frozenset({"gzip", "x-gzip", "deflate"})


def parse_response(block: bytes) -> StatusAndHeaders:
    """A status line and headers (CRLF-separated, latin-1) as warcio's StatusAndHeaders."""
    lines = block.decode("latin-1").split("\r\n")
    protocol, _, status = lines[0].partition(" ")
    return StatusAndHeaders(status, _pairs(lines[1:]), protocol=protocol)


def parse_request(block: bytes) -> StatusAndHeaders:
    lines = block.decode("latin-1").split("\r\n")
    return StatusAndHeaders(lines[0], _pairs(lines[1:]), is_http_request=True)


def _pairs(lines: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for line in lines:
        name, colon, value = line.partition(":")
        if colon:
            pairs.append((name, value.strip()))
    return pairs


def for_payload(headers: StatusAndHeaders, length: int) -> list[str]:
    """Make `headers` describe a payload of `length` bytes as stored; returns notes on
    what was changed (empty when the payload is as received)."""
    notes = []
    coding = (headers.get_header("Content-Encoding") or "").strip().lower()
    if coding in DECODED_CODINGS:
        headers.remove_header("Content-Encoding")
        notes.append(f"decoded (Content-Encoding {coding} removed)")
    if headers.get_header("Transfer-Encoding"):
        headers.remove_header("Transfer-Encoding")
        notes.append("de-chunked (Transfer-Encoding removed)")
    declared = headers.get_header("Content-Length")
    if declared != str(length):
        headers.replace_header("Content-Length", str(length))
        if declared is not None and not notes:
            notes.append(f"Content-Length {declared} set to the payload's {length}")
    return notes


def synthesised_response(
    status: int, content_type: str | None, etag: str | None, last_modified: str | None, length: int | None
) -> StatusAndHeaders:
    """Minimal response headers for a snapshot archived without its heads."""
    pairs = [("Content-Type", content_type or "text/html")]
    if length is not None:
        pairs.append(("Content-Length", str(length)))
    if etag:
        pairs.append(("ETag", etag))
    if last_modified:
        pairs.append(("Last-Modified", last_modified))
    reason = {200: "OK", 203: "Non-Authoritative Information"}.get(status, "")
    return StatusAndHeaders(f"{status} {reason}".strip(), pairs, protocol="HTTP/1.1")


def synthesised_request(url: str, user_agent: str | None = None) -> StatusAndHeaders:
    """A minimal GET for `url` (the request of a snapshot archived without its heads)."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pairs = [("Host", parts.netloc)]
    if user_agent:
        pairs.append(("User-Agent", user_agent))
    return StatusAndHeaders(f"GET {target} HTTP/1.1", pairs, is_http_request=True)
