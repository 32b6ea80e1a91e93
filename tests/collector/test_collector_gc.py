"""The collector schedules Python's cyclic garbage collector while it runs, and gives it back afterwards."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from honeyscope.bus.base import Outgoing
from honeyscope.bus.memory import MemoryBus
from honeyscope.collector.pipeline import Collector
from honeyscope.config import CollectorSettings, StoreSettings
from honeyscope.events import encode_event
from honeyscope.sensor.personas.registry import load_persona
from honeyscope.store import open_store
from honeyscope.testing.record import InProcessRecorder

SETTINGS = CollectorSettings(batch_events=20, batch_seconds=0.05, metrics_address="")


def outgoing(spool: Path) -> list[Outgoing]:
    recorder = InProcessRecorder(load_persona("exchange", {}), spool, source_ip="8.8.4.4")
    for index in range(30):
        recorder.send("GET", f"/owa/auth/logon.aspx?n={index}")
    recorder.close()
    return [Outgoing(event.event.id, encode_event(event)) for event in recorder.events]


async def collect(tmp_path: Path, collectors: int) -> tuple[list[bool], int]:
    """Run ``collectors`` collectors on one bus; returns gc.isenabled() seen while they ran, and events stored."""
    store = open_store(StoreSettings(path=str(tmp_path / "events.duckdb")))
    store.migrate()
    bus = MemoryBus()
    running = [Collector(bus.subscriber(), store, settings=SETTINGS) for _ in range(collectors)]
    stops = [asyncio.Event() for _ in running]
    tasks = [asyncio.create_task(collector.run(stop)) for collector, stop in zip(running, stops, strict=True)]
    await asyncio.wait_for(bus.publisher().publish(outgoing(tmp_path / "spool")), timeout=60)
    seen = [gc.isenabled()]
    stops[0].set()
    await asyncio.wait_for(tasks[0], timeout=30)
    seen.append(gc.isenabled())  # the other collector, if any, still runs
    for stop in stops:
        stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    await bus.close()
    stored = store.count()
    store.close()
    return seen, stored


def test_automatic_collection_is_off_while_collectors_run_and_back_after(tmp_path: Path) -> None:
    assert gc.isenabled()
    seen, stored = asyncio.run(collect(tmp_path, collectors=2))
    assert stored == 30
    assert seen == [False, False]
    assert gc.isenabled()


def test_a_process_that_turned_collection_off_keeps_it_off(tmp_path: Path) -> None:
    gc.disable()
    try:
        seen, stored = asyncio.run(collect(tmp_path, collectors=1))
        assert stored == 30 and not gc.isenabled()
    finally:
        gc.enable()
    assert seen == [False, False]
