"""``honeyscope up``: sensor + shipper + bus + collector + store on one machine, with status and metrics.

Start order is store → metrics → sensor → shipper + collector, so a configuration mistake (a locked store
file, a busy port) fails before the decoy listens. Stop order is the reverse of the data flow: the sensor
stops first (its spool is complete), the shipper catches up with the spool (bounded), then the collector
commits what it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from honeyscope.bus.base import Publisher, Subscriber
from honeyscope.collector.metrics import serve_metrics
from honeyscope.collector.pipeline import Collector, DeadLetters, Stage
from honeyscope.collector.status import write_status
from honeyscope.collector.supervisor import SensorProcess
from honeyscope.config import Settings
from honeyscope.shipper import Shipper
from honeyscope.store.base import EventStore

log = logging.getLogger("honeyscope.up")

#: Longest the shipper may take to ship what the stopped sensor left in the spool.
_DRAIN_SECONDS = 15.0


@dataclass
class NodeLayout:
    """Where a node keeps its files, all under one data directory."""

    data_dir: Path
    spool: Path = field(init=False)
    state: Path = field(init=False)
    logs: Path = field(init=False)
    dead_letters: Path = field(init=False)

    def __post_init__(self) -> None:
        self.spool = self.data_dir / "spool"
        self.state = self.data_dir / "state"
        self.logs = self.data_dir / "logs"
        self.dead_letters = self.data_dir / "rejected-events.jsonl"

    def create(self) -> None:
        for directory in (self.data_dir, self.spool, self.state, self.logs):
            directory.mkdir(parents=True, exist_ok=True)


class Node:
    """Every part of the pipeline this process runs, and the status they report together."""

    def __init__(self, settings: Settings, layout: NodeLayout, store: EventStore, *, publisher: Publisher | None,
                 subscriber: Subscriber | None, stages: Sequence[tuple[str, Stage]],
                 sensor: SensorProcess | None, sensor_name: str, mode: str = "up", web: Any = None) -> None:
        self.settings = settings
        self.layout = layout
        self.store = store
        self.sensor = sensor
        self.mode = mode
        self.shipper = (Shipper(layout.spool, layout.state, publisher, sensor=sensor_name, settings=settings.shipper)
                        if publisher is not None else None)
        self.collector = (Collector(subscriber, store, settings=settings.collector, stages=stages,
                                    dead_letters=DeadLetters(layout.dead_letters))
                          if subscriber is not None else None)
        self.metrics_url: str | None = None
        #: A ``honeyscope.web.WebServer`` (already bound) served for as long as the node runs.
        self.web = web
        self.web_url: str | None = web.url if web is not None else None
        self.started = datetime.now(UTC)
        self._rate = _Rate()
        self._store_size = 0
        #: Refreshed every second by the reporter; the metrics endpoint (another thread) reads it.
        self.latest_status: dict[str, Any] = {}

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        metrics = serve_metrics(self.settings.collector.metrics_address, lambda: self.latest_status)
        self.metrics_url = metrics.url if metrics else None
        try:
            await self._run(stop, ready)
        finally:
            if metrics is not None:
                metrics.close()

    async def _run(self, stop: asyncio.Event, ready: asyncio.Event | None) -> None:
        if self.sensor is not None:
            listeners = await self.sensor.start()
            log.info("sensor listening: %s", " ".join(listeners))
        ship_stop, collect_stop = asyncio.Event(), asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        if self.shipper is not None:
            tasks.append(asyncio.create_task(self.shipper.run(ship_stop)))
        if self.collector is not None:
            tasks.append(asyncio.create_task(self.collector.run(collect_stop)))
        reporter = asyncio.create_task(self._report(stop))
        dashboard = asyncio.create_task(self.web.serve(stop)) if self.web is not None else None
        supervisor = asyncio.create_task(self.sensor.supervise(stop)) if self.sensor else None
        log.info("honeyscope %s running; data in %s; metrics %s", self.mode, self.layout.data_dir,
                 self.metrics_url or "off")
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping")
        if supervisor is not None:
            await supervisor
        await self._shutdown(ship_stop, collect_stop, tasks)
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
        if dashboard is not None:
            await dashboard
        await self._refresh_store_size()
        write_status(self.layout.data_dir, self.status())

    async def _shutdown(self, ship_stop: asyncio.Event, collect_stop: asyncio.Event,
                        tasks: list[asyncio.Task[None]]) -> None:
        if self.sensor is not None:
            await self.sensor.stop()
        if self.shipper is not None:
            await self._drain_spool()
        ship_stop.set()
        collect_stop.set()
        for task in tasks:
            await task

    async def _drain_spool(self) -> None:
        """Give the shipper a bounded time to ship what is left; the rest ships at the next start."""
        assert self.shipper is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _DRAIN_SECONDS
        # Two polls first: the lag figure must include what the sensor wrote while it stopped.
        await asyncio.sleep(2 * self.settings.shipper.poll_interval + 0.05)
        while self.shipper.stats.lag_bytes > 0 and loop.time() < deadline:
            await asyncio.sleep(0.1)

    async def _report(self, stop: asyncio.Event) -> None:
        """Rewrite the status file every second (and the store size every ten)."""
        tick = 0
        while not stop.is_set():
            if tick % 10 == 0:
                await self._refresh_store_size()
            self.latest_status = self.status()
            write_status(self.layout.data_dir, self.latest_status)
            tick += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def _refresh_store_size(self) -> None:
        with contextlib.suppress(Exception):  # a size is nice to show, never worth failing for
            self._store_size = await asyncio.to_thread(self.store.size_bytes)

    def status(self) -> dict[str, Any]:
        """One snapshot of every component (status file and Prometheus read the same)."""
        components: dict[str, Any] = {"store": {"backend": self.store.backend}}
        if self.sensor is not None:
            components["sensor"] = self.sensor.status()
        if self.shipper is not None:
            components["shipper"] = _public_fields(self.shipper.stats)
        stored = 0
        if self.collector is not None:
            components["collector"] = _public_fields(self.collector.stats)
            stored = self.collector.stats.events_stored
        lag = self.shipper.stats.lag_bytes if self.shipper is not None else 0
        return {
            "mode": self.mode, "pid": os.getpid(), "started": self.started.isoformat(),
            "updated": datetime.now(UTC).isoformat(), "data_dir": str(self.layout.data_dir),
            "events_stored": stored, "events_per_second": round(self._rate.update(stored), 1),
            "spool_lag_bytes": lag, "store_size_bytes": self._store_size,
            "metrics_url": self.metrics_url, "web_url": self.web_url, "components": components,
        }


class _Rate:
    """Events per second between two consecutive status snapshots at least a second apart."""

    def __init__(self) -> None:
        self._last: tuple[float, int] | None = None
        self._value = 0.0

    def update(self, count: int) -> float:
        now = time.monotonic()
        if self._last is None:
            self._last = (now, count)
        elif now - self._last[0] >= 1.0:
            self._value = (count - self._last[1]) / (now - self._last[0])
            self._last = (now, count)
        return self._value


def _public_fields(stats: object) -> dict[str, Any]:
    """A stats dataclass as a plain dict for the status file."""
    if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        return {key: value for key, value in dataclasses.asdict(stats).items() if not key.startswith("_")}
    return {}
