"""The shipper moves every spooled event to the bus at least once, resumes, and survives bad records."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from honeyscope.bus.memory import MemoryBus
from honeyscope.config import ShipperSettings
from honeyscope.events import SensorLifecycleEvent, encode_event, new_event_id
from honeyscope.events.schema import EventMeta, HsLifecycle, HsLifecycleNs, Observer
from honeyscope.sensor.spool import SpoolWriter, frame, list_segments
from honeyscope.shipper import OFFSET_FILE, REJECTED_FILE, RejectedLog, Shipper

FAST = ShipperSettings(batch_events=50, poll_interval=0.02, max_backoff=0.2)


def run(coroutine: Coroutine[Any, Any, None], timeout: float = 60) -> None:
    asyncio.run(asyncio.wait_for(coroutine, timeout))


def make_events(count: int) -> tuple[list[str], list[bytes]]:
    """``count`` real spoolable events: their ids and JSON payloads."""
    ids = [new_event_id() for _ in range(count)]
    payloads = [encode_event(SensorLifecycleEvent(
        timestamp=datetime(2021, 3, 3, 12, 0, tzinfo=UTC), event=EventMeta(id=event_id),
        observer=Observer(name="sensor-1"), honeyscope=HsLifecycleNs(sensor=HsLifecycle(action="heartbeat"))))
        for event_id in ids]
    return ids, payloads


def spool(directory: Path, count: int, *, segment_bytes: int = 64 * 1024 * 1024) -> list[str]:
    """A sensor run that spools ``count`` events in batches of 7, then stops (closing its segment)."""
    writer = SpoolWriter(directory, segment_bytes=segment_bytes)
    ids, payloads = make_events(count)
    for start in range(0, count, 7):
        assert writer.append(payloads[start:start + 7])
    writer.close()
    return ids


def stored_offset(state: Path) -> tuple[str, int] | None:
    path = state / OFFSET_FILE
    if not path.exists():
        return None
    stored = json.loads(path.read_text())
    return stored["segment"], stored["offset"]


class Collector:
    """A consumer on the in-process bus that records every delivery (duplicates included) and acks."""

    def __init__(self, bus: MemoryBus) -> None:
        self.subscriber = bus.subscriber()
        self.received: list[str] = []
        self.payloads: list[bytes] = []

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            deliveries = await self.subscriber.fetch(100, 0.05)
            self.received += [d.event_id for d in deliveries]
            self.payloads += [d.payload for d in deliveries]
            await self.subscriber.ack(deliveries)


async def ship_until(shipper: Shipper, done: Callable[[], bool], bus: MemoryBus | None = None,
                     collector: Collector | None = None, timeout: float = 20) -> None:
    """Run the shipper (and the collector) until ``done()`` holds, then stop both."""
    stop, collecting = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(shipper.run(stop))]
    if collector is not None:
        tasks.append(asyncio.create_task(collector.run(collecting)))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done() and loop.time() < deadline:
        await asyncio.sleep(0.02)
    stop.set()
    await tasks[0]
    collecting.set()
    await asyncio.gather(*tasks[1:])
    if bus is not None:
        await bus.close()
    assert done(), "the shipper did not get there in time"


def test_ships_every_spooled_event_across_segments_in_order(tmp_path: Path) -> None:
    ids = spool(tmp_path / "spool", 300, segment_bytes=8000)
    assert len(list_segments(tmp_path / "spool")) > 3

    async def scenario() -> None:
        bus = MemoryBus()
        collector = Collector(bus)
        shipper = Shipper(tmp_path / "spool", tmp_path / "state", bus.publisher(), sensor="sensor-1", settings=FAST)
        await ship_until(shipper, lambda: len(collector.received) >= 300, bus, collector)
        assert collector.received == ids
        assert shipper.stats.shipped == 300 and shipper.stats.batches >= 6
        assert shipper.stats.lag_bytes == 0 and shipper.stats.corrupt == shipper.stats.torn == 0

    run(scenario())
    last = list_segments(tmp_path / "spool")[-1][1]
    assert stored_offset(tmp_path / "state") == (last.name, last.stat().st_size)


def test_a_restarted_shipper_resumes_without_resending_acknowledged_batches(tmp_path: Path) -> None:
    first_ids = spool(tmp_path / "spool", 120)

    async def first_run() -> None:
        bus = MemoryBus()
        collector = Collector(bus)
        shipper = Shipper(tmp_path / "spool", tmp_path / "state", bus.publisher(), sensor="s", settings=FAST)
        await ship_until(shipper, lambda: len(collector.received) >= 120, bus, collector)
        assert collector.received == first_ids

    run(first_run())
    later_ids = spool(tmp_path / "spool", 80)  # the sensor restarted: a new segment

    async def second_run() -> None:
        bus = MemoryBus()
        collector = Collector(bus)
        shipper = Shipper(tmp_path / "spool", tmp_path / "state", bus.publisher(), sensor="s", settings=FAST)
        await ship_until(shipper, lambda: shipper.stats.lag_bytes == 0 and len(collector.received) >= 80,
                         bus, collector)
        await asyncio.sleep(0)
        assert collector.received == later_ids  # nothing of the first run delivered twice

    run(second_run())


def test_an_abandoned_publish_is_shipped_again_after_restart(tmp_path: Path) -> None:
    ids = spool(tmp_path / "spool", 30)

    async def without_collector() -> None:
        bus = MemoryBus()  # nobody acks: publish never returns, the offset must not move
        shipper = Shipper(tmp_path / "spool", tmp_path / "state", bus.publisher(), sensor="s", settings=FAST)
        await ship_until(shipper, lambda: bus.unacknowledged == 30, bus)
        assert shipper.stats.shipped == 0

    run(without_collector())
    assert stored_offset(tmp_path / "state") in (None, ("segment-000000000001.jsonl", 0))

    async def with_collector() -> None:
        bus = MemoryBus()
        collector = Collector(bus)
        shipper = Shipper(tmp_path / "spool", tmp_path / "state", bus.publisher(), sensor="s", settings=FAST)
        await ship_until(shipper, lambda: len(collector.received) >= 30, bus, collector)
        assert collector.received == ids

    run(with_collector())


def test_corrupt_and_torn_records_are_skipped_counted_and_reported(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "spool"
    ids = spool(directory, 10)
    segment = list_segments(directory)[0][1]
    data = bytearray(segment.read_bytes())
    third = data.index(b"\n", data.index(b"\n") + 1) + 1
    data[third + 40] ^= 0x01  # flip a bit inside record 3
    data += b"0badc0de {\"event\":{\"id\":\"torn"  # then the sensor was killed mid-write
    segment.write_bytes(bytes(data))
    later = spool(directory, 5)  # and started again

    async def scenario() -> None:
        bus = MemoryBus()
        collector = Collector(bus)
        shipper = Shipper(directory, tmp_path / "state", bus.publisher(), sensor="s", settings=FAST)
        await ship_until(shipper, lambda: shipper.stats.lag_bytes == 0 and len(collector.received) >= 14,
                         bus, collector)
        assert collector.received == [*ids[:2], *ids[3:], *later]
        assert (shipper.stats.corrupt, shipper.stats.torn, shipper.stats.shipped) == (1, 1, 14)

    with caplog.at_level(logging.ERROR, logger="honeyscope.shipper"):
        run(scenario())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"{segment.name}@{third}: corrupt record skipped" in m for m in errors)
    assert sum("torn record skipped" in m for m in errors) == 1


def test_an_unknown_schema_version_is_listed_not_shipped_and_left_in_place(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "spool"
    writer = SpoolWriter(directory)
    ids, payloads = make_events(4)
    newer = b'{"schema_version":99,"type":"http.request","event":{"id":"from-the-future"}}'
    writer.append(payloads[:2])
    offset = writer.current_segment.stat().st_size
    writer.append([newer, *payloads[2:]])
    writer.close()
    before = writer.current_segment.read_bytes()

    async def scenario() -> None:
        bus = MemoryBus()
        collector = Collector(bus)
        shipper = Shipper(directory, tmp_path / "state", bus.publisher(), sensor="s", settings=FAST)
        await ship_until(shipper, lambda: len(collector.received) >= 4, bus, collector)
        assert collector.received == ids
        assert shipper.stats.rejected == 1

    with caplog.at_level(logging.ERROR, logger="honeyscope.shipper"):
        run(scenario())
    listed = RejectedLog(tmp_path / "state").read()
    assert [(r.segment, r.offset, r.version) for r in listed] == [(writer.current_segment.name, offset, 99)]
    assert "schema version 99" in listed[0].reason
    message = next(r.getMessage() for r in caplog.records if "not shipped" in r.getMessage())
    assert f"{writer.current_segment.name}@{offset}" in message and "version 99" in message
    assert REJECTED_FILE in message
    assert writer.current_segment.read_bytes() == before


def test_a_record_still_being_written_is_waited_for(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    writer = SpoolWriter(directory)
    ids, payloads = make_events(3)
    writer.append(payloads[:2])
    whole = frame(payloads[2])
    with writer.current_segment.open("ab") as handle:
        handle.write(whole[:25])  # the sensor is in the middle of write(2)

    async def scenario() -> None:
        bus = MemoryBus()
        collector = Collector(bus)
        shipper = Shipper(directory, tmp_path / "state", bus.publisher(), sensor="s", settings=FAST)
        stop, collecting = asyncio.Event(), asyncio.Event()
        tasks = [asyncio.create_task(shipper.run(stop)), asyncio.create_task(collector.run(collecting))]
        for _ in range(200):
            if len(collector.received) >= 2:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # several polls over the partial line
        assert collector.received == ids[:2] and shipper.stats.torn == 0
        with writer.current_segment.open("ab") as handle:
            handle.write(whole[25:])
        for _ in range(200):
            if len(collector.received) >= 3:
                break
            await asyncio.sleep(0.02)
        stop.set()
        collecting.set()
        await asyncio.gather(*tasks)
        await bus.close()
        assert collector.received == ids

    run(scenario())


def test_an_unreadable_offset_file_means_shipping_everything_again(tmp_path: Path) -> None:
    ids = spool(tmp_path / "spool", 20)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / OFFSET_FILE).write_text("{not json")

    async def scenario() -> None:
        bus = MemoryBus()
        collector = Collector(bus)
        shipper = Shipper(tmp_path / "spool", tmp_path / "state", bus.publisher(), sensor="s", settings=FAST)
        await ship_until(shipper, lambda: len(collector.received) >= 20, bus, collector)
        assert collector.received == ids

    run(scenario())


def test_stop_while_the_bus_is_down_returns_promptly_and_keeps_the_offset(tmp_path: Path) -> None:
    spool(tmp_path / "spool", 10)

    async def scenario() -> None:
        bus = MemoryBus()
        await bus.close()  # every publish fails
        shipper = Shipper(tmp_path / "spool", tmp_path / "state", bus.publisher(), sensor="s",
                          settings=ShipperSettings(poll_interval=0.02, max_backoff=30))
        stop = asyncio.Event()
        task = asyncio.create_task(shipper.run(stop))
        for _ in range(200):
            if shipper.stats.bus_errors:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 2.0)
        assert shipper.stats.shipped == 0 and shipper.stats.lag_bytes > 0
        assert "closed" in (shipper.stats.last_error or "")

    run(scenario())
    assert stored_offset(tmp_path / "state") in (None, ("segment-000000000001.jsonl", 0))


def test_several_batches_await_their_acknowledgement_at_once(tmp_path: Path) -> None:
    spool(tmp_path / "spool", 1000)

    async def scenario() -> None:
        bus = MemoryBus()  # no collector yet: every publish waits
        settings = ShipperSettings(batch_events=100, in_flight_batches=4, poll_interval=0.02)
        shipper = Shipper(tmp_path / "spool", tmp_path / "state", bus.publisher(), sensor="s", settings=settings)
        stop = asyncio.Event()
        task = asyncio.create_task(shipper.run(stop))
        for _ in range(200):
            if bus.unacknowledged >= 400:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert bus.unacknowledged == 400  # four batches of 100 in flight, no more
        collector = Collector(bus)
        collecting = asyncio.Event()
        consumer = asyncio.create_task(collector.run(collecting))
        for _ in range(500):
            if shipper.stats.shipped == 1000:
                break
            await asyncio.sleep(0.01)
        stop.set()
        collecting.set()
        await asyncio.gather(task, consumer)
        await bus.close()
        assert shipper.stats.shipped == 1000 and len(set(collector.received)) == 1000

    run(scenario())
