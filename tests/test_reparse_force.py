"""`verdicts reparse --force` and a parser change, on a real crawl of both editions of the
bundled site: the parsing processes build and compare each page's rows, so only pages
where something stored differs reach the writer, and those are repaired."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.fault_storms import run
from crawler.demo import DEMO_SITE, DEMO_SITE_2
from crawler.static_server import StaticServer
from db import parse_record
from db.archive import connect_sqlite
from db.reparse import run_reparse
from tests.archive_compare import integrity_problems

#: Every table a page's rebuild writes, whole (`details_seen` apart: bookkeeping a crawl's
#: revisits leave at the first sighting of the same details, which a rebuild may move).
_TABLES = {
    "snapshots": "id",
    "snapshot_embedded": "snapshot_id, kind",
    "embedded_disagreements": "snapshot_id, source, field, position",
    "comparisons": "id",
    "listings": "id",
    "verdict_appearances": "verdict_id, comparison_id",
    "tools": "id",
    "verdicts": "id",
    "changes": "id",
    "change_states": "comparison_id",
    "change_texts": "ref",
}


@pytest.fixture(scope="module")
def two_editions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bundled site crawled, then its second edition (prices, quotes changed) at the
    same address: an archive with a change log."""
    path = tmp_path_factory.mktemp("editions") / "archive.db"
    with StaticServer(DEMO_SITE) as server:
        origin, port = server.origin, server.port
        done = run("crawl", f"{origin}/", "--db", str(path), "--delay", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    with StaticServer(DEMO_SITE_2, port=port):
        done = run("crawl", f"{origin}/", "--db", str(path), "--delay", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    conn = connect_sqlite(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    yield path


Dump = dict[str, list[tuple[Any, ...]]]


def _dump(path: Path) -> Dump:
    conn = connect_sqlite(path)
    try:
        dump = {}
        for table, order in _TABLES.items():
            columns = [
                row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[1] != "details_seen"
            ]
            dump[table] = conn.execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"
            ).fetchall()
        return dump
    finally:
        conn.close()


def _parsed(path: Path, url: str | None = None) -> int:
    """Parsed snapshots (of `url`)."""
    conn = connect_sqlite(path)
    try:
        sql = "SELECT count(*) FROM snapshots WHERE parse_status IS NOT NULL AND coalesce(?, url) = url"
        return int(conn.execute(sql, [url]).fetchone()[0])
    finally:
        conn.close()


def _changed(before: Dump, after: Dump) -> set[str]:
    return {table for table in _TABLES if before[table] != after[table]}


@pytest.fixture
def copied(two_editions: Path, tmp_path: Path) -> tuple[Path, Dump]:
    """A copy of the two editions' archive for one test to change, and what its tables hold."""
    path = tmp_path / "copy.db"
    shutil.copyfile(two_editions, path)
    return path, _dump(path)


def test_the_fixture_has_what_a_rebuild_writes(two_editions: Path) -> None:
    dump = _dump(two_editions)
    for table in ("snapshot_embedded", "changes", "change_states", "change_texts", "verdicts"):
        assert dump[table], table
    assert {row[5] for row in dump["changes"]} - {"page_gone", "page_back"}


def test_force_on_an_intact_archive_reads_every_page_and_writes_nothing(
    copied: tuple[Path, Dump], capsys: pytest.CaptureFixture[str]
) -> None:
    path, before = copied
    snapshots = _parsed(path)
    assert run_reparse(path, force=True, workers=2) == 0
    err = capsys.readouterr().err
    assert f"Re-parsed {snapshots} of {snapshots} snapshots" in err and snapshots
    assert "0 changed outcomes, 0 pages rebuilt" in err
    assert _changed(before, _dump(path)) == set()


def _damage(path: Path) -> list[str]:
    """Damage one thing a rebuild writes on each of several comparison pages; returns their ids."""
    conn = connect_sqlite(path)
    # Candidates as (what to damage, its comparison page), all read before any damage.
    pages = conn.execute("SELECT id, id FROM comparisons ORDER BY id").fetchall()
    with_state = conn.execute("SELECT comparison_id, comparison_id FROM change_states ORDER BY 1").fetchall()
    with_changes = conn.execute(
        "SELECT DISTINCT comparison_id, comparison_id FROM changes "
        "WHERE kind NOT IN ('page_gone', 'page_back') ORDER BY 1"
    ).fetchall()
    single = conn.execute(  # verdicts on one page only: damaging one touches that page alone
        "SELECT verdict_id, min(comparison_id) FROM verdict_appearances GROUP BY verdict_id "
        "HAVING count(*) = 1 ORDER BY verdict_id"
    ).fetchall()
    embedded = conn.execute(
        "SELECT e.snapshot_id, c.id FROM snapshot_embedded e JOIN snapshots s ON s.id = e.snapshot_id "
        "JOIN comparisons c ON c.url = s.url ORDER BY e.snapshot_id"
    ).fetchall()
    chosen: list[str] = []

    def pick(candidates: list[tuple[Any, str]]) -> Any:
        """The first candidate on a page not chosen yet (its page is chosen now)."""
        thing, cid = next((t, c) for t, c in candidates if c not in chosen)
        chosen.append(cid)
        return thing

    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN")
    conn.execute(
        "DELETE FROM changes WHERE rowid = (SELECT min(rowid) FROM changes WHERE comparison_id = ? "
        "AND kind NOT IN ('page_gone', 'page_back'))",
        [pick(with_changes)],
    )
    conn.execute("UPDATE change_states SET state = '{}' WHERE comparison_id = ?", [pick(with_state)])
    conn.execute("UPDATE snapshot_embedded SET data = '[]' WHERE snapshot_id = ?", [pick(embedded)])
    conn.execute("UPDATE verdicts SET first_seen = '2999-01-01T00:00:00Z' WHERE id = ?", [pick(single)])
    conn.execute(
        "UPDATE snapshots SET parse_missing = '[\"tampered\"]' WHERE id = "
        "(SELECT snapshot_id FROM comparisons WHERE id = ?)",
        [pick(pages)],
    )
    conn.execute("UPDATE listings SET community_pct = -1 WHERE comparison_id = ?", [pick(pages)])
    conn.execute("COMMIT")
    conn.close()
    return chosen


def test_force_repairs_damaged_rows_by_rebuilding_just_those_pages(
    copied: tuple[Path, Dump], capsys: pytest.CaptureFixture[str]
) -> None:
    path, before = copied
    damaged = _damage(path)
    assert len(set(damaged)) == 6
    assert _changed(before, _dump(path)) == {
        "changes",
        "change_states",
        "snapshot_embedded",
        "verdicts",
        "snapshots",
        "listings",
    }
    assert run_reparse(path, force=True, workers=2) == 0
    assert "0 changed outcomes, 6 pages rebuilt" in capsys.readouterr().err
    assert _changed(before, _dump(path)) == set()
    assert integrity_problems(path) == []


def test_a_parser_change_that_alters_one_page_rewrites_just_its_rows(
    copied: tuple[Path, Dump], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    import parsers

    path, before = copied
    conn = connect_sqlite(path)
    target, url = conn.execute("SELECT id, url FROM comparisons ORDER BY id LIMIT 1").fetchone()
    conn.close()
    real = parsers.parse_page

    def retitled(html: str | bytes, page_url: str | None = None, was_comparison: bool = False) -> Any:
        parse = real(html, page_url, was_comparison=was_comparison)
        return replace(parse, title="Retitled") if page_url == url else parse

    monkeypatch.setattr(parsers, "parse_page", retitled)
    monkeypatch.setattr(parse_record, "parser_fingerprint", lambda: "0123456789abcdef")
    assert run_reparse(path, workers=1) == 0
    err = capsys.readouterr().err
    versions = _parsed(path, url)
    assert f"{versions} changed outcomes, 1 pages rebuilt" in err
    after = _dump(path)
    assert next(row for row in after["comparisons"] if row[0] == target)[2] == "Retitled"
    assert [row for row in before["comparisons"] if row[0] != target] == [
        row for row in after["comparisons"] if row[0] != target
    ]
    # Every other table holds what it held, but the snapshots' notes of the new parser code.
    assert _changed(before, after) - {"snapshots", "comparisons", "change_states"} == set()


def test_the_note_taken_alone_is_the_parse_columns_note() -> None:
    """Without --force a page's other parse columns are built only when it is rebuilt; the
    note written for the others is the one `parse_columns` gives."""
    from db.parse_record import parse_columns
    from db.reparse import _note
    from parsers import parse_page
    from parsers.model import ParseResult
    from tests.conftest import FIXTURES

    shell = b"<html><body><div id=app></div></body></html>"
    parses = [
        parse_page(page.read_bytes(), f"https://x.test/{page.stem}")
        for page in (FIXTURES / "variants").glob("*.html")
    ]
    parses += [parse_page(shell, "https://x.test/a-vs-b", was_comparison=flag) for flag in (False, True)]
    parses += [ParseResult(status="error", parser="comparison", parser_version="1")]
    assert {p.status for p in parses} >= {"ok", "error"} and len(parses) > 5
    for parse in parses:
        assert _note(parse) == parse_columns(parse)["parsed_with"]
