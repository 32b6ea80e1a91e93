"""The shipper against a real nats-server that is absent at first, or killed in the middle of a run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from honeyscope.bus.nats import NatsBus, connect_nats
from honeyscope.config import BusSettings, ShipperSettings
from honeyscope.events import SensorLifecycleEvent, encode_event, new_event_id
from honeyscope.events.schema import EventMeta, HsLifecycle, HsLifecycleNs, Observer
from honeyscope.sensor.spool import SpoolWriter
from honeyscope.shipper import RejectedLog, Shipper
from honeyscope.testing.nats import NatsServer


def run(coroutine: Coroutine[Any, Any, None], timeout: float = 120) -> None:
    asyncio.run(asyncio.wait_for(coroutine, timeout))


def spool(directory: Path, count: int, segment_bytes: int = 1 << 20) -> list[str]:
    writer = SpoolWriter(directory, segment_bytes=segment_bytes)
    ids = [new_event_id() for _ in range(count)]
    for start in range(0, count, 100):
        writer.append([encode_event(SensorLifecycleEvent(
            timestamp=datetime(2021, 3, 3, tzinfo=UTC), event=EventMeta(id=event_id),
            observer=Observer(name="sensor-1"), honeyscope=HsLifecycleNs(sensor=HsLifecycle(action="heartbeat"))))
            for event_id in ids[start:start + 100]])
    writer.close()
    return ids


async def wait_for(condition: Any, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert condition(), "condition not reached in time"


async def stream_ids(server: NatsServer) -> list[str]:
    """Every event id in the stream (a collector's view), duplicates included."""
    bus = await connect_nats(BusSettings(kind="nats", servers=[server.url]), name="collector")
    subscriber = await bus.subscriber()
    ids: list[str] = []
    for _ in range(1000):
        deliveries = await subscriber.fetch(1000, 1.0)
        if not deliveries:
            break
        ids += [d.event_id for d in deliveries]
        await subscriber.ack(deliveries)
    await bus.close()
    return ids


def test_nats_absent_at_start_then_started_everything_arrives(tmp_path: Path, nats_server: NatsServer,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    ids = spool(tmp_path / "spool", 500)
    nats_server.stop()  # same port and store, not running yet

    async def scenario() -> None:
        bus = NatsBus(BusSettings(kind="nats", servers=[nats_server.url]), name="shipper")
        shipper = Shipper(tmp_path / "spool", tmp_path / "state", bus.publisher(), sensor="sensor-1",
                          settings=ShipperSettings(batch_events=100, poll_interval=0.05, max_backoff=0.3))
        stop = asyncio.Event()
        task = asyncio.create_task(shipper.run(stop))
        await wait_for(lambda: shipper.stats.bus_errors >= 3, 20)
        assert shipper.stats.shipped == 0
        await asyncio.to_thread(nats_server.start)
        await wait_for(lambda: shipper.stats.shipped == 500, 30)
        stop.set()
        await task
        await bus.close()
        assert sorted(await stream_ids(nats_server)) == sorted(ids)

    with caplog.at_level(logging.INFO, logger="honeyscope"):
        run(scenario())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one clear line, not one per retry
    assert f"cannot reach NATS at {nats_server.url}: connection refused — start nats-server" in warnings[0]
    assert any("shipping resumed" in r.getMessage() for r in caplog.records)


def test_nats_killed_mid_run_and_restarted_every_event_arrives(tmp_path: Path, nats_server: NatsServer) -> None:
    ids = spool(tmp_path / "spool", 20_000)

    async def scenario() -> None:
        bus = NatsBus(BusSettings(kind="nats", servers=[nats_server.url], publish_timeout=2.0), name="shipper")
        shipper = Shipper(tmp_path / "spool", tmp_path / "state", bus.publisher(), sensor="sensor-1",
                          settings=ShipperSettings(batch_events=500, poll_interval=0.05, max_backoff=0.5))
        stop = asyncio.Event()
        task = asyncio.create_task(shipper.run(stop))
        await wait_for(lambda: shipper.stats.shipped >= 4000, 60)
        nats_server.kill()
        killed_at = shipper.stats.shipped
        await asyncio.sleep(0.5)
        await asyncio.to_thread(nats_server.start)
        await wait_for(lambda: shipper.stats.shipped == 20_000, 90)
        stop.set()
        await task
        await bus.close()
        assert killed_at < 20_000
        assert shipper.stats.bus_errors >= 1
        delivered = await stream_ids(nats_server)
        assert set(delivered) == set(ids)  # at least once: none missing

    run(scenario(), timeout=240)


def test_an_event_over_the_servers_max_payload_is_listed_and_the_rest_ship(tmp_path: Path,
                                                                           nats_server: NatsServer) -> None:
    nats_server.stop()
    writer = SpoolWriter(tmp_path / "spool")
    ids = [new_event_id() for _ in range(5)]
    big = b'{"schema_version":1,"type":"http.request","event":{"id":"big-one"},"pad":"%s"}' % (b"x" * 8000)
    small = [encode_event(SensorLifecycleEvent(
        timestamp=datetime(2021, 3, 3, tzinfo=UTC), event=EventMeta(id=event_id), observer=Observer(name="s"),
        honeyscope=HsLifecycleNs(sensor=HsLifecycle(action="heartbeat")))) for event_id in ids]
    writer.append([*small[:2], big, *small[2:]])
    writer.close()

    with NatsServer(tmp_path / "small", extra_config="max_payload: 4096") as server:

        async def scenario() -> None:
            bus = NatsBus(BusSettings(kind="nats", servers=[server.url]), name="shipper")
            shipper = Shipper(tmp_path / "spool", tmp_path / "state", bus.publisher(), sensor="s",
                              settings=ShipperSettings(poll_interval=0.05))
            stop = asyncio.Event()
            task = asyncio.create_task(shipper.run(stop))
            await wait_for(lambda: shipper.stats.shipped == 5 and shipper.stats.lag_bytes == 0, 20)
            stop.set()
            await task
            await bus.close()
            assert shipper.stats.rejected == 1
            assert sorted(await stream_ids(server)) == sorted(ids)

        run(scenario())
    listed = RejectedLog(tmp_path / "state").read()
    assert [(r.event_id, r.version) for r in listed] == [("big-one", None)]
    assert "max_payload" in listed[0].reason
