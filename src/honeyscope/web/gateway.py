"""The web app's only way to the store: calls run one at a time on one dedicated thread.

Why one thread: store methods are synchronous, DuckDB keeps one cursor per thread, and when the app runs
inside ``honeyscope up`` the collector writes through the same connection — so the dashboard uses a
single reader thread (one cursor) and a lock, never blocks the event loop, and can never open a second
connection to a file DuckDB lets only one process hold. Long analyses read in pages, each page its own
call, so quick views interleave with them.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from honeyscope.store.base import EventStore

T = TypeVar("T")


class StoreGateway:
    """Runs ``fn(store, *args)`` on the store thread, serialised by a lock."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._start = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), functools.partial(self._locked, fn, *args))

    def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(store, *args)`` on the store thread, waited for: for code already running in a worker thread
        (the TAXII export reads its pages this way). Never call it from the event loop or the store thread."""
        return self._pool().submit(self._locked, fn, *args).result()

    def _pool(self) -> ThreadPoolExecutor:
        with self._start:  # first use, or used again after the app's lifespan ended
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="honeyscope-web-store")
            return self._executor

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            return fn(self.store, *args)

    def close(self) -> None:
        """Stop the thread once queued calls are done (the store itself belongs to the caller)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


class TTLCache:
    """Analysis results reused for ``seconds``; concurrent requests for one key compute it once."""

    def __init__(self, seconds: float, *, size: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.size = size
        self._clock = clock
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._values.get(key)
            if hit is not None and hit[0] > self._clock():
                value: T = hit[1]
                return value
            value = await compute()
            if len(self._values) >= self.size:
                oldest = min(self._values, key=lambda k: self._values[k][0])
                self._values.pop(oldest, None)
                self._locks.pop(oldest, None)
            self._values[key] = (self._clock() + self.seconds, value)
            return value


class StampedCache:
    """The latest value per key, reused while its stamp is equal and for at most ``seconds``: for answers
    that are exact functions of something cheap to read (the overview of a period and the period's roll-up
    counts), so a hit is never out of date."""

    def __init__(self, seconds: float, *, size: int = 16, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.size = size
        self._clock = clock
        self._values: dict[Hashable, tuple[float, Any, Any]] = {}

    async def get(self, key: Hashable, stamp: Any, compute: Callable[[], Awaitable[T]]) -> T:
        hit = self._values.get(key)
        if hit is not None and hit[0] > self._clock() and hit[1] == stamp:
            value: T = hit[2]
            return value
        value = await compute()
        self._values.pop(key, None)
        while len(self._values) >= self.size:
            self._values.pop(next(iter(self._values)))  # the oldest entry
        self._values[key] = (self._clock() + self.seconds, stamp, value)
        return value

    def clear(self) -> None:
        self._values.clear()
