"""``honeyscope export parquet``: the store's events of a period as Parquet, one hive directory per UTC day,
readable back by DuckDB with every event once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from honeyscope.cli.main import main
from honeyscope.events.schema import HttpRequestEvent
from honeyscope.share.stix.synthetic import CAMPAIGN_START, campaign_events, hostile_events
from honeyscope.testing.store import data_dir_holding


@pytest.fixture(scope="module")
def events() -> list[HttpRequestEvent]:
    return [*campaign_events(sources=6, days=3, shell_every=4), *hostile_events(CAMPAIGN_START + timedelta(hours=5))]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, events: list[HttpRequestEvent]) -> Path:
    return data_dir_holding(tmp_path_factory.mktemp("data"), events)


def _read_back(directory: Path) -> list[tuple[str, str, bytes]]:
    """(day directory, id, doc) of every row the export wrote, read with DuckDB's hive partitioning."""
    pattern = str(directory / "**" / "*.parquet")
    with duckdb.connect() as con:
        return con.execute(f"SELECT CAST(day AS VARCHAR), CAST(id AS VARCHAR), doc "
                           f"FROM read_parquet('{pattern}', hive_partitioning = true)").fetchall()


def test_every_event_once_in_its_day_directory(data_dir: Path, events: list[HttpRequestEvent], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "parquet"
    assert main(["export", "parquet", "--data", str(data_dir), "--output", str(output)]) == 0
    days = sorted(path.name for path in output.iterdir())
    expected_days = sorted({f"day={event.timestamp.date().isoformat()}" for event in events})
    assert days == expected_days
    rows = _read_back(output)
    assert sorted(row[1] for row in rows) == sorted(event.event.id for event in events)
    by_id = {event.event.id: event for event in events}
    for day, event_id, doc in rows:
        assert day == by_id[event_id].timestamp.date().isoformat()
        assert json.loads(doc)["event"]["id"] == event_id
    assert capsys.readouterr().err.strip().endswith(f"Parquet files in {output}")


def test_from_and_to_select_whole_days(data_dir: Path, events: list[HttpRequestEvent], tmp_path: Path) -> None:
    first = min(event.timestamp for event in events).date()
    output = tmp_path / "one-day"
    assert main(["export", "parquet", "--data", str(data_dir), "--from", first.isoformat(),
                 "--to", (first + timedelta(days=1)).isoformat(), "--output", str(output)]) == 0
    rows = _read_back(output)
    assert [path.name for path in output.iterdir()] == [f"day={first.isoformat()}"]
    assert len(rows) == sum(1 for event in events if event.timestamp.date() == first)


def test_a_non_empty_output_directory_is_refused(data_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    assert main(["export", "parquet", "--data", str(data_dir), "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not an empty directory" in err
    assert (tmp_path / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_a_missing_store_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "parquet", "--data", str(tmp_path / "none"), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no store at" in err
