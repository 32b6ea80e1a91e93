"""``honeyscope export ecs`` reading the store (DuckDB by ``--data``, PostgreSQL by ``--config``): every event of
the period once, in time order, detections as rule/vulnerability/threat, valid JSON whatever the events hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from honeyscope.cli.main import main
from honeyscope.events.schema import HttpRequestEvent
from honeyscope.share.stix.synthetic import CAMPAIGN_START, campaign_events, hostile_events
from honeyscope.testing.postgres import PostgresUnavailableError, database_holding
from honeyscope.testing.store import data_dir_holding


@pytest.fixture(scope="module")
def events() -> list[HttpRequestEvent]:
    """Two days of a ProxyLogon-style campaign (with detections) and three requests full of hostile strings
    on the first day (NUL, ANSI escapes, invalid UTF-8 read as latin-1, 200 000-character values)."""
    return [*campaign_events(sources=12, days=2, shell_every=4), *hostile_events(CAMPAIGN_START + timedelta(hours=5))]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, events: list[HttpRequestEvent]) -> Path:
    return data_dir_holding(tmp_path_factory.mktemp("data"), events)


def _export(*args: str, output: Path) -> list[dict[str, Any]]:
    assert main(["export", "ecs", *args, "--output", str(output)]) == 0
    # Strict UTF-8 and one JSON document per line, as a log shipper reads it.
    return [json.loads(line) for line in output.read_bytes().decode("utf-8").splitlines()]


def _by_time(events: list[HttpRequestEvent]) -> list[HttpRequestEvent]:
    return sorted(events, key=lambda event: (event.timestamp, event.event.id))


def test_every_stored_event_becomes_one_ecs_line_in_time_order(data_dir: Path, events: list[HttpRequestEvent],
                                                                tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    documents = _export("--data", str(data_dir), output=tmp_path / "all.ecs.jsonl")
    assert [d["event"]["id"] for d in documents] == [e.event.id for e in _by_time(events)]
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        f"{len(events)} events written to {tmp_path / 'all.ecs.jsonl'}"
    assert all(d["ecs"] == {"version": "9.0.0"} and d["observer"]["type"] == "honeypot" for d in documents)
    assert not list(tmp_path.glob("*.partial"))


def test_detections_become_rule_vulnerability_and_threat(data_dir: Path, events: list[HttpRequestEvent],
                                                         tmp_path: Path):
    documents = {d["event"]["id"]: d for d in _export("--data", str(data_dir), output=tmp_path / "a.jsonl")}
    detected = [e for e in events if e.honeyscope.detections]
    assert detected and len(detected) < len(events)
    for event in events:
        doc = documents[event.event.id]
        if not event.honeyscope.detections:
            assert "rule" not in doc and doc["event"]["kind"] == "event"
            continue
        assert doc["rule"]["id"] == [d.rule_id for d in event.honeyscope.detections]
        assert doc["vulnerability"]["id"] == list(dict.fromkeys(c for d in event.honeyscope.detections for c in d.cves))
        assert doc["threat"]["technique"]["id"] == list(dict.fromkeys(
            t for d in event.honeyscope.detections for t in d.techniques))
        assert doc["event"]["kind"] == "alert" and "intrusion_detection" in doc["event"]["category"]
    cves = {cve for doc in documents.values() for cve in doc.get("vulnerability", {}).get("id", [])}
    assert cves == {"CVE-2021-26855", "CVE-2021-27065"}


def test_from_and_to_bound_the_period(data_dir: Path, events: list[HttpRequestEvent], tmp_path: Path):
    ordered = _by_time(events)
    first, last = ordered[5].timestamp, ordered[-4].timestamp  # --from is included, --to excluded
    documents = _export("--data", str(data_dir), "--from", first.isoformat(), "--to", last.isoformat(),
                        output=tmp_path / "period.jsonl")
    expected = [e.event.id for e in ordered if first <= e.timestamp < last]
    assert [d["event"]["id"] for d in documents] == expected and len(expected) == len(events) - 9
    day_one = _export("--data", str(data_dir), "--to", "2021-03-04", output=tmp_path / "day1.jsonl")
    assert {d["@timestamp"][:10] for d in day_one} == {"2021-03-03"}
    assert len(day_one) == sum(1 for e in events if e.timestamp.date().isoformat() == "2021-03-03")
    assert _export("--data", str(data_dir), "--from", "2022-01-01", output=tmp_path / "none.jsonl") == []


def test_hostile_strings_stay_valid_json(data_dir: Path, tmp_path: Path):
    documents = _export("--data", str(data_dir), "--from", "2021-03-03T05:00:00Z", "--to", "2021-03-03T05:00:03Z",
                        output=tmp_path / "hostile.jsonl")
    assert len(documents) == 3
    headers = dict(map(tuple, documents[0]["honeyscope"]["request"]["headers"]))
    assert headers["User-Agent"].endswith("\x1b[0m\x00") and len(headers["X-Long"]) == 200_000
    agent = documents[1]["user_agent"]["original"]
    assert agent.startswith("\u202e\ufeffcaf\xc3(") and len(agent) > 200_000
    assert documents[1]["http"]["request"]["method"] == "P\x00ST<svg/onload=alert(1)>"


def test_a_missing_store_or_a_bad_time_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["export", "ecs", "--data", str(tmp_path / "none"), "--output", str(tmp_path / "x.jsonl")]) == 2
    assert main(["export", "ecs", "--data", str(tmp_path), "--from", "March 3rd"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2, errors
    assert errors[0].startswith(f"honeyscope: error: no store at {tmp_path / 'none' / 'honeyscope.duckdb'} — run")
    assert errors[1].startswith("honeyscope: error: --from 'March 3rd': not an ISO 8601 day or time")
    assert not (tmp_path / "x.jsonl").exists()


def test_a_spool_export_takes_the_period_too(data_dir: Path, events: list[HttpRequestEvent], tmp_path: Path):
    lines = tmp_path / "events.jsonl"
    from honeyscope.events import encode_event

    lines.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    documents = _export("--input", str(lines), "--from", "2021-03-04", output=tmp_path / "day2.jsonl")
    assert [d["event"]["id"] for d in documents] == [
        e.event.id for e in events if e.timestamp.date().isoformat() == "2021-03-04"]


@pytest.fixture(scope="module")
def postgres_dsn(events: list[HttpRequestEvent]) -> Iterator[str]:
    """A real PostgreSQL holding the same events (skipped when PostgreSQL cannot run here)."""
    try:
        with database_holding(events, "ecs") as dsn:
            yield dsn
    except (PostgresUnavailableError, OSError) as error:  # raised by the start, before the yield
        pytest.skip(f"PostgreSQL unavailable: {error}")


def test_export_from_postgresql(postgres_dsn: str, events: list[HttpRequestEvent], tmp_path: Path):
    config = tmp_path / "honeyscope.toml"
    config.write_text(f"[store]\nkind = \"postgres\"\ndsn = {postgres_dsn!r}\n", encoding="utf-8")
    documents = _export("--config", str(config), "--from", "2021-03-04", output=tmp_path / "pg.jsonl")
    assert [d["event"]["id"] for d in documents] == [
        e.event.id for e in _by_time(events) if e.timestamp.date().isoformat() == "2021-03-04"]
    assert any("rule" in d for d in documents)
