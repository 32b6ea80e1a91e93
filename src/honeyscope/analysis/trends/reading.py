"""Read a ``DailyTable`` from the store: the only part of the trend analysis that does I/O.

One dimension comes from the roll-up (``EventStore.daily_counts``), a pair such as country × CVE from
``EventStore.daily_pair_counts`` (one grouped scan of the events of the period). Exposure is the number of
sensors with at least one event each day (the ``sensor`` roll-up, every event type).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from honeyscope.analysis.trends.table import DailyRow, DailyTable, build_table, exposure_from_sensors
from honeyscope.config import ConfigError
from honeyscope.store.base import Dimension, EventStore


def load_table(store: EventStore, dimensions: Sequence[Dimension], start: datetime | None = None,
               end: datetime | None = None, *, event_type: str | None = "http.request") -> DailyTable:
    """Counts per key and day for one dimension or a pair, and active sensors per day, over ``[start, end)``.

    ``event_type`` restricts the counts (not the exposure) to one event type; ``None`` counts every event."""
    if not 1 <= len(dimensions) <= 2:
        raise ConfigError(f"trends take one dimension or a pair, not {','.join(dimensions)} — e.g. country,cve")
    exposure = exposure_from_sensors((row.day, row.key, row.count) for row in store.daily_counts("sensor", start, end))
    rows = _rows(store, dimensions, start, end, event_type)
    first = _utc(start).date() if start is not None else None
    last = (_utc(end) - timedelta(microseconds=1)).date() if end is not None else None
    return build_table(dimensions, rows, exposure, first=first, last=last)


def _rows(store: EventStore, dimensions: Sequence[Dimension], start: datetime | None, end: datetime | None,
          event_type: str | None) -> list[DailyRow]:
    if len(dimensions) == 1:
        return [(row.day, (row.key,), row.count)
                for row in store.daily_counts(dimensions[0], start, end, event_type=event_type)]
    first, second = dimensions
    if first == second:
        raise ConfigError(f"trends by {first},{second}: a pair needs two different dimensions — e.g. country,cve")
    return [(row.day, row.key, row.count)
            for row in store.daily_pair_counts(first, second, start, end, event_type=event_type)]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment
