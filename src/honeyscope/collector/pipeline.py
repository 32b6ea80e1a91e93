"""The collector: fetch from the bus → decode → enrich → detect → batched store write → acknowledge.

Two tasks joined by a bounded queue: *intake* fetches, decodes, enriches and runs detection in the event
loop; *writer* commits batches to the store in a worker thread (the store's drivers release the GIL) and
only then acknowledges them. While the writer is busy or the store is down, the queue fills and intake
stops fetching — back-pressure reaches the bus, which keeps the events (JetStream) or blocks the shipper
(in-process), so nothing is lost. On stop, batches already decoded are committed and acknowledged if the
store takes them, otherwise handed back to the bus; a batch is never half acknowledged.

While collectors run, Python's cyclic garbage collector runs every ``_GC_EVERY_SECONDS`` instead of
automatically: its automatic runs over the queued batches were half of the collector's CPU (see
``_scheduled_gc``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from honeyscope.bus.base import BusUnavailableError, Delivery, Subscriber
from honeyscope.config import CollectorSettings
from honeyscope.events import Event, SensorLifecycleEvent, UnknownSchemaVersionError, decode_event
from honeyscope.store.base import EventStore, InvalidEventError

log = logging.getLogger("honeyscope.collector")

#: A stage that looks at a batch of decoded events and annotates them in place (enrichment, detection).
Stage = Callable[[list[Event]], None]

_MAX_STORE_BACKOFF = 10.0
_LOG_EVERY_SECONDS = 60.0
#: While a collector runs, Python's cyclic garbage collector runs this often instead of automatically.
_GC_EVERY_SECONDS = 10.0


@dataclass
class CollectorStats:
    """Counters since start; read by ``honeyscope status`` and the Prometheus endpoint."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    store_errors: int = 0
    bus_errors: int = 0
    stage_errors: dict[str, int] = field(default_factory=dict)
    queued_batches: int = 0
    last_error: str | None = None
    #: Events already in the store when the collector started, plus those it stored since.
    events_stored: int = 0
    #: Events each sensor reported it could not spool (disk full), from its lifecycle events.
    sensor_dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class _Batch:
    deliveries: list[Delivery]
    events: list[Event]


