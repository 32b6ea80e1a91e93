"""The shipper: reads spool segments in order and publishes them to the bus, at least once.

The offset (see ``offset.py``) moves only after ``publish()`` returned, i.e. after the bus acknowledged
the batch; after a restart shipping resumes there, so a batch may go out twice (the bus and the store
drop duplicates by event id) but nothing is skipped. Bad records never stop the flow: torn and corrupt
ones are skipped, counted and logged with ``segment@offset``; events of an unknown schema version are
listed in ``shipper-rejected.jsonl`` and left in the spool. When the bus is unreachable the shipper warns
once and retries the same batch with exponential backoff; the sensor only appends to the spool, so it is
never held up.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from honeyscope.bus.base import BusUnavailableError, MessageTooLargeError, Outgoing, Publisher
from honeyscope.clock import Clock, SystemClock
from honeyscope.config import ConfigError, ShipperSettings
from honeyscope.sensor.spool import ReadStats, SpoolRecord, list_segments, read_segment
from honeyscope.shipper.offset import Offset, OffsetFile
from honeyscope.shipper.probe import Rejection, event_id_of
from honeyscope.shipper.rejected import RejectedLog, RejectedRecord

log = logging.getLogger("honeyscope.shipper")

#: First wait after a failed publish; it doubles up to ``ShipperSettings.max_backoff``.
_FIRST_BACKOFF: Final = 0.5
#: After ``stop``, how long an in-flight publish may still finish (then it is abandoned, offset unmoved).
_STOP_GRACE: Final = 2.0
#: Seconds between offset saves while shipping (always saved on a segment change and on stop).
_SAVE_EVERY: Final = 0.25
#: Rejected records logged one by one per batch; the rest are summarised (they are all in the file).
_LOGGED_REJECTIONS: Final = 10


@dataclass
class ShipperStats:
    """What the shipper did since it started (shown by ``honeyscope status`` and the metrics)."""

    #: Events the bus acknowledged.
    shipped: int = 0
    #: Records whose checksum failed (skipped).
    corrupt: int = 0
    #: Records cut short by a crash at the end of a sealed segment (skipped).
    torn: int = 0
    #: Records not published (unknown schema version, no event id, too large): see shipper-rejected.jsonl.
    rejected: int = 0
    #: Publishes the bus acknowledged.
    batches: int = 0
    #: Failed publish attempts (each retried).
    bus_errors: int = 0
    last_error: str | None = None
    #: Spool bytes not yet shipped.
    lag_bytes: int = 0
    #: Estimate of the events in ``lag_bytes`` (from the average record size seen), when known.
    lag_records: int | None = None
    #: The durable offset, ``segment@offset``.
    position: str = ""
    last_shipped_at: datetime | None = None


@dataclass
class _Item:
    record: SpoolRecord
    outcome: str | Rejection  # the event id, or why it is not shipped


@dataclass
class _InFlight:
    """A batch being published: its task (None when nothing in it is publishable), its publishable
    items, and where the offset goes once the bus acknowledged it."""

    task: asyncio.Future[None] | None
    items: list[_Item]
    end: int
    span: int


class _Outcome(enum.Enum):
    DONE = "done"
    RETRY = "retry"
    STOPPED = "stopped"


class Shipper:
    """Ships one sensor's spool to a bus publisher; ``run(stop)`` until ``stop`` is set."""

    def __init__(self, spool_dir: Path, state_dir: Path, publisher: Publisher, *, sensor: str,
                 settings: ShipperSettings | None = None, clock: Clock | None = None) -> None:
        self.spool_dir = spool_dir
        self.state_dir = state_dir
        self.publisher = publisher
        self.sensor = sensor
        self.settings = settings or ShipperSettings()
        self.clock = clock or SystemClock()
        self.stats = ShipperStats()
        self._offsets = OffsetFile(state_dir)
        self._rejected = RejectedLog(state_dir)
        self._position = Offset()
        self._saved = Offset()
        #: Problems already counted and logged, and records already listed as rejected, in the current
        #: segment: the live segment is read again from the offset at every poll.
        self._reported: set[str] = set()
        self._set_aside: set[tuple[str, int]] = set()
        self._record_bytes = 0
        self._failures = 0
        self._backoff = _FIRST_BACKOFF
        self._saved_at = 0.0

    @property
    def offset_path(self) -> Path:
        return self._offsets.path

    @property
    def rejected_path(self) -> Path:
        return self._rejected.path

    async def run(self, stop: asyncio.Event) -> None:
        """Ship until ``stop`` is set; then persist the offset and return (an in-flight publish gets a
        short grace to finish, otherwise it is abandoned and shipped again next time)."""
        self._position = self._saved = self._offsets.load()
        self._show_position()
        log.info("shipping %s as sensor %r from %s", self.spool_dir, self.sensor, self._position)
        try:
            while not stop.is_set():
                progressed = await self._ship_available(stop)
                self._update_lag()
                if not progressed:
                    await _sleep_or_stop(stop, self.settings.poll_interval)
        finally:
            self._save()
            self._update_lag()

    # --- walking the spool --------------------------------------------------------------------------

    async def _ship_available(self, stop: asyncio.Event) -> bool:
        """Ship everything readable now; True if anything was shipped or the offset moved."""
        segments = list_segments(self.spool_dir)
        start = self._locate(segments)
        if start is None:
            return False
        progressed = False
        for index in range(start, len(segments)):
            path = segments[index][1]
            sealed = index < len(segments) - 1
            if path.name != self._position.segment:
                self._position = Offset(path.name, 0)
                self._forget_segment()
            shipped, complete = await self._ship_segment(path, sealed, stop)
            progressed |= shipped
            if not complete:  # stopped, or a failure after its backoff: start again at the offset
                return True
            if not sealed:
                break
            # A sealed segment read to its end: move on (and remember it, even if only bad records were left).
            self._position = Offset(segments[index + 1][1].name, 0)
            self._forget_segment()
            await self._persist(now=True)
            progressed = True
        return progressed

    def _locate(self, segments: list[tuple[int, Path]]) -> int | None:
        """Index of the segment holding the offset; adjusts the offset if its segment is gone."""
        if not segments:
            return None
        names = [path.name for _, path in segments]
        position = self._position
        if not position.segment:
            return 0
        if position.segment in names:
            index = names.index(position.segment)
            size = segments[index][1].stat().st_size
            if position.offset > size:
                log.warning("spool segment %s is shorter (%d bytes) than the shipper's offset %d — it was "
                            "replaced; shipping it from its start", position.segment, size, position.offset)
                self._position = Offset(position.segment, 0)
            return index
        later = [i for i, name in enumerate(names) if name > position.segment]
        index = later[0] if later else 0
        log.warning("spool segment %s of the shipper's offset is gone; continuing at %s", position.segment,
                    names[index] if later else f"{names[0]} (the spool was reset: shipping it all again)")
        self._position = Offset(names[index], 0)
        return index

    async def _ship_segment(self, path: Path, sealed: bool, stop: asyncio.Event) -> tuple[bool, bool]:
        """Ship the segment from the offset to its current end with up to ``in_flight_batches`` publishes
        awaiting their acknowledgement; the offset follows the oldest acknowledged batch. Returns
        (shipped anything, reached the end). On a failure everything in flight is dropped and, after the
        backoff, the next pass starts again at the offset (re-sent events are duplicates the bus drops)."""
        stats = ReadStats()
        records = read_segment(path, self._position.offset, sealed=sealed, stats=stats)
        window: deque[_InFlight] = deque()
        checked, exhausted, shipped = 0, False, False
        try:
            while True:
                while not exhausted and len(window) < max(1, self.settings.in_flight_batches):
                    if stop.is_set():
                        return shipped, False
                    # Reading (the first call reads the file) and probing run in a thread: the shipper may
                    # share its event loop with the sensor, which must keep answering.
                    items = await asyncio.to_thread(_next_items, records, self.settings.batch_events)
                    checked = self._report_problems(stats, checked)
                    if not items:
                        exhausted = True
                        break
                    batch = await self._start(path, items, stop)
                    if batch is None:
                        return shipped, False
                    window.append(batch)
                if not window:
                    return shipped, True
                outcome = await self._settle(path, window[0], stop)
                if outcome is not _Outcome.DONE:
                    return shipped, False
                await self._advance(path.name, window.popleft())
                shipped = True
                if stop.is_set():
                    return shipped, False
        finally:
            for batch in window:
                if batch.task is not None and not batch.task.done():
                    batch.task.cancel()

    def _report_problems(self, stats: ReadStats, checked: int) -> int:
        for problem in stats.problems[checked:]:
            if problem in self._reported:  # the live segment's tail is read again at every poll
                continue
            self._reported.add(problem)
            if "torn" in problem:
                self.stats.torn += 1
            else:
                self.stats.corrupt += 1
            log.error("spool %s/%s; the rest is shipped", self.spool_dir, problem)
        return len(stats.problems)

    # --- one batch ----------------------------------------------------------------------------------

    async def _start(self, path: Path, items: list[_Item], stop: asyncio.Event) -> _InFlight | None:
        """List the batch's rejected records, then start publishing the rest. None when ``stop`` came first."""
        keep: list[_Item] = []
        rejected: list[RejectedRecord] = []
        name = path.name
        for item in items:
            if self._set_aside and (name, item.record.offset) in self._set_aside:
                continue
            if isinstance(item.outcome, Rejection):
                rejected.append(_rejected_record(path, item.record, item.outcome))
            else:
                keep.append(item)
        if rejected and not await self._reject(rejected, stop):
            return None
        outgoing = [Outgoing(str(item.outcome), item.record.payload, self.sensor) for item in keep]
        task = None
        if outgoing:
            task = asyncio.ensure_future(self.publisher.publish(outgoing))
            task.add_done_callback(_seen)  # batches behind a failed one fail too, and nobody awaits them
        first, last = items[0].record, items[-1].record
        return _InFlight(task, keep, last.next_offset, last.next_offset - first.offset)

    async def _settle(self, path: Path, batch: _InFlight, stop: asyncio.Event) -> _Outcome:
        """Wait for the oldest publish; on failure warn (once per outage) and back off."""
        if batch.task is None:
            return _Outcome.DONE
        if not await _wait_or_stop(batch.task, stop):
            return _Outcome.STOPPED
        error = batch.task.exception() if not batch.task.cancelled() else BusUnavailableError("publish cancelled")
        if error is None:
            if self._failures:
                log.info("the bus takes events again after %d failed attempts; shipping resumed", self._failures)
            self._failures, self._backoff = 0, _FIRST_BACKOFF
            return _Outcome.DONE
        if isinstance(error, MessageTooLargeError):  # refused for good: list it, ship the rest again
            item = next(item for item in batch.items if item.outcome == error.event_id)
            record = _rejected_record(path, item.record, Rejection(str(error)), error.event_id)
            return _Outcome.RETRY if await self._reject([record], stop) else _Outcome.STOPPED
        self._failures += 1
        self._publish_failed(error)
        stopped = await _sleep_or_stop(stop, self._backoff)
        self._backoff = min(self._backoff * 2, self.settings.max_backoff)
        return _Outcome.STOPPED if stopped else _Outcome.RETRY

    async def _advance(self, name: str, batch: _InFlight) -> None:
        published = len(batch.items)
        if published:
            self.stats.shipped += published
            self.stats.batches += 1
            self.stats.last_shipped_at = self.clock.now()
        self._record_bytes += batch.span
        self._position = Offset(name, batch.end)
        await self._persist()
        self._update_lag()

    async def _reject(self, records: list[RejectedRecord], stop: asyncio.Event) -> bool:
        """List the records in the rejected file (retrying while the state disk fails) and log them."""
        delay = _FIRST_BACKOFF
        while True:
            try:
                self._rejected.append(records, self.clock.now())
                break
            except OSError as error:
                log.error("cannot write %s (%s); retrying — the shipper waits so no rejected event goes "
                          "unlisted", self._rejected.path, error)
                if await _sleep_or_stop(stop, delay):
                    return False
                delay = min(delay * 2, self.settings.max_backoff)
        self._set_aside.update((record.segment, record.offset) for record in records)
        self.stats.rejected += len(records)
        for record in records[:_LOGGED_REJECTIONS]:
            log.error("spool %s@%d not shipped: %s (left in the spool; listed in %s)", record.segment,
                      record.offset, record.reason, self._rejected.path)
        if len(records) > _LOGGED_REJECTIONS:
            log.error("... and %d more records not shipped (listed in %s)", len(records) - _LOGGED_REJECTIONS,
                      self._rejected.path)
        return True

    def _publish_failed(self, error: BaseException) -> None:
        self.stats.bus_errors += 1
        self.stats.last_error = str(error)
        if self._failures > 1:
            log.debug("publish attempt %d failed: %s", self._failures, error)
        elif isinstance(error, BusUnavailableError | ConfigError):
            log.warning("cannot publish to the bus: %s — retrying with backoff up to %g s; the sensor keeps "
                        "spooling and nothing is lost", error, self.settings.max_backoff)
        else:  # not a transport condition: a bug worth a traceback, retried all the same
            log.error("publishing failed unexpectedly; retrying with backoff", exc_info=error)

    # --- bookkeeping --------------------------------------------------------------------------------

    async def _persist(self, *, now: bool = False) -> None:
        """Save the offset at most every ``_SAVE_EVERY`` seconds (unless ``now``), in a thread: an fsync can
        take milliseconds, and the event loop may be the sensor's. A slightly older offset on disk only
        means a few more duplicates after a crash."""
        loop = asyncio.get_running_loop()
        if self._position == self._saved or (not now and loop.time() - self._saved_at < _SAVE_EVERY):
            return
        position = self._position
        try:
            await asyncio.to_thread(self._offsets.save, position)
        except OSError as error:
            self._save_failed(error)
            return
        self._saved, self._saved_at = position, loop.time()
        self._show_position()

    def _save(self) -> None:
        """Save the offset now, in this thread (when stopping)."""
        if self._position == self._saved:
            return
        try:
            self._offsets.save(self._position)
        except OSError as error:
            self._save_failed(error)
            return
        self._saved = self._position
        self._show_position()

    def _save_failed(self, error: OSError) -> None:
        # A stale offset only means events shipped again after a restart; shipping goes on.
        log.error("cannot save the shipper offset to %s (%s); after a restart some events will be shipped "
                  "again", self._offsets.path, error)

    def _forget_segment(self) -> None:
        self._reported.clear()
        self._set_aside.clear()

    def _show_position(self) -> None:
        self.stats.position = f"{self._saved.segment}@{self._saved.offset}" if self._saved.segment else ""

    def _update_lag(self) -> None:
        lag = 0
        position = self._position
        for _, path in list_segments(self.spool_dir):
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if not position.segment or path.name > position.segment:
                lag += size
            elif path.name == position.segment:
                lag += max(0, size - position.offset)
        self.stats.lag_bytes = lag
        average = self._record_bytes / self.stats.shipped if self.stats.shipped else 0
        self.stats.lag_records = round(lag / average) if average else None


def _next_items(records: Iterator[SpoolRecord], count: int) -> list[_Item]:
    items: list[_Item] = []
    for record in records:
        items.append(_Item(record, event_id_of(record.payload)))
        if len(items) >= count:
            break
    return items


def _rejected_record(path: Path, record: SpoolRecord, rejection: Rejection,
                     event_id: str | None = None) -> RejectedRecord:
    return RejectedRecord(path.name, record.offset, rejection.reason, rejection.version, event_id)


def _seen(task: asyncio.Future[None]) -> None:
    """Retrieve a publish's outcome so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless ``stop`` is set first; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _wait_or_stop(attempt: asyncio.Future[None], stop: asyncio.Event) -> bool:
    """Wait for the publish; on ``stop`` give it a grace period, then abandon it. True when it finished."""
    stopper = asyncio.ensure_future(stop.wait())
    waiters: set[asyncio.Future[Any]] = {attempt, stopper}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not attempt.done():
        await asyncio.wait({attempt}, timeout=_STOP_GRACE)
    if attempt.done():
        return True
    attempt.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await attempt
    return False
