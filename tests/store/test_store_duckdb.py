"""DuckDB specifics: one process per file, reads beside writes, its Arrow ingest giving exactly the
columns (and docs) PostgreSQL's row flattening gives, and its memory bound."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest

from honeyscope.config import ConfigError
from honeyscope.events import Detection, Event, encode_event
from honeyscope.events.schema import HsLimitNs
from honeyscope.store import EventQuery
from honeyscope.store.columns import DETECTION_COLUMNS, EVENT_COLUMNS, stage
from honeyscope.store.duckdb import DuckDBStore

MakeDetection = Callable[..., Detection]


def test_a_second_process_cannot_open_the_file(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    store = DuckDBStore(path)
    store.migrate()
    probe = ("import sys\nfrom pathlib import Path\nfrom honeyscope.store import StoreUnavailableError\n"
             "from honeyscope.store.duckdb import DuckDBStore\n"
             "try:\n    DuckDBStore(Path(sys.argv[1]))\nexcept StoreUnavailableError as error:\n"
             "    print(error)\n    sys.exit(3)\n")
    result = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 3, result.stderr
    assert f"cannot open DuckDB file {path}" in result.stdout
    assert "DuckDB lets one process use a file" in result.stdout
    store.close()


def test_reads_from_another_thread_while_writing(tmp_path: Path, build: Any) -> None:
    store = DuckDBStore(tmp_path / "events.duckdb")
    store.migrate()
    batches = [build.series(200, start=datetime(2021, 3, 3, tzinfo=UTC) + timedelta(hours=i)) for i in range(10)]
    seen: list[int] = []
    failures: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(50):
                seen.append(store.count())
                store.events(EventQuery(limit=5, descending=True))
        except BaseException as error:  # asserted on below
            failures.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    for batch in batches:
        store.write(batch)
    reader.join(60)
    assert not failures
    assert seen == sorted(seen) and seen[-1] <= 2000
    assert store.count() == 2000
    store.close()


def varied_events(build: Any, make_detection: MakeDetection) -> list[Event]:
    """Events that exercise every default, absence and odd value the flattening must agree on."""
    t0 = datetime(2021, 3, 3, 23, 59, 59, 999999, tzinfo=UTC)
    medium = make_detection("m", cves=("CVE-2020-0688", "CVE-2020-0688"), severity="medium")
    odd = Detection(rule_id="y\x00", title="yara \x00hit", engine="yara", severity="unheard-of", stage="s\x00",
                    cves=["CVE-1\x00"], techniques=["T\x00"])
    empty_persona = build.limit(at=t0 + timedelta(seconds=3))
    empty_persona = msgspec.structs.replace(
        empty_persona, honeyscope=HsLimitNs(persona="", limit=empty_persona.honeyscope.limit))
    return [
        build.http(at=t0, detections=[medium, make_detection("c", severity="critical", stage="proxylogon.sid")]),
        build.http(at=t0.astimezone(timezone(timedelta(hours=2))) + timedelta(seconds=1), detections=[odd],
                   path="", query="", agent="", network="private", scanner="Censys\x00"),
        build.http(at=(t0 + timedelta(seconds=2)).replace(tzinfo=None), enriched=False, route="", status=None,
                   method="\x00GET", stage="", ip="2001:db8::1", asn=4294967295, sensor="s\x00"),
        empty_persona,
        build.tls(at=t0 + timedelta(seconds=4), country=None),
        build.limit(at=t0 + timedelta(seconds=5), ip=None),
        build.lifecycle(at=t0 + timedelta(seconds=6)),
    ]


def test_duckdb_arrow_ingest_matches_the_row_flattening(tmp_path: Path, build: Any,
                                                        make_detection: MakeDetection) -> None:
    events = varied_events(build, make_detection)
    staged = stage(events)
    store = DuckDBStore(tmp_path / "events.duckdb")
    store.migrate()
    assert store.write(events) == len(events)
    columns = [name for name in EVENT_COLUMNS if name != "doc"]
    stored = {row["id"]: row for row in store.scan(columns).to_pylist()}
    store.close()
    for row in staged.events:
        expected = dict(zip(EVENT_COLUMNS, row, strict=True))
        expected["ts"] = expected["ts"].astimezone(UTC).replace(tzinfo=None)
        del expected["doc"]
        assert stored[expected["id"]] == expected
    with duckdb.connect(str(tmp_path / "events.duckdb")) as conn:
        found = conn.execute(f"SELECT CAST(event_id AS VARCHAR), {', '.join(DETECTION_COLUMNS[1:])} "
                             "FROM detections ORDER BY 1, ordinal").fetchall()
    expected_detections = sorted(
        (row[0], row[1].astimezone(UTC).replace(tzinfo=None), *row[2:]) for row in staged.detections)
    assert [tuple(row) for row in found] == expected_detections
    # The docs are the events' JSON exactly as encode_event gives it (read back as bytes, not decoded).
    with duckdb.connect(str(tmp_path / "events.duckdb")) as conn:
        docs = dict(conn.execute("SELECT CAST(id AS VARCHAR), doc FROM events").fetchall())
    assert docs == {event.event.id: encode_event(event) for event in events}


def test_memory_limit_is_applied_and_checked(tmp_path: Path, build: Any) -> None:
    store = DuckDBStore(tmp_path / "events.duckdb", memory_limit="128MB")
    store.migrate()
    assert store.write(build.series(500, start=datetime(2021, 3, 3, tzinfo=UTC))) == 500
    store.close()
    with duckdb.connect(str(tmp_path / "events.duckdb")) as conn:  # a fresh instance: DuckDB's default
        default = conn.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    reopened = DuckDBStore(tmp_path / "events.duckdb", memory_limit="128MB")
    applied = reopened._rows("SELECT current_setting('memory_limit')")[0][0]
    assert reopened.count() == 500
    reopened.close()
    assert applied != default and applied.startswith("122.0 MiB")  # 128 MB = 122.0 MiB
    with pytest.raises(ConfigError, match=r"store.memory_limit = 'plenty' is not an amount of memory"):
        DuckDBStore(tmp_path / "other.duckdb", memory_limit="plenty")
    with pytest.raises(ConfigError, match=r"store.memory_limit = '0MB' is not an amount of memory of at least"):
        DuckDBStore(tmp_path / "other.duckdb", memory_limit="0MB")


def test_a_batch_of_large_bodies_fits_the_memory_limit(tmp_path: Path, build: Any) -> None:
    """180 events with 1 MiB bodies (a 5,000-event batch can hold that many) take ~250 MB of documents,
    more than the default memory_limit: written in slices, they are stored and the store stays usable."""
    events = []
    for index in range(180):
        event = build.http(at=datetime(2021, 3, 3, tzinfo=UTC) + timedelta(seconds=index))
        events.append(msgspec.structs.replace(event, honeyscope=msgspec.structs.replace(
            event.honeyscope, request=msgspec.structs.replace(event.honeyscope.request, body=os.urandom(2**20)))))
    store = DuckDBStore(tmp_path / "events.duckdb")
    store.migrate()
    try:
        assert store.write(events) == 180
        assert store.write(build.series(3, start=datetime(2021, 3, 4, tzinfo=UTC))) == 3
        assert store.count() == 183
        stored = store.event(events[-1].event.id)
        assert stored is not None and stored.honeyscope.request.body == events[-1].honeyscope.request.body
    finally:
        store.close()
