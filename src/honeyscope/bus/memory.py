"""The in-process bus: one node, one event loop, no broker.

The spool is the only durable log on a single node, so this transport keeps nothing of its own:
``publish()`` returns only once a subscriber has *acknowledged* every message of the call (i.e. the
collector committed them to the store). Until then the shipper has not advanced its offset, so a crash
anywhere loses nothing — the spool is re-read from the offset and the store drops the duplicates.

Several subscribers share one queue as a work queue (each message goes to one of them). The number of
messages published but not yet acknowledged is bounded by ``capacity``: publishers wait when it is
reached (back-pressure). A nak puts messages back at the front of the queue (after ``delay`` seconds),
so the next fetch gets them with ``attempt`` increased.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Final

from honeyscope.bus.base import BusUnavailableError, Delivery, Outgoing

_CLOSED: Final = "the in-process bus is closed (honeyscope is stopping)"

# Entry states: queued (ready or waiting out a nak delay), held by a subscriber, acknowledged.
_QUEUED, _HELD, _DONE = 0, 1, 2


class _Call:
    """One ``publish()`` call: how many of its messages still wait for an ack, and its waiter."""

    __slots__ = ("done", "remaining")

    def __init__(self, count: int, done: asyncio.Future[None]) -> None:
        self.remaining = count
        self.done = done


class _Entry:
    __slots__ = ("attempt", "call", "holder", "message", "sequence", "state")

    def __init__(self, message: Outgoing, call: _Call, sequence: int) -> None:
        self.sequence = sequence  # publish order, kept when messages are handed back
        self.message = message
        self.call = call
        self.attempt = 1
        self.state = _QUEUED
        self.holder: MemorySubscriber | None = None


class _Pulse:
    """Wakes every current waiter at once. (An ``asyncio.Condition`` needs its lock held to notify,
    which a ``call_later`` callback cannot take; this needs no lock.)"""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    async def wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)

    def fire(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()


class MemoryBus:
    """An in-process work queue with at most ``capacity`` messages published and not yet acknowledged."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._ready: deque[_Entry] = deque()
        self._unacked = 0
        self._closed = False
        self._changed = _Pulse()
        self._timers: set[asyncio.TimerHandle] = set()
        self._calls: set[_Call] = set()
        #: Entries fetched and not yet answered (ack/nak), so a closing subscriber can hand its share back.
        self._held: set[_Entry] = set()
        self._sequence = 0

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def unacknowledged(self) -> int:
        """Messages published and not yet acknowledged (queued, held or waiting out a nak delay)."""
        return self._unacked

    def publisher(self) -> MemoryPublisher:
        """A publishing end (any number may exist)."""
        return MemoryPublisher(self)

    def subscriber(self) -> MemorySubscriber:
        """A consuming end; several subscribers share the messages (each goes to one of them)."""
        return MemorySubscriber(self)

    async def close(self) -> None:
        """Fail every pending and later publish with ``BusUnavailableError``; drop queued messages (they are
        still in the spool, since their publish never returned)."""
        if self._closed:
            return
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._ready.clear()
        self._held.clear()
        for call in self._calls:
            if not call.done.done():
                call.done.set_exception(BusUnavailableError(_CLOSED))
                call.done.exception()  # retrieved here: a caller that gave up must not log "never retrieved"
        self._calls.clear()
        self._changed.fire()

    # --- used by the ends -------------------------------------------------------------------------

    async def _publish(self, messages: Sequence[Outgoing]) -> None:
        if self._closed:
            raise BusUnavailableError(_CLOSED)
        if not messages:
            return
        call = _Call(len(messages), asyncio.get_running_loop().create_future())
        self._calls.add(call)
        try:
            await self._enqueue(messages, call)
            await call.done
        finally:
            self._calls.discard(call)

    async def _enqueue(self, messages: Sequence[Outgoing], call: _Call) -> None:
        index = 0
        while index < len(messages):
            while self._unacked >= self.capacity and not self._closed:
                await self._changed.wait()
            if self._closed:
                raise BusUnavailableError(_CLOSED)
            room = min(self.capacity - self._unacked, len(messages) - index)
            self._ready.extend(_Entry(message, call, self._sequence + offset)
                               for offset, message in enumerate(messages[index:index + room]))
            self._sequence += room
            self._unacked += room
            index += room
            self._changed.fire()

    async def _fetch(self, subscriber: MemorySubscriber, max_messages: int, timeout: float) -> list[Delivery]:
        if self._closed:
            raise BusUnavailableError(_CLOSED)
        if not self._ready and timeout > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    while not self._ready and not self._closed:
                        await self._changed.wait()
        if self._closed:
            raise BusUnavailableError(_CLOSED)
        taken: list[Delivery] = []
        while self._ready and len(taken) < max_messages:
            entry = self._ready.popleft()
            entry.state, entry.holder = _HELD, subscriber
            self._held.add(entry)
            taken.append(Delivery(entry.message.event_id, entry.message.payload, entry.attempt, entry))
        return taken

    def _ack(self, entries: Iterable[_Entry]) -> None:
        acked = 0
        for entry in entries:
            if entry.state != _HELD:  # acked twice, or after a nak: the first answer counts
                continue
            entry.state, entry.holder = _DONE, None
            self._held.discard(entry)
            acked += 1
            call = entry.call
            call.remaining -= 1
            if call.remaining == 0 and not call.done.done():
                call.done.set_result(None)
        if acked:
            self._unacked -= acked
            self._changed.fire()

    def _requeue(self, entries: Sequence[_Entry], delay: float) -> None:
        held = [entry for entry in entries if entry.state == _HELD]
        for entry in held:
            entry.attempt += 1
            entry.state, entry.holder = _QUEUED, None
            self._held.discard(entry)
        if not held or self._closed:
            return
        if delay > 0:
            self._put_back_after(held, delay)
        else:
            self._put_back(held)

    def _put_back_after(self, entries: list[_Entry], delay: float) -> None:
        handle: asyncio.TimerHandle

        def put_back() -> None:
            self._timers.discard(handle)
            if not self._closed:
                self._put_back(entries)

        handle = asyncio.get_running_loop().call_later(delay, put_back)
        self._timers.add(handle)

    def _put_back(self, entries: list[_Entry]) -> None:
        # Redelivered messages go first: they are the oldest, and "the next fetch" gets them.
        self._ready.extendleft(reversed(entries))
        self._changed.fire()

    def _release(self, subscriber: MemorySubscriber) -> None:
        """A subscriber went away: what it held (not acked) goes back to the queue for the others."""
        held = sorted((entry for entry in self._held if entry.holder is subscriber), key=lambda e: e.sequence)
        self._requeue(held, 0.0)


