"""PostgreSQL as several collectors use it: concurrent overlapping writers, and a server that goes away."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from honeyscope.store import StoreUnavailableError
from honeyscope.store.postgres import PostgresStore
from honeyscope.testing.postgres import PostgresServer, PostgresUnavailableError


def test_two_writers_with_overlapping_batches_store_each_event_once(postgres: Any, build: Any) -> None:
    dsn = postgres.database()
    first, second = PostgresStore(dsn), PostgresStore(dsn)
    first.migrate()
    second.migrate()
    events = build.series(3000, step=timedelta(seconds=7), country="CN")
    rng = random.Random(5)
    # Each writer sees every event once, in batches that overlap the other's, in its own order.
    plans = []
    for _ in range(2):
        shuffled = events[:]
        rng.shuffle(shuffled)
        plans.append([shuffled[i:i + 250] for i in range(0, len(shuffled), 250)])
    inserted = [0, 0]
    failures: list[BaseException] = []

    def run(index: int, store: PostgresStore) -> None:
        try:
            for batch in plans[index]:
                inserted[index] += store.write(batch)
        except BaseException as error:  # collected and asserted on below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures
    assert sum(inserted) == len(events)
    assert first.count() == len(events)
    assert first.event_ids() == {event.event.id for event in events}
    assert sum(c.count for c in first.daily_counts("country")) == len(events)
    first.close()
    second.close()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[PostgresServer]:
    """A server of this test's own, to stop and start."""
    try:
        server = PostgresServer()
        server.start()
    except PostgresUnavailableError as error:
        pytest.skip(f"PostgreSQL unavailable: {error}")
    try:
        yield server
    finally:
        server.cleanup()


def test_a_stopped_server_is_reported_and_nothing_is_half_written(own_server: PostgresServer, build: Any) -> None:
    dsn = own_server.create_database("h")
    store = PostgresStore(dsn, connect_timeout=2)
    store.migrate()
    assert store.write(build.series(5)) == 5
    batch = build.series(5, country="US")
    own_server.stop()
    with pytest.raises(StoreUnavailableError, match=r"PostgreSQL 127\.0\.0\.1:\d+/h is unavailable: .* nothing"):
        store.write(batch)
    with pytest.raises(StoreUnavailableError, match="cannot connect"):
        store.count()
    with pytest.raises(StoreUnavailableError, match=r"cannot connect to PostgreSQL 127\.0\.0\.1:\d+/h: .* "
                                                    r"check that the server runs and \[store\] dsn is right"):
        PostgresStore(dsn, connect_timeout=2)
    own_server.start()
    assert store.count() == 5  # the failed batch left nothing behind
    assert store.write(batch) == 5  # and is written whole once the server is back
    assert store.count() == 10
    store.close()
