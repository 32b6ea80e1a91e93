"""``honeyscope up`` end to end on loopback: the store holds exactly the events the sensor spooled.

Real processes (sensor child, shipper, in-process bus, collector, DuckDB file), real sockets, a bounded
load generator; the comparison is by event id set — none missing, none twice.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import duckdb
import pytest

from honeyscope.sensor.spool import read_spool
from honeyscope.testing.live import live_sensor, live_up, terminate
from honeyscope.testing.load import generate_load

pytestmark = pytest.mark.slow


def spooled_ids(spool: Path) -> list[str]:
    from honeyscope.collector.replay import event_id_of

    return [event_id_of(record.payload) for record in read_spool(spool)]


def stored_ids(data: Path) -> list[str]:
    """Every id in the store, read after the node stopped (DuckDB admits one process at a time)."""
    with duckdb.connect(str(data / "honeyscope.duckdb"), read_only=True) as connection:
        return [str(row[0]) for row in connection.execute("SELECT id FROM events").fetchall()]


def load(address: tuple[str, int], total: int) -> int:
    result = asyncio.run(generate_load([address], total=total, connections=8, pipeline=8, deadline=120))
    return result.answered


def test_up_stores_every_spooled_event_once_and_reports_it(tmp_path: Path) -> None:
    data = tmp_path / "node"
    with live_up(data) as node:
        answered = load(node.address(), 3000)
        status = node.wait_stored(answered)
        assert node.metrics_url is not None
        metrics = urllib.request.urlopen(node.metrics_url, timeout=10).read().decode()
        assert node.web_url is not None  # the dashboard runs inside up, on the same store
        live = json.loads(urllib.request.urlopen(node.web_url + "api/live?limit=5", timeout=30).read())
        cli = subprocess.run([sys.executable, "-m", "honeyscope", "status", "--data", str(data)],
                             capture_output=True, text=True, timeout=60, check=False)
    assert answered == 3000
    assert status["running"] and status["components"]["sensor"]["running"]
    assert 'honeyscope_events_total{stage="stored"}' in metrics
    assert len(live["events"]) == 5  # the newest stored events, served from the store up writes to
    assert cli.returncode == 0 and "events stored:" in cli.stdout
    spooled, stored = spooled_ids(data / "spool"), stored_ids(data)
    assert len(stored) == len(set(stored))
    assert set(stored) == set(spooled) and len(spooled) == len(set(spooled))
    after = subprocess.run([sys.executable, "-m", "honeyscope", "status", "--data", str(data)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert after.returncode == 1 and "not running" in after.stdout


def test_kill_9_mid_load_then_restart_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "node"
    with live_up(data) as node:
        load(node.address(), 2000)
        node.kill()  # the sensor child goes down with it (parent-death signal)
    with live_up(data, log_name="up-2.log") as node:
        load(node.address(), 1000)
        node.wait_stored(len(spooled_ids(data / "spool")))
    spooled, stored = spooled_ids(data / "spool"), stored_ids(data)
    assert len(stored) == len(set(stored)) == len(set(spooled))
    assert set(stored) == set(spooled)


def test_collector_absent_during_the_load_catches_up(tmp_path: Path) -> None:
    data = tmp_path / "node"
    with live_sensor(data, extra_args=["--name", "lonely"]) as sensor:
        assert load(sensor.address(), 2500) == 2500
    with live_up(data, http=None, extra_args=["--no-sensor"]) as node:
        node.wait_stored(len(spooled_ids(data / "spool")))
        terminate(node.process)
    assert set(stored_ids(data)) == set(spooled_ids(data / "spool"))