class MemoryPublisher:
    """Publishes to a ``MemoryBus``; ``publish`` returns once every message was acknowledged."""

    def __init__(self, bus: MemoryBus) -> None:
        self._bus = bus

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Queue the messages (waiting for room) and return when a subscriber acknowledged all of them."""
        await self._bus._publish(messages)

    async def close(self) -> None:
        """Nothing to release: the bus owns the queue."""


class MemorySubscriber:
    """Fetches from a ``MemoryBus``; ``close()`` hands back what it holds unacknowledged."""

    def __init__(self, bus: MemoryBus) -> None:
        self._bus = bus

    async def fetch(self, max_messages: int, timeout: float) -> list[Delivery]:
        """Up to ``max_messages`` deliveries, waiting at most ``timeout`` s for the first one.
        Raises ``BusUnavailableError`` once the bus is closed."""
        return await self._bus._fetch(self, max_messages, timeout)

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """The deliveries are committed: their publishers may return."""
        self._bus._ack(_entries(deliveries))

    async def nak(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Hand the deliveries back; the next fetch (after ``delay`` s) gets them with ``attempt`` + 1."""
        self._bus._requeue(list(_entries(deliveries)), delay)

    async def close(self) -> None:
        """Hand back everything this subscriber holds unacknowledged."""
        self._bus._release(self)


def _entries(deliveries: Sequence[Delivery]) -> Iterable[_Entry]:
    return (delivery.token for delivery in deliveries if isinstance(delivery.token, _Entry))
