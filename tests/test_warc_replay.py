"""An exported WARC replays in pywb (its wayback app, in-process): a comparison page at
two capture times, each with the content it had then, and a revisit (304) replays the
body rather than an empty 304."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from crawler.static_server import StaticServer
from db.warc.export import export_warc
from tests.loopback import free_port, stop
from tests.test_warc_export import changed_page, crawl_into


@contextlib.contextmanager
def wayback(root: Path, warc: Path, index: Path) -> Iterator[httpx.Client]:
    """pywb's wayback server on loopback over one collection `c` holding `warc` (a process
    of its own: pywb monkey-patches the standard library with gevent when imported)."""
    archive, indexes = root / "collections" / "c" / "archive", root / "collections" / "c" / "indexes"
    archive.mkdir(parents=True)
    indexes.mkdir()
    shutil.copy(warc, archive / warc.name)
    shutil.copy(index, indexes / "index.cdxj")
    port = free_port()
    command = [sys.executable, "-c", "from pywb.apps.cli import wayback; wayback()"]
    command += ["--bind", "127.0.0.1", "-p", str(port)]
    log = root / "wayback.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=root, stdout=out, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False) as client:
            for _ in range(300):  # up to 30 s for it to start listening
                try:
                    client.get("/")
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, log.read_text(errors="replace")
                    time.sleep(0.1)
            yield client
    finally:
        stop(proc)


def test_pywb_replays_a_comparison_page_at_two_capture_times(tmp_path: Path, site_dir: Path) -> None:
    db_path = tmp_path / "archive.db"
    page = changed_page(site_dir)
    with StaticServer(site_dir) as server:
        crawl_into(server.origin, db_path)
        time.sleep(1.1)  # captures a second apart: replay addresses them by 14-digit timestamps
        page.write_text(page.read_text("utf-8").replace("$12/user/mo", "$19/user/mo"), "utf-8")
        crawl_into(server.origin, db_path)
        origin = server.origin
    output = tmp_path / "site.warc.gz"
    report = export_warc(db_path, output)
    url = f"{origin}/compare/{page.parent.name}/"
    home = f"{origin}/"
    lines = [line.split(" ", 2) for line in Path(report.index).read_text().splitlines()]
    stamps = {url: [], home: []}
    for _key, stamp, fields in lines:
        found = json.loads(fields)
        if found["url"] in stamps:
            stamps[found["url"]].append((stamp, found["mime"]))
    assert len(stamps[url]) == 2 and stamps[url][0][0] != stamps[url][1][0]
    assert [mime for _, mime in stamps[home]] == ["text/html", "warc/revisit"]

    with wayback(tmp_path / "pywb", output, Path(report.index)) as client:
        replay(client, url, home, stamps, site_dir)


def replay(client: httpx.Client, url: str, home: str, stamps: dict, site_dir: Path) -> None:
    first, second = (client.get(f"/c/{stamp}id_/{url}") for stamp, _ in stamps[url])
    assert first.status_code == second.status_code == 200
    assert b"$12/user/mo" in first.content and b"$19/user/mo" not in first.content
    assert b"$19/user/mo" in second.content and b"$12/user/mo" not in second.content
    # rewritten replay (what a person sees in pywb) carries the same content
    shown = client.get(f"/c/{stamps[url][1][0]}mp_/{url}")
    assert shown.status_code == 200 and b"$19/user/mo" in shown.content
    # the home page was unchanged at the second crawl (a 304): its revisit replays the body
    again = client.get(f"/c/{stamps[home][1][0]}id_/{home}")
    assert again.status_code == 200
    assert again.content == (site_dir / "index.html").read_bytes()
    assert (
        again.headers["Memento-Datetime"]
        != client.get(f"/c/{stamps[home][0][0]}id_/{home}").headers["Memento-Datetime"]
    )
