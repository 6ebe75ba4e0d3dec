"""Streamed CSV downloads through a real server: bounded in number, in stall time, and in what
they cost a crawl writing meanwhile (the WAL stays bounded while a client reads slowly)."""

from __future__ import annotations

import csv
import io
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from db.archive import connect_sqlite, open_archive, transaction
from db.publish import DOWNLOADS, make_datasette
from db.publish_stream import Downloads

ROWS = 30_000
PAD = "x" * 300  # ~10 MB of CSV: more than the socket buffers between server and client hold


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("downloads") / "archive.db"
    db = open_archive(path)
    with db.conn:
        db.conn.executemany(
            "INSERT INTO pages (id, url, host, first_seen, last_seen, status, last_error)"
            " VALUES (?, ?, 'h', 't', 't', 'ok', ?)",
            ((f"p{i}", f"https://h/{i}", PAD) for i in range(ROWS)),
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


class Server:
    """`verdicts serve`'s app under uvicorn on a free loopback port, in a thread."""

    def __init__(self, path: Path, downloads: Downloads) -> None:
        self.ds = make_datasette(path, downloads=downloads)
        config = uvicorn.Config(self.ds.app(), host="127.0.0.1", port=0, log_level="critical", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        wait_until(lambda: self.server.started)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    @property
    def downloads(self) -> Downloads:
        return DOWNLOADS[id(self.ds)]

    def request(self, path: str, slow: bool = True) -> socket.socket:
        """A connection that sent GET `path` (and, `slow`, buffers little of the answer)."""
        conn = socket.socket()
        if slow:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.settimeout(30)
        conn.connect(("127.0.0.1", self.port))
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        return conn


def wait_until(condition: Callable[[], object], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def read_all(conn: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    data = bytearray()
    while chunk := conn.recv(1 << 20):
        data += chunk
    return bytes(data)


def wal_size(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.fixture
def server(archive: Path) -> Iterator[Server]:
    with Server(archive, Downloads(max_streams=1, stall_seconds=600)) as running:
        yield running


def test_a_crawl_during_a_slow_download_keeps_the_wal_bounded(server: Server, archive: Path) -> None:
    slow = server.request("/archive/pages.csv?_stream=on")
    start = slow.recv(4096)
    assert start.startswith(b"HTTP/1.1 200")
    # The client reads nothing more for now; the server reads every row into its spool.
    wait_until(lambda: server.downloads.spooled == 1)
    assert server.downloads.active == 1  # the download is still going on

    # Writes the size of a crawl's (48 MB, in the writer's 1 MB transactions) meanwhile.
    writer = connect_sqlite(archive)
    biggest = 0
    blob = os.urandom(1 << 20)
    for batch in range(48):
        with transaction(writer):
            writer.execute(
                "INSERT INTO bodies (sha256, size, compression, data) VALUES (?, ?, 'none', ?)",
                [f"{batch:064x}", len(blob), blob],
            )
        biggest = max(biggest, wal_size(archive))
    writer.close()
    # SQLite checkpoints at 1,000 pages (4 MB): a held snapshot would let the WAL reach 48 MB.
    assert biggest < 12 * (1 << 20), biggest

    response = start + read_all_until_complete(slow)  # the client comes back and gets every row
    slow.close()
    rows = list(csv.DictReader(io.StringIO(dechunk(response.partition(b"\r\n\r\n")[2]).decode())))
    assert len(rows) == ROWS


def test_downloads_are_bounded_and_a_stalled_client_is_dropped(archive: Path) -> None:
    with Server(archive, Downloads(max_streams=1, stall_seconds=1.0)) as server:
        stalled = server.request("/archive/pages.csv?_stream=on")
        assert stalled.recv(1024).startswith(b"HTTP/1.1 200")
        wait_until(lambda: server.downloads.active == 1)

        busy = server.request("/archive/pages.csv?_stream=on")
        answer = busy.recv(4096)
        busy.close()
        assert answer.startswith(b"HTTP/1.1 503")
        assert b"retry-after: 30" in answer.lower()
        assert server.downloads.refused == 1

        # The stalled client accepts nothing for over a second: it is dropped, and the slot freed.
        wait_until(lambda: server.downloads.stalled == 1)
        wait_until(lambda: server.downloads.active == 0)
        received = read_all(stalled)  # what the socket buffers held, then the server's close
        stalled.close()
        assert received.count(PAD.encode()) < ROWS

        fresh = server.request("/archive/tools.csv?_stream=on", slow=False)
        response = read_all_until_complete(fresh)
        fresh.close()
        assert response.startswith(b"HTTP/1.1 200")


def read_all_until_complete(conn: socket.socket) -> bytes:
    """A chunked response up to its last chunk (the server keeps the connection open)."""
    data = bytearray()
    while not data.endswith(b"\r\n0\r\n\r\n"):
        chunk = conn.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return bytes(data)


def test_every_row_arrives_in_order(server: Server, archive: Path) -> None:
    conn = server.request("/archive/pages.csv?_stream=on", slow=False)
    response = read_all_until_complete(conn)
    conn.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    text = dechunk(body).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == ROWS
    assert [row["id"] for row in rows[:3]] == ["p0", "p1", "p2"]


def dechunk(body: bytes) -> bytes:
    out, at = bytearray(), 0
    while True:
        end = body.index(b"\r\n", at)
        size = int(body[at:end], 16)
        if size == 0:
            return bytes(out)
        out += body[end + 2 : end + 2 + size]
        at = end + 2 + size + 2
