"""Events of a period read from the store a page at a time, for the exporters (CLI and TAXII)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Final

from honeyscope.events.schema import Event
from honeyscope.store.base import EventQuery, EventStore

__all__ = ["PAGE_EVENTS", "read_store"]

#: Events fetched per query.
PAGE_EVENTS: Final = 10_000


def read_store(store: EventStore, start: datetime | None = None, end: datetime | None = None, *,
               event_type: str | None = "http.request", page_events: int = PAGE_EVENTS) -> Iterator[Event]:
    """Events in ``[start, end)`` in time order, one page in memory at a time.

    Each page starts at the last timestamp seen; events of that timestamp already returned are skipped by id,
    and when a whole page shares one timestamp the page is fetched again, twice as large."""
    last, seen_at_last, limit = start, set[str](), page_events
    while True:
        page = store.events(EventQuery(start=last, end=end, event_type=event_type, limit=limit))
        fresh = [e for e in page if e.timestamp != last or e.event.id not in seen_at_last]
        yield from fresh
        if len(page) < limit:
            return
        top = page[-1].timestamp
        if top == last:
            seen_at_last |= {e.event.id for e in fresh}
            limit *= 2
            continue
        last, limit = top, page_events
        seen_at_last = {e.event.id for e in page if e.timestamp == top}