class DeadLetters:
    """Deliveries that can never be stored (not JSON, unknown schema version): kept verbatim, one JSON
    line each, so a fixed or newer honeyscope can replay them (``honeyscope replay``)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def add(self, delivery: Delivery, reason: str) -> None:
        log.error("event %s rejected: %s", delivery.event_id or "(no id)", reason)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"event_id": delivery.event_id, "reason": reason,
                  "payload": delivery.payload.decode("utf-8", "replace")}
        with self.path.open("ab") as handle:
            handle.write(msgspec.json.encode(record) + b"\n")


class Collector:
    """Consumes one subscriber into one store. Several collectors may share a (NATS) subscriber group."""

    def __init__(self, subscriber: Subscriber, store: EventStore, *, settings: CollectorSettings,
                 stages: Sequence[tuple[str, Stage]] = (), dead_letters: DeadLetters | None = None) -> None:
        self.subscriber = subscriber
        self.store = store
        self.settings = settings
        self.stages = list(stages)
        self.dead_letters = dead_letters or DeadLetters(None)
        self.stats = CollectorStats()
        self._queue: asyncio.Queue[_Batch | None] = asyncio.Queue(maxsize=max(1, settings.queue_batches))

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then drain: commit or hand back every batch taken from the bus."""
        self.stats.events_stored = await asyncio.to_thread(self.store.count)
        with _scheduled_gc() as scheduled:
            collections = asyncio.create_task(_collect_garbage()) if scheduled else None
            writer = asyncio.create_task(self._write_loop(stop))
            try:
                await self._intake_loop(stop)
            finally:
                await self._queue.put(None)
                await writer
                if collections is not None:
                    collections.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await collections

    # -- intake -------------------------------------------------------------------------------------

    async def _intake_loop(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                deliveries = await self._fetch(stop)
            except BusUnavailableError as error:
                # Disconnected (the client reconnects by itself): wait and fetch again; nothing is lost,
                # unacknowledged deliveries are redelivered by the bus.
                self.stats.bus_errors += 1
                self.stats.last_error = f"bus: {error}"
                if backoff == 0.2:
                    log.warning("cannot fetch from the bus (%s); retrying", error)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, _MAX_STORE_BACKOFF)
                continue
            backoff = 0.2
            if not deliveries:
                continue
            batch, rejected = self._prepare(deliveries)
            if rejected:
                # Acknowledged so they are not redelivered forever; their bytes are in the dead letters.
                await self._settle(rejected, acknowledge=True)
            if batch.deliveries:
                await self._queue.put(batch)
                self.stats.queued_batches = self._queue.qsize()

    async def _fetch(self, stop: asyncio.Event) -> list[Delivery]:
        """Fill up to one batch, waiting at most ``batch_seconds`` for the rest once something arrived."""
        size, wait = self.settings.batch_events, self.settings.batch_seconds
        deliveries = await self.subscriber.fetch(size, timeout=wait)
        deadline = time.monotonic() + wait
        while deliveries and len(deliveries) < size and not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = await self.subscriber.fetch(size - len(deliveries), timeout=remaining)
            if not more:
                break
            deliveries.extend(more)
        return deliveries

    def _prepare(self, deliveries: list[Delivery]) -> tuple[_Batch, list[Delivery]]:
        """Decode and annotate; undecodable deliveries go to the dead letters and are acked right away."""
        self.stats.received += len(deliveries)
        events: list[Event] = []
        kept: list[Delivery] = []
        rejected: list[Delivery] = []
        for delivery in deliveries:
            try:
                events.append(decode_event(delivery.payload))
            except UnknownSchemaVersionError as error:
                self.dead_letters.add(delivery, str(error))
                rejected.append(delivery)
                continue
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                self.dead_letters.add(delivery, f"not a honeyscope event: {error}")
                rejected.append(delivery)
                continue
            kept.append(delivery)
        self.stats.rejected += len(rejected)
        self._count_sensor_drops(events)
        for name, stage in self.stages:
            self._run_stage(name, stage, events)
        return _Batch(kept, events), rejected

    def _count_sensor_drops(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, SensorLifecycleEvent) and event.honeyscope.sensor.dropped_events:
                sensor = event.observer.name
                dropped = self.stats.sensor_dropped
                dropped[sensor] = dropped.get(sensor, 0) + event.honeyscope.sensor.dropped_events

    def _run_stage(self, name: str, stage: Stage, events: list[Event]) -> None:
        """A stage that fails leaves the events unannotated rather than losing them."""
        try:
            stage(events)
        except Exception as error:  # hostile input must never stop ingestion
            self.stats.stage_errors[name] = self.stats.stage_errors.get(name, 0) + 1
            self.stats.last_error = f"{name}: {error}"
            log.exception("stage %s failed on a batch of %d events; storing them without it", name, len(events))

    # -- writer -------------------------------------------------------------------------------------

    async def _write_loop(self, stop: asyncio.Event) -> None:
        while True:
            batch = await self._queue.get()
            self.stats.queued_batches = self._queue.qsize()
            if batch is None:
                return
            await self._settle(batch.deliveries, acknowledge=await self._commit(batch, stop))

    async def _set_aside(self, batch: _Batch, event_ids: set[str], reason: str) -> None:
        kept_events: list[Event] = []
        kept: list[Delivery] = []
        rejected: list[Delivery] = []
        for delivery, event in zip(batch.deliveries, batch.events, strict=True):
            if event.event.id in event_ids:
                self.dead_letters.add(delivery, f"the store refuses it: {reason}")
                rejected.append(delivery)
            else:
                kept.append(delivery)
                kept_events.append(event)
        self.stats.rejected += len(rejected)
        batch.deliveries, batch.events = kept, kept_events
        await self._settle(rejected, acknowledge=True)

    async def _settle(self, deliveries: list[Delivery], *, acknowledge: bool) -> None:
        try:
            if acknowledge:
                await self.subscriber.ack(deliveries)
            else:
                await self.subscriber.nak(deliveries)
        except BusUnavailableError as error:
            # Not acknowledged: the bus redelivers, and the store's primary key drops the copies.
            self.stats.bus_errors += 1
            self.stats.last_error = f"bus: {error}"
            log.warning("could not %s %d events (%s); they will be redelivered",
                        "acknowledge" if acknowledge else "hand back", len(deliveries), error)

    async def _commit(self, batch: _Batch, stop: asyncio.Event) -> bool:
        """Write the batch, retrying while the store is down; False once stopping with the store down."""
        backoff = 0.2
        last_logged = -_LOG_EVERY_SECONDS
        while True:
            try:
                inserted = await asyncio.to_thread(self.store.write, batch.events)
            except InvalidEventError as error:
                # Events the store can never take (an id that is not a UUID): set them aside, write the rest.
                await self._set_aside(batch, set(error.event_ids), str(error))
                continue
            except Exception as error:  # any store failure: nothing of the batch was committed
                self.stats.store_errors += 1
                self.stats.last_error = f"store: {error}"
                if time.monotonic() - last_logged >= _LOG_EVERY_SECONDS:
                    last_logged = time.monotonic()
                    log.error("store write failed (%s); holding %d events unacknowledged and retrying "
                              "(repeats are logged once a minute)", str(error).splitlines()[0], len(batch.events))
                if stop.is_set():
                    return False
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, _MAX_STORE_BACKOFF)
                continue
            self.stats.batches += 1
            self.stats.stored += inserted
            self.stats.duplicates += len(batch.events) - inserted
            self.stats.events_stored += inserted
            return True


_gc_lock = threading.Lock()
_gc_users = 0


@contextlib.contextmanager
def _scheduled_gc() -> Iterator[bool]:
    """Turn the cyclic garbage collector's automatic runs off while collectors run (process-wide, restored
    when the last one stops); yields whether collections are now the caller's job.

    Why: every event decodes into ~25 container objects that live until their batch is stored, so the
    automatic collector — a run every 700 allocations, and a walk over the whole heap whenever survivors
    grow by a quarter — ran dozens of full collections per 100k events and found no garbage: that was
    about half of the collector's CPU (bench/pipeline.py: 270 → 130 µs per event). Events are acyclic and
    freed by reference counting; the few cycles (asyncio exceptions) wait for ``_collect_garbage``.
    A process that turned the collector off itself is left alone.
    """
    global _gc_users
    with _gc_lock:
        scheduled = _gc_users > 0 or gc.isenabled()
        if scheduled:
            _gc_users += 1
            gc.disable()
    try:
        yield scheduled
    finally:
        if scheduled:
            with _gc_lock:
                _gc_users -= 1
                if _gc_users == 0:
                    gc.enable()


async def _collect_garbage() -> None:
    """A full collection every ``_GC_EVERY_SECONDS`` until cancelled (≈ 0.2 s of CPU with a 1 GB heap)."""
    while True:
        await asyncio.sleep(_GC_EVERY_SECONDS)
        gc.collect()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
