"""Parquet export on both backends: one hive partition per UTC day, the table's columns, readable by
pyarrow and DuckDB, docs intact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from honeyscope.events import decode_event
from honeyscope.store.base import EventStore
from honeyscope.store.columns import EVENT_ARROW, EVENT_COLUMNS

START = datetime(2021, 3, 1, 23, 0, tzinfo=UTC)


@pytest.fixture
def three_days(store: EventStore, build: Any) -> list[Any]:
    """7 events from 23:00 on 2021-03-01, one every 20 minutes (3 that day, 4 the next), and one
    lifecycle event on 2021-03-03."""
    events = build.series(7, start=START, step=timedelta(minutes=20), path="/a\x00b")
    events.append(build.lifecycle(at=START + timedelta(days=2)))
    store.write(events)
    return events


def test_export_writes_one_partition_per_day(store: EventStore, three_days: list[Any], tmp_path: Path) -> None:
    files = store.export_parquet(tmp_path / "export")
    days = sorted({file.parent.name for file in files})
    assert days == ["day=2021-03-01", "day=2021-03-02", "day=2021-03-03"]
    table = ds.dataset(tmp_path / "export", format="parquet", partitioning="hive").to_table()
    per_day = table.group_by("day").aggregate([("id", "count")]).to_pylist()
    assert {str(row["day"]): row["id_count"] for row in per_day} == {"2021-03-01": 3, "2021-03-02": 4,
                                                                    "2021-03-03": 1}
    exported = [decode_event(doc) for doc in table.column("doc").to_pylist()]
    assert sorted(exported, key=lambda e: e.event.id) == sorted(three_days, key=lambda e: e.event.id)


def test_export_files_have_the_table_columns(store: EventStore, three_days: list[Any], tmp_path: Path) -> None:
    files = store.export_parquet(tmp_path / "export")
    schema = pq.read_schema(files[0])
    assert schema.names == list(EVENT_COLUMNS)  # ``day`` is the directory name
    for name in EVENT_COLUMNS:
        assert schema.field(name).type == EVENT_ARROW.field(name).type, name
    rows = pq.read_table(files[0]).to_pylist()
    assert rows[0]["path"] == "/a\ufffdb" and rows[0]["ts"] == START.replace(tzinfo=None)


def test_duckdb_reads_the_export_back(store: EventStore, three_days: list[Any], tmp_path: Path) -> None:
    store.export_parquet(tmp_path / "export")
    pattern = str(tmp_path / "export" / "**" / "*.parquet")
    counts = duckdb.sql(f"SELECT CAST(day AS VARCHAR), count(*) FROM read_parquet('{pattern}', "
                        "hive_partitioning = true) GROUP BY ALL ORDER BY 1").fetchall()
    assert counts == [("2021-03-01", 3), ("2021-03-02", 4), ("2021-03-03", 1)]


def test_export_of_a_time_window(store: EventStore, three_days: list[Any], tmp_path: Path) -> None:
    files = store.export_parquet(tmp_path / "export", start=START + timedelta(hours=1),
                                 end=START + timedelta(days=1))
    assert [file.parent.name for file in files] == ["day=2021-03-02"]
    assert pq.read_table(files[0]).num_rows == 4


def test_export_refuses_a_directory_with_files(store: EventStore, three_days: list[Any], tmp_path: Path) -> None:
    target = tmp_path / "export"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        store.export_parquet(target)
    assert (target / "keep.txt").read_text() == "mine"


def test_export_of_an_empty_store_writes_nothing(store: EventStore, tmp_path: Path) -> None:
    assert store.export_parquet(tmp_path / "export") == []
