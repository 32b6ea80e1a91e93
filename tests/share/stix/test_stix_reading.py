"""Reading a period from the store for the exporters: every event once, in time order, a page at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from honeyscope.config import StoreSettings
from honeyscope.share.stix.reading import read_store
from honeyscope.share.stix.synthetic import request
from honeyscope.store import open_store


def test_pages_return_every_event_of_the_period_once_in_order(tmp_path: Path, campaign):
    same_time = [request(f"198.18.1.{n}", campaign[0].timestamp, number=500 + n) for n in range(7)]
    store = open_store(StoreSettings(kind="duckdb", path=str(tmp_path / "honeyscope.duckdb")))
    store.migrate()
    store.write([*campaign, *same_time])
    try:
        read = list(read_store(store, page_events=3))
        assert sorted(e.event.id for e in read) == sorted(e.event.id for e in [*campaign, *same_time])
        assert [e.timestamp for e in read] == sorted(e.timestamp for e in read)
        day = list(read_store(store, datetime(2021, 3, 4, tzinfo=UTC), datetime(2021, 3, 5, tzinfo=UTC),
                              page_events=4))
        assert {e.event.id for e in day} == {e.event.id for e in campaign if e.timestamp.day == 4}
    finally:
        store.close()
