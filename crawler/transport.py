"""The HTTP wire under the Fetcher: one GET in; status, headers and raw body chunks out.

Why a layer of its own: the Fetcher already does everything httpx's client layer adds on
top of a connection pool (redirects by hand, no cookies, its own retries, its own body
decoding), and that layer (Request/Response models, header normalisation, the auth /
redirect / cookie machinery) cost ~0.4 ms CPU per request over aiohttp's own ~0.17 ms
here, more than all the rest of a page's fetch path (issue 8). So by default the Fetcher
speaks to an aiohttp session directly (`AiohttpWire`); `HttpxWire` keeps httpx for
`FetchSettings.transport = "httpx"` (httpx's own pool) and for any `httpx.AsyncClient` a
caller hands in. httpx is imported only then.

Both wires give the body back still Content-Encoded: `Inflater` decodes gzip / deflate as
it streams, never past the room the caller has left under its size cap, so a small gzip
bomb stops at the cap instead of inflating a whole chunk first.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from yarl import URL

from crawler.exchange import Exchange, from_aiohttp, from_httpx

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ACCEPT",
    "ACCEPT_ENCODING",
    "AiohttpWire",
    "BodyDecodingError",
    "HttpxWire",
    "Inflater",
    "WireResponse",
    "build_httpx_client",
    "make_wire",
]

ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
#: Only codings zlib inflates with a bounded output (no brotli / zstd: see Inflater).
ACCEPT_ENCODING = "gzip, deflate"
#: Header values of a URL that needs no percent-encoding: sent as is (yarl skips requoting).
_SAFE_URL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&'()*+,;=%")


class BodyDecodingError(Exception):
    """The body does not match its Content-Encoding (not retried: it will not next time)."""


class WireResponse(Protocol):
    """One response with its body not read yet."""

    status: int

    def header(self, name: str) -> str | None:
        """The first value of header `name` (lower-case), stripped; None if absent."""

    def exchange(self) -> Exchange:
        """Request and response heads as sent and received (for the fetch log)."""

    async def chunk(self) -> bytes:
        """The next raw (still Content-Encoded) piece of the body; b"" at its end."""

    async def drain(self) -> None:
        """Read and drop the rest of the body (the connection stays usable)."""

    async def aclose(self) -> None:
        """Give the connection back (closed if the body was not read to its end)."""


class Wire(Protocol):
    """Sends GETs; `errors` are the exceptions its requests raise for network trouble."""

    errors: tuple[type[BaseException], ...]

    async def get(self, url: str, headers: dict[str, str] | None) -> WireResponse: ...

    async def aclose(self) -> None: ...


# ---- aiohttp, spoken to directly (the default) ---------------------------------------------------


class _AiohttpResponse:
    __slots__ = ("_response", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers = response.headers

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def exchange(self) -> Exchange:
        return from_aiohttp(self._response)

    async def chunk(self) -> bytes:
        return await self._response.content.readany()

    async def drain(self) -> None:
        await self._response.read()

    async def aclose(self) -> None:
        self._response.release()


class AiohttpWire:
    """An aiohttp session (made on first use, inside the running loop): keep-alive pool of
    `connections`, no cookie jar, no automatic redirects or decompression, and the
    fetcher's connect / read timeouts."""

    errors: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError, OSError)

    def __init__(
        self,
        *,
        connections: int,
        user_agent: str,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self._connections = connections
        self._headers = {"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # ssl=True: aiohttp's verifying context, made once when aiohttp is imported
        connector = aiohttp.TCPConnector(limit=self._connections, keepalive_timeout=30.0, ssl=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=self._timeout,
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding",),
        )
        return self._session

    async def get(self, url: str, headers: dict[str, str] | None) -> _AiohttpResponse:
        session = self._session or self._open()
        # A canonical URL is percent-encoded already: sent as is (requoting costs per request).
        target = URL(url, encoded=True) if _SAFE_URL.issuperset(url) else url
        response = await session.get(target, headers=headers, allow_redirects=False)
        return _AiohttpResponse(response)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# ---- httpx (its own pool, or a client a caller passes in) -----------------------------------------

_WANTED_HEADERS = frozenset(
    {
        b"content-type",
        b"content-length",
        b"content-encoding",
        b"etag",
        b"last-modified",
        b"location",
        b"retry-after",
    }
)


def _pick_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The few response headers the fetcher reads, in one pass (first occurrence wins);
    httpx's Headers.get decodes every header on each lookup."""
    picked: dict[str, str] = {}
    for key, value in raw:
        key = key.lower()
        if key in _WANTED_HEADERS:
            picked.setdefault(key.decode("ascii"), value.decode("latin-1").strip())
    return picked


class _HttpxResponse:
    __slots__ = ("_chunks", "_response", "headers", "status")

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks = response.aiter_raw()
        self.status = response.status_code
        self.headers = _pick_headers(response.headers.raw)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def exchange(self) -> Exchange:
        return from_httpx(self._response)

    async def chunk(self) -> bytes:
        return await anext(self._chunks, b"")

    async def drain(self) -> None:
        async for _ in self._chunks:
            pass

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxWire:
    """Requests through an httpx.AsyncClient (closed by `aclose` only if made here)."""

    def __init__(self, client: httpx.AsyncClient, *, owned: bool) -> None:
        import httpx

        self._client = client
        self._owned = owned
        self.errors: tuple[type[BaseException], ...] = (
            httpx.HTTPError,
            httpx.InvalidURL,
            aiohttp.ClientError,  # an httpx client on the httpx-aiohttp transport lets some through
            TimeoutError,
            OSError,
        )

    async def get(self, url: str, headers: dict[str, str] | None) -> _HttpxResponse:
        client = self._client
        response = await client.send(client.build_request("GET", url, headers=headers), stream=True)
        return _HttpxResponse(response)

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()


def build_httpx_client(
    *,
    connections: int,
    user_agent: str,
    connect_timeout: float,
    read_timeout: float,
) -> httpx.AsyncClient:
    """httpx's own keep-alive pool with the same limits, timeouts and headers as the aiohttp
    wire: no automatic redirects, no cookies, no proxy settings from the environment."""
    from http.cookiejar import CookieJar

    import httpx

    class NoCookies(CookieJar):
        """Keeps nothing, so httpx also skips its per-response cookie parsing."""

        def extract_cookies(self, response: Any, request: Any) -> None:
            return None

        def set_cookie(self, cookie: Any) -> None:
            return None

    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=30.0
    )
    timeout = httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
    )
    headers = {"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
    return httpx.AsyncClient(
        headers=headers,
        timeout=timeout,
        limits=limits,
        follow_redirects=False,
        cookies=NoCookies(),
        trust_env=False,
    )


def make_wire(
    transport: str,
    client: httpx.AsyncClient | None,
    *,
    connections: int,
    user_agent: str,
    connect_timeout: float,
    read_timeout: float,
) -> AiohttpWire | HttpxWire:
    """The wire for `FetchSettings.transport` ("aiohttp" or "httpx"), or around `client`."""
    if client is not None:
        return HttpxWire(client, owned=False)
    options = {
        "connections": connections,
        "user_agent": user_agent,
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
    }
    if transport == "aiohttp":
        return AiohttpWire(**options)
    if transport == "httpx":
        return HttpxWire(build_httpx_client(**options), owned=True)
    raise ValueError(f"unknown transport {transport!r}: use 'aiohttp' or 'httpx'")


# ---- Content-Encoding, inflated under a cap --------------------------------------------------------


class Inflater:
    """Decodes a gzip or deflate body piece by piece, never producing more than asked for.

    `feed(data, room)` returns at most `room` bytes; getting exactly `room` back means the
    body may be larger (the caller, asking for one byte more than it accepts, stops there).
    Input zlib did not get to is kept and inflated before the next piece.
    """

    __slots__ = ("_coding", "_started", "_zlib")

    def __init__(self, coding: str) -> None:
        if coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._zlib = zlib.decompressobj()
        else:
            raise BodyDecodingError(f"body does not match its Content-Encoding: unsupported {coding!r}")
        self._coding = coding
        self._started = False

    @classmethod
    def for_coding(cls, content_encoding: str | None) -> Inflater | None:
        """The inflater for a Content-Encoding header value; None for none / identity."""
        if not content_encoding:
            return None
        coding = content_encoding.strip().lower()
        return None if coding in ("", "identity") else cls(coding)

    def feed(self, data: bytes, room: int) -> bytes:
        zobj = self._zlib
        pending = zobj.unconsumed_tail
        if pending:
            data = pending + data
        try:
            out = zobj.decompress(data, room)
        except zlib.error as error:
            if self._coding == "deflate" and not self._started:
                # "deflate" is often sent raw, without the zlib wrapper (httpx does the same)
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                self._started = True
                return self.feed(data, room)
            raise BodyDecodingError(f"body does not match its Content-Encoding: {error}") from None
        self._started = True
        return out

    def finish(self, room: int) -> bytes:
        """What is left once the body has ended (at most `room` bytes). zlib holds no output
        back: a `feed` that returned less than its room had inflated all its input, so only
        input held back by a full room is left (never `flush()`, whose output is unbounded).
        A stream that ends without its end marker (a truncated gzip file) is an error: what
        came before it is a fragment of the page, not the page."""
        tail = self._zlib.unconsumed_tail
        out = self.feed(b"", room) if tail else b""
        if self._started and not self._zlib.eof and not self._zlib.unconsumed_tail:
            # everything was inflated and the stream still had no end: cut short on the server
            raise BodyDecodingError("body does not match its Content-Encoding: the stream is cut short")
        return out
