"""`verdicts snapshot`: archived bodies back byte for byte, the newest or the one in force."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from db.archive import open_archive
from db.snapshots import SnapshotNotFound, compress, decompress, read_snapshot
from db.store import ArchiveWriter
from tests.archive_factory import at, comparison, fetched

URL = "https://example.test/compare/alpha-vs-beta"
#: Not UTF-8, with a BOM-less latin-1 byte, CRLF and trailing spaces: must survive untouched.
V1 = b"<html>\r\n<p>caf\xe9 \xa0 v1</p>  \r\n</html>"
V2 = b"<html><p>v2</p></html>\n"


@pytest.fixture
def archive(archive_path: Path) -> Path:
    db = open_archive(archive_path)
    writer = ArchiveWriter(db, None)
    writer.store([(fetched(URL, V1, at(1)), comparison())])
    writer.store([(fetched(URL, V1, at(2)), comparison())])  # unchanged: no new snapshot
    writer.store([(fetched(URL, V2, at(3)), comparison())])
    db.close()
    return archive_path


def test_newest_and_in_force_at_a_time(archive: Path) -> None:
    assert read_snapshot(archive, URL) == V2
    assert read_snapshot(archive, URL, at="2026-11-02T23:59:59Z") == V1
    assert read_snapshot(archive, URL, at="2026-11-03T12:00:00+00:00") == V2
    assert read_snapshot(archive, URL, at="2026-11-03T13:00:00+01:00") == V2  # 12:00 UTC
    assert read_snapshot(archive, URL, at="2026-11-03T12:59:59+01:00") == V1
    assert read_snapshot(archive, URL, at="2026-11-02") == V1


def test_missing_snapshots_raise_a_clear_error(archive: Path) -> None:
    with pytest.raises(SnapshotNotFound, match=re.escape("No snapshot of https://example.test/nope")):
        read_snapshot(archive, "https://example.test/nope")
    with pytest.raises(SnapshotNotFound, match="the first is from 2026-11-01"):
        read_snapshot(archive, URL, at="2026-10-01")
    with pytest.raises(SnapshotNotFound, match="not an ISO 8601 time"):
        read_snapshot(archive, URL, at="yesterday")


def test_cli_writes_the_bytes_to_stdout(archive: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "snapshot",
            URL,
            "--at",
            "2026-11-01T12:00:00Z",
            "--db",
            str(archive),
        ],
        capture_output=True,
        check=True,
    )
    assert done.stdout == V1
    result = CliRunner().invoke(cli, ["snapshot", "https://example.test/nope", "--db", str(archive)])
    assert result.exit_code == 1 and "No snapshot of" in result.output


def test_compression_round_trip() -> None:
    body = b"<p>" + bytes(range(256)) * 40 + b"</p>"
    assert decompress(compress(body), "zlib") == body
    with pytest.raises(ValueError, match="Unknown body compression"):
        decompress(b"x", "brotli")
