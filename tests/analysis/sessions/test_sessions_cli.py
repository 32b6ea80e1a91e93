"""``honeyscope sessions`` over a real DuckDB store, and paging through the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from honeyscope.cli.main import main
from honeyscope.cli.sessions import printable, stored_events
from honeyscope.config import StoreSettings
from honeyscope.store import open_store

T0 = datetime(2021, 3, 3, 12, 0, tzinfo=UTC)


def _store(data: Path, events: list) -> None:
    store = open_store(StoreSettings(path=str(data / "honeyscope.duckdb")))
    try:
        store.migrate()
        store.write(events)
    finally:
        store.close()


def test_sessions_json_lists_each_sources_sessions(tmp_path, events, capsys):
    batch = [events.http("203.0.113.7", T0 + timedelta(minutes=m)) for m in (0, 10, 90)]
    batch += [events.tls("198.51.100.3", T0), events.http("198.51.100.3", T0 + timedelta(seconds=1))]
    _store(tmp_path, batch)
    assert main(["sessions", "--data", str(tmp_path), "--json"]) == 0
    found = msgspec.json.decode(capsys.readouterr().out)
    assert sorted((s["source_ip"], s["events"]) for s in found) == [("198.51.100.3", 2), ("203.0.113.7", 1),
                                                                    ("203.0.113.7", 2)]
    assert main(["sessions", "--data", str(tmp_path), "--json", "--source", "198.51.100.3", "--gap", "5"]) == 0
    assert [s["events"] for s in msgspec.json.decode(capsys.readouterr().out)] == [2]


def test_sessions_table_escapes_hostile_text(tmp_path, events, capsys):
    _store(tmp_path, [events.http("203.0.113.7", T0, user_agent="sqlmap/1.5\x1b[2J", path="/a\x1b]0;pwned\x07")])
    assert main(["sessions", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "203.0.113.7" in out and "sqlmap" in out


def test_empty_store_gives_a_clear_answer(tmp_path, capsys):
    _store(tmp_path, [])
    assert main(["sessions", "--data", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("no sessions")


def test_missing_store_is_one_clear_error(tmp_path, capsys):
    assert main(["sessions", "--data", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "no store at" in err and "honeyscope up" in err


def test_bad_gap_is_one_clear_error(tmp_path, capsys):
    _store(tmp_path, [])
    assert main(["sessions", "--data", str(tmp_path), "--gap", "0"]) == 2
    assert "--gap" in capsys.readouterr().err


def test_paging_returns_every_event_once_even_when_many_share_a_timestamp(tmp_path, events):
    same_time = [events.http("203.0.113.7", T0) for _ in range(23)]
    later = [events.http("203.0.113.7", T0 + timedelta(seconds=s)) for s in range(1, 12)]
    _store(tmp_path, same_time + later)
    store = open_store(StoreSettings(path=str(tmp_path / "honeyscope.duckdb")))
    try:
        ids = [e.event.id for e in stored_events(store, page_events=5)]
    finally:
        store.close()
    assert sorted(ids) == sorted(e.event.id for e in same_time + later)
    assert len(ids) == len(set(ids))


def test_printable_escapes_control_and_format_characters():
    assert printable("a\x00b\u202ec\n", 40) == "a\\x00b\\u202ec\\n"
    assert printable("x" * 100, 10) == "x" * 9 + "…"
