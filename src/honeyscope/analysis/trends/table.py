"""The daily table every trend test reads: counts per key and day, and the exposure of each day.

A key is a tuple of dimension values (``("CN",)`` for a country, ``("CN", "CVE-2021-26855")`` for a
country × CVE pair). Days form one contiguous calendar range; a key absent on a day counts 0 there.
Exposure is the number of sensors active that day; a day with exposure 0 is an outage and every test
leaves it out (its zeros mean "not observed", not "no attacks").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

#: One value per dimension, in the order of ``DailyTable.dimensions``.
Key = tuple[str, ...]
#: ``(day, key, count)``: one row of a daily roll-up.
DailyRow = tuple[date, Key, int]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class DailyTable:
    """Counts per key (rows) and day (columns), and active sensors per day."""

    dimensions: tuple[str, ...]
    days: tuple[date, ...]
    keys: tuple[Key, ...]
    #: Shape ``(len(keys), len(days))``.
    counts: IntArray
    #: Shape ``(len(days),)``; 0 marks an outage.
    exposure: IntArray

    @property
    def observed(self) -> npt.NDArray[np.bool_]:
        """Mask of the days with at least one active sensor."""
        return self.exposure > 0

    def outages(self) -> list[date]:
        """Days without any active sensor."""
        return [day for day, active in zip(self.days, self.observed, strict=True) if not active]


def exposure_from_sensors(rows: Iterable[tuple[date, str, int]]) -> dict[date, int]:
    """Active sensors per day from the ``sensor`` roll-up: sensors with at least one event that day.

    A running sensor on the internet is hit every day, so a sensor without any event is taken as down."""
    active: dict[date, set[str]] = {}
    for day, sensor, count in rows:
        if count > 0:
            active.setdefault(day, set()).add(sensor)
    return {day: len(sensors) for day, sensors in active.items()}


def build_table(dimensions: Iterable[str], rows: Iterable[DailyRow], exposure: Mapping[date, int], *,
                first: date | None = None, last: date | None = None) -> DailyTable:
    """Arrange roll-up rows into a dense table over ``first..last`` (both inclusive).

    Without bounds the range spans every day in ``rows`` and ``exposure``; rows outside the range are
    dropped, duplicate ``(day, key)`` rows are added up, days missing from ``exposure`` count as outages."""
    dims = tuple(dimensions)
    listed = [(day, tuple(key), int(count)) for day, key, count in rows]
    for _, key, _ in listed:
        if len(key) != len(dims):
            raise ValueError(f"key {key!r} has {len(key)} values but the table has dimensions {dims!r}")
    days = _day_range([day for day, _, _ in listed] + list(exposure), first, last)
    day_index = {day: index for index, day in enumerate(days)}
    inside = [row for row in listed if row[0] in day_index]
    keys = tuple(sorted({key for _, key, _ in inside}))
    key_index = {key: index for index, key in enumerate(keys)}
    counts = np.zeros((len(keys), len(days)), dtype=np.int64)
    for day, key, count in inside:
        counts[key_index[key], day_index[day]] += count
    active = np.array([max(0, int(exposure.get(day, 0))) for day in days], dtype=np.int64)
    return DailyTable(dims, days, keys, counts, active)


def _day_range(seen: list[date], first: date | None, last: date | None) -> tuple[date, ...]:
    if first is None and seen:
        first = min(seen)
    if last is None and seen:
        last = max(seen)
    if first is None or last is None or last < first:
        return ()
    return tuple(first + timedelta(days=offset) for offset in range((last - first).days + 1))
