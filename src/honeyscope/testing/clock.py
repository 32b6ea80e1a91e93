"""A clock tests can set and advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """Wall time that only moves when told to. Satisfies ``honeyscope.clock.Clock``."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2021, 3, 3, 12, 0, tzinfo=UTC)
        self._monotonic = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds
