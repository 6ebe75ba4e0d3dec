"""`verdicts reparse` skips what the current parser code already read (db/parse_record.py),
and only that: a real crawl, then reparses, compared table by table with the crawl."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.fault_storms import run
from crawler.demo import DEMO_SITE
from crawler.static_server import StaticServer
from db import parse_record
from db.archive import connect_sqlite
from db.reparse import run_reparse
from parsers import parse_page
from tests.archive_compare import archive_content, differences, integrity_problems
from tests.conftest import FIXTURES, ROOT


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("crawled") / "archive.db"
    with StaticServer(DEMO_SITE) as server:
        done = run("crawl", f"{server.origin}/", "--db", str(path), "--delay", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    yield path


def _copy(source: Path, folder: Path) -> Path:
    conn = connect_sqlite(source)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    target = folder / "copy.db"
    shutil.copyfile(source, target)
    return target


def _notes(path: Path) -> list[tuple[str | None, str | None]]:
    conn = connect_sqlite(path)
    try:
        return conn.execute("SELECT parse_status, parsed_with FROM snapshots ORDER BY id").fetchall()
    finally:
        conn.close()


def test_the_crawl_notes_the_parser_code_on_every_parsed_snapshot(crawled: Path) -> None:
    notes = _notes(crawled)
    code = parse_record.parser_fingerprint()
    assert notes and all(note is not None and note.startswith(f"{code} ") for _, note in notes)
    assert {note[-1] for status, note in notes if status in ("ok", "incomplete")} == {"-"}
    assert {note[-1] for status, note in notes if status not in ("ok", "incomplete")} <= {"0", "1"}


def test_reparse_after_a_crawl_reads_nothing_and_changes_nothing(
    crawled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _copy(crawled, tmp_path)
    total = len(_notes(path))
    assert run_reparse(path, workers=1) == 0
    assert f"Re-parsed 0 of {total} snapshots ({total} already read" in capsys.readouterr().err
    assert differences(archive_content(path), archive_content(crawled)) == {}


def test_force_and_a_parser_change_read_everything_to_the_crawl_s_rows(
    crawled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _copy(crawled, tmp_path)
    total = len(_notes(path))
    assert run_reparse(path, force=True, workers=2) == 0
    assert f"Re-parsed {total} of {total} snapshots of" in capsys.readouterr().err
    assert differences(archive_content(path), archive_content(crawled)) == {}
    # New parser code (a new fingerprint): every page is read again, in this process.
    monkeypatch.setattr(parse_record, "parser_fingerprint", lambda: "0123456789abcdef")
    assert run_reparse(path, workers=1) == 0
    assert f"Re-parsed {total} of {total} snapshots of" in capsys.readouterr().err
    assert {note.split()[0] for _, note in _notes(path) if note} == {"0123456789abcdef"}
    assert run_reparse(path, workers=1) == 0  # ... once
    assert f"Re-parsed 0 of {total} snapshots" in capsys.readouterr().err
    assert integrity_problems(path) == []


def test_a_snapshot_read_with_another_was_comparison_is_read_again(
    crawled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A page that was a comparison and no longer reads as one is `unreadable` only when the
    parser is told so: a note taken without that input (as a back-filled capture gets) makes
    the snapshot stale, and the reparse reads it with the input it needs."""
    path = _copy(crawled, tmp_path)
    conn = connect_sqlite(path)
    sid, page, url = conn.execute(
        "SELECT id, page_id, url FROM snapshots WHERE parse_status = 'ok' ORDER BY id LIMIT 1"
    ).fetchone()
    shell = b"<!doctype html><html><head><title>Loading</title></head><body><div id=app></div></body></html>"
    late = parse_page(shell, url)  # read without was_comparison
    assert late.status in ("not_comparison", "unreadable") and late.was_comparison is False
    values = parse_record.parse_values(late)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO bodies (sha256, size, compression, data) VALUES ('shell', ?, 'none', ?)",
        [len(shell), shell],
    )
    conn.execute(
        "INSERT INTO snapshots (page_id, url, crawl_id, fetched_at, http_status, content_type, encoding, "
        "body_sha256, "
        "parse_status, parse_problems, parser, parser_version, parse_missing, parse_hash, parsed_with) "
        "SELECT page_id, url, crawl_id, '2999-01-01T00:00:00Z', 200, content_type, 'utf-8', 'shell', "
        "?, ?, ?, ?, ?, ?, ? FROM snapshots WHERE id = ?",
        [*values, sid],
    )
    conn.execute("COMMIT")
    conn.close()
    assert run_reparse(path, workers=1) == 0
    err = capsys.readouterr().err
    snapshots = sum(1 for note in _notes(path) if note)
    pages = (
        connect_sqlite(path).execute("SELECT count(*) FROM snapshots WHERE page_id = ?", [page]).fetchone()
    )
    assert f"Re-parsed {pages[0]} of {snapshots} snapshots" in err  # that page's snapshots, no other
    conn = connect_sqlite(path)
    status, note = conn.execute(
        "SELECT parse_status, parsed_with FROM snapshots WHERE body_sha256 = 'shell'"
    ).fetchone()
    conn.close()
    assert (status, note) == ("unreadable", f"{parse_record.parser_fingerprint()} 1")


def test_the_fingerprint_covers_every_module_parse_page_runs() -> None:
    """Every module of this project that parsing a page loads (in a fresh interpreter) is
    one of the files hashed into the parser fingerprint, and so is every file of parsers/."""
    page = FIXTURES / "variants" / "seed_000_divs.html"
    code = (
        "import sys, json; from db.parse_record import decode_body; from parsers import parse_page; "
        f"parse_page(decode_body(open({str(page)!r}, 'rb').read(), 'utf-8'), 'https://x.test/a-vs-b'); "
        "print(json.dumps([m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None)]))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = {Path(f).resolve() for f in __import__("json").loads(done.stdout)}
    ours = {
        f for f in loaded if ROOT in f.parents and ".venv" not in f.parts and "site-packages" not in f.parts
    }
    hashed = {p.resolve() for p in parse_record._code_files()}
    assert ours and ours <= hashed, ours - hashed
    assert {p.resolve() for p in (ROOT / "parsers").rglob("*.py")} <= hashed
    assert (ROOT / "parsers" / "embedded.py").resolve() in hashed


def test_a_changed_embedded_data_reading_is_rewritten(crawled: Path, tmp_path: Path) -> None:
    """An older embedded-data reader's rows (another item, an extra kind) are a changed
    outcome: its parse_hash differs, so the reparse rewrites the snapshot's embedded rows."""
    from dataclasses import replace

    from db.snapshots import decompress
    from parsers.embedded import Embedded

    path = _copy(crawled, tmp_path)
    conn = connect_sqlite(path)
    sid, url, data, how = conn.execute(
        "SELECT s.id, s.url, b.data, b.compression FROM snapshots s "
        "JOIN bodies b ON b.sha256 = s.body_sha256 "
        "WHERE s.id IN (SELECT snapshot_id FROM snapshot_embedded) ORDER BY s.id LIMIT 1"
    ).fetchone()
    parse = parse_page(decompress(data, how).decode("utf-8"), url)
    older = replace(parse, embedded=[Embedded("json-ld", [{"name": "old"}]), Embedded("microdata", [{}])])
    assert parse_record.parse_fingerprint(older) != parse_record.parse_fingerprint(parse)
    conn.execute("BEGIN")
    conn.execute(
        "UPDATE snapshots SET parse_hash = ?, parsed_with = NULL WHERE id = ?",
        [parse_record.parse_fingerprint(older), sid],
    )
    conn.execute('UPDATE snapshot_embedded SET data = \'[{"name":"old"}]\' WHERE snapshot_id = ?', [sid])
    conn.execute(
        "INSERT INTO snapshot_embedded (snapshot_id, kind, data) VALUES (?, 'microdata', '[{}]')", [sid]
    )
    conn.execute("COMMIT")
    conn.close()
    assert differences(archive_content(path), archive_content(crawled)) != {}
    assert run_reparse(path, workers=1) == 0
    assert differences(archive_content(path), archive_content(crawled)) == {}
