"""``honeyscope ship`` as a user runs it: a process that ships a spool to a real nats-server."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from honeyscope.bus.nats import connect_nats
from honeyscope.config import BusSettings
from honeyscope.events import SensorLifecycleEvent, encode_event, new_event_id
from honeyscope.events.schema import EventMeta, HsLifecycle, HsLifecycleNs, Observer
from honeyscope.sensor.spool import SpoolWriter
from honeyscope.testing.nats import NatsServer


def spool(directory: Path, count: int) -> set[str]:
    writer = SpoolWriter(directory)
    ids = [new_event_id() for _ in range(count)]
    writer.append([encode_event(SensorLifecycleEvent(
        timestamp=datetime.now(UTC), event=EventMeta(id=i), observer=Observer(name="dmz-1"),
        honeyscope=HsLifecycleNs(sensor=HsLifecycle(action="heartbeat")))) for i in ids])
    writer.close()
    return set(ids)


async def take_all(url: str, expected: int, timeout: float = 20) -> list[str]:
    bus = await connect_nats(BusSettings(kind="nats", servers=[url]), name="collector")
    subscriber = await bus.subscriber()
    ids: list[str] = []
    deadline = time.monotonic() + timeout
    while len(ids) < expected and time.monotonic() < deadline:
        deliveries = await subscriber.fetch(500, 0.5)
        ids += [d.event_id for d in deliveries]
        await subscriber.ack(deliveries)
    await bus.close()
    return ids


def test_ship_publishes_the_spool_and_stops_cleanly_on_sigterm(tmp_path: Path, nats_server: NatsServer) -> None:
    ids = spool(tmp_path / "spool", 300)
    process = subprocess.Popen(
        [sys.executable, "-m", "honeyscope", "ship", "--spool", str(tmp_path / "spool"), "--state",
         str(tmp_path / "state"), "--nats", nats_server.url, "--name", "dmz-1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        received = asyncio.run(take_all(nats_server.url, 300))
        assert set(received) == ids
        for _ in range(100):  # the offset is written right after the last acknowledged batch
            if (tmp_path / "state" / "shipper-offset.json").exists():
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr.decode()
    assert b"300 events shipped" in stderr
    assert (tmp_path / "state" / "shipper-offset.json").exists()


def test_ship_without_nats_is_one_clear_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "honeyscope", "ship", "--spool", str(tmp_path)],
                            capture_output=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert lines == ["honeyscope: error: ship needs the NATS bus — pass --nats nats://HOST:4222 or set [bus] "
                     "kind = \"nats\" (on one machine 'honeyscope up' ships in-process)"]


def test_ship_help_names_its_options() -> None:
    result = subprocess.run([sys.executable, "-m", "honeyscope", "ship", "--help"], capture_output=True, timeout=60)
    assert result.returncode == 0
    for option in ("--spool DIR", "--state DIR", "--config FILE", "--nats URL", "--name SENSOR"):
        assert option in result.stdout.decode()
