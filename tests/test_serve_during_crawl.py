"""`serve` answers every request in full while a real crawl writes the archive it serves.

Each streamed CSV download checks the file when it opens its connection. That check once
read the header with a plain open() and close(), which drops every POSIX lock the serving
process's SQLite connections held on the file: the crawl's writer, closing, then believed it
was the last user, checkpointed and deleted the WAL under them, and from then on every
streamed CSV answered 500 ("database disk image is malformed") until `serve` restarted.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import httpx

from crawler.demo import DEMO_SITE, DEMO_SITE_2
from crawler.static_server import StaticServer
from db.publish_stream import Downloads
from tests.archive_compare import integrity_problems
from tests.test_publish_downloads import Server

CLIENTS = 8
URLS = (
    "/archive/verdicts.csv?_stream=on",
    "/archive/pages.csv?_stream=on",
    "/archive/verdicts.json?_size=50",
    "/archive/current_comparisons.json",
)


def crawl(origin: str, path: Path) -> None:
    """`verdicts crawl` in its own process (and its writer's), to the end."""
    command = [sys.executable, "-m", "crawler.cli", "crawl", f"{origin}/", "--db", str(path), "--delay", "0"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def count(path: Path, table: str) -> int:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def incomplete(url: str, response: httpx.Response) -> str | None:
    """Why the body of a 200 is not a whole answer, or None."""
    if url.endswith("_stream=on"):
        text = response.text
        if not text.endswith("\n"):
            return "CSV cut short"
        rows = list(csv.reader(io.StringIO(text)))
        widths = {len(row) for row in rows}
        if len(rows) < 2 or len(widths) != 1:
            return f"CSV of {len(rows)} rows with widths {sorted(widths)}"
        return None
    body = json.loads(response.text)
    return None if isinstance(body.get("rows"), list) and body["rows"] else "JSON without rows"


def test_every_request_answers_in_full_while_crawls_write_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    with StaticServer(DEMO_SITE) as first, StaticServer(DEMO_SITE_2) as second:
        crawl(first.origin, path)
        before = count(path, "verdicts")
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()
        crawls_done = threading.Event()

        with Server(path, Downloads(max_streams=CLIENTS, stall_seconds=600)) as server:
            base = f"http://127.0.0.1:{server.port}"

            def client(number: int) -> None:
                after = 0
                with httpx.Client(base_url=base, timeout=120, trust_env=False) as http:
                    while after < 5:  # keep asking a while after the crawls ended, too
                        after += crawls_done.is_set()
                        url = URLS[number % len(URLS)]
                        response = http.get(url)
                        why = incomplete(url, response) if response.status_code == 200 else None
                        outcome = f"{url}: HTTP {response.status_code}" + (f" ({why})" if why else "")
                        with lock:
                            outcomes["ok" if response.status_code == 200 and not why else outcome] += 1

            clients = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
            for thread in clients:
                thread.start()
            try:
                # A fresh crawl of another site (many new rows), then a re-crawl of the first;
                # each ends by its writer closing the last write connection.
                for origin in (second.origin, first.origin):
                    crawl(origin, path)
            finally:
                crawls_done.set()
                for thread in clients:
                    thread.join(timeout=300)

    assert count(path, "verdicts") > before  # the crawls did write while the clients read
    assert set(outcomes) == {"ok"}, outcomes
    assert outcomes["ok"] >= CLIENTS * 5
    assert integrity_problems(path) == []
