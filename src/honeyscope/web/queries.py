"""The store reads behind each view: synchronous functions of an ``EventStore`` (run on the store thread).

The overview is answered from the daily roll-up (its cost does not grow with the number of events) plus
``Recent``: the newest event, the busiest sources of the last 24 hours and the sensors' lifecycle reports,
which read events and are therefore reused for a minute. It reads the roll-up in six queries: events per day
and type for the whole store (which also gives the period and the overview cache's stamp), then per day by
country, CVE and sensor (the rankings are summed from these) and the top ASNs and personas.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from honeyscope.analysis.sessions import SessionBuilder, SessionSummary
from honeyscope.events import Event
from honeyscope.events.schema import SensorLifecycleEvent
from honeyscope.store.base import DailyCount, EventQuery, EventStore, KeyCount
from honeyscope.web.charts import country_name
from honeyscope.web.models import Count, Overview, Period, SensorHealth, Series, SourceRow

#: Days the overview shows when no period is asked for.
DEFAULT_DAYS: Final = 30
#: Longest period the overview accepts.
MAX_DAYS: Final = 3660
#: Series drawn in the "over time" charts (the rest are summed as "other").
SERIES: Final = 6
#: Hours before the newest event whose busiest sources the overview lists.
SOURCE_HOURS: Final = 24
#: Events fetched per store query when reading a window for sessions.
PAGE: Final = 5000


def utc_start(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


def newest_day(store: EventStore) -> date | None:
    """The last UTC day with events (from the roll-up)."""
    rows = store.daily_counts("type")
    return max((row.day for row in rows), default=None)


def period(store: EventStore, first: date | None, last: date | None, days: int = DEFAULT_DAYS) -> Period:
    """The days to show: as asked, else the ``days`` ending at the newest event (or today when empty)."""
    return _span(first, last, newest_day(store) if last is None else last, days)


def period_counts(store: EventStore, first: date | None, last: date | None,
                  days: int = DEFAULT_DAYS) -> tuple[Period, tuple[DailyCount, ...]]:
    """``period`` and the events per day and type within it, from one roll-up read. Every stored event
    counts once under its type, so these counts change whenever an event of the period is stored: they
    are what tells the overview cache that its answer is out of date."""
    rows = store.daily_counts("type")
    span = _span(first, last, max((row.day for row in rows), default=None) if last is None else last, days)
    return span, tuple(row for row in rows if span.first <= row.day <= span.last)


def _span(first: date | None, last: date | None, newest: date | None, days: int) -> Period:
    if last is None:
        last = newest or datetime.now(UTC).date()
    if first is None:
        first = last - timedelta(days=days - 1)
    if first > last:
        first, last = last, first
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    return Period(first=first, last=last, days=(last - first).days + 1)


def day_list(span: Period) -> list[date]:
    return [span.first + timedelta(days=offset) for offset in range(span.days)]


@dataclass(frozen=True, slots=True)
class Recent:
    """The overview's parts that read events rather than the roll-up (their cost grows with traffic), so
    the app reuses them for ``analysis_cache_seconds``: the newest event, the busiest sources of the 24 hours
    before it, and each sensor's latest lifecycle report."""

    newest: datetime | None
    sources: list[SourceRow]
    reports: dict[str, SensorLifecycleEvent]


def recent(store: EventStore, span: Period, types: Sequence[DailyCount] | None = None) -> Recent:
    """``Recent`` for ``span``. ``types`` (the period's events per day and type, read already or read here)
    says which days hold lifecycle reports: they are read from the first such day of the period on, and not
    at all when the period has none (PostgreSQL would otherwise walk its whole ``ts`` index looking for
    the newest 200)."""
    start, end = utc_start(span.first), utc_start(span.last + timedelta(days=1))
    newest = store.events(EventQuery(start=start, end=end, descending=True, limit=1))
    moment = newest[0].timestamp if newest else None
    if types is None:
        types = store.daily_counts("type", start, end)
    days = [row.day for row in types if row.key == "sensor.lifecycle" and row.count and span.first <= row.day]
    reports: dict[str, SensorLifecycleEvent] = {}
    if days:
        query = EventQuery(start=utc_start(min(days)), end=end, event_type="sensor.lifecycle", descending=True,
                           limit=200)
        for event in store.events(query):
            if isinstance(event, SensorLifecycleEvent):
                reports.setdefault(event.observer.name, event)
    return Recent(newest=moment, sources=top_sources(store, moment), reports=reports)


def overview(store: EventStore, span: Period, latest: Recent,
             types: Sequence[DailyCount] | None = None) -> Overview:
    """Everything the overview page draws for ``span``: roll-up reads only, plus ``latest``. ``types``: the
    period's events per day and type when the caller has read them already (``period_counts``)."""
    start, end = utc_start(span.first), utc_start(span.last + timedelta(days=1))
    days = day_list(span)
    type_rows = store.daily_counts("type", start, end) if types is None else types
    country_rows = store.daily_counts("country", start, end)
    cve_rows = store.daily_counts("cve", start, end)
    countries, cves, by_type = ranked(country_rows, 250), ranked(cve_rows, 20), ranked(type_rows)
    as_names = {str(s.asn): s.as_org for s in latest.sources if s.asn is not None and s.as_org}
    return Overview(
        period=span, days=days, total=sum(row.count for row in by_type),
        by_type=[Count(key=row.key, count=row.count) for row in by_type[:10]],
        countries=[Count(key=row.key, count=row.count, label=country_name(row.key)) for row in countries],
        countries_daily=series(country_rows, days, [c.key for c in countries], label=country_name),
        cves=[Count(key=row.key, count=row.count) for row in cves],
        cves_daily=series(cve_rows, days, [c.key for c in cves]),
        asns=[Count(key=row.key, count=row.count, label=as_names.get(row.key))
              for row in store.top("asn", start, end, limit=10)],
        personas=[Count(key=row.key, count=row.count) for row in store.top("persona", start, end, limit=10)],
        sensors=sensor_health(store.daily_counts("sensor", start, end), days, latest.reports),
        top_sources=latest.sources, newest_event=latest.newest,
    )


def ranked(rows: Iterable[DailyCount], limit: int | None = None) -> list[KeyCount]:
    """Daily counts summed per key, largest first (ties by key), as ``EventStore.top`` ranks them."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row.key] += row.count
    return [KeyCount(key, count) for key, count in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def top_sources(store: EventStore, newest: datetime | None, hours: int = SOURCE_HOURS) -> list[SourceRow]:
    """The busiest sources of the ``hours`` up to the period's newest event (a bounded scan, however large
    the period)."""
    if newest is None:
        return []
    end = newest + timedelta(microseconds=1)
    return [SourceRow(source_ip=s.source_ip, events=s.events, first_seen=s.first_seen, last_seen=s.last_seen,
                      country=s.country, asn=s.asn, as_org=s.as_org, cves=s.cves[:8])
            for s in store.sources(end - timedelta(hours=hours), end, limit=10)]


def series(rows: Iterable[DailyCount], days: Sequence[date], ranked: Sequence[str], *,
           label: Callable[[str], str] | None = None, limit: int = SERIES) -> list[Series]:
    """Daily counts of the ``limit`` highest-ranked keys, and of all others together as ``other``."""
    index = {day: position for position, day in enumerate(days)}
    keep = list(ranked[:limit])
    counts: dict[str, list[int]] = {key: [0] * len(days) for key in [*keep, "other"]}
    for row in rows:
        position = index.get(row.day)
        if position is not None:
            counts[row.key if row.key in keep else "other"][position] += row.count
    result = [Series(key=key, counts=counts[key], label=label(key) if label else None) for key in keep]
    if any(counts["other"]):
        result.append(Series(key="other", counts=counts["other"], label="all others"))
    return result


def sensor_health(rows: Iterable[DailyCount], days: Sequence[date],
                  reports: dict[str, SensorLifecycleEvent]) -> list[SensorHealth]:
    """Events per sensor and day, and each sensor's latest lifecycle report (start, stop, dropped events)."""
    index = {day: position for position, day in enumerate(days)}
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for row in rows:
        if row.day in index:
            counts[row.key][index[row.day]] += row.count
    health = []
    for name in sorted(set(counts) | set(reports)):
        daily = counts.get(name, [0] * len(days))
        report = reports.get(name)
        state = "active" if daily and daily[-1] else "quiet"
        if report is not None and report.honeyscope.sensor.action in ("stopped", "stop"):
            state = "stopped"
        health.append(SensorHealth(
            name=name, counts=daily, events=sum(daily), state=state,
            last_report=report.honeyscope.sensor.action if report else None,
            last_report_at=report.timestamp if report else None,
            dropped_events=report.honeyscope.sensor.dropped_events if report else 0))
    return health


class WindowReader:
    """Reads the events of ``[start, end)`` in time order a page per ``step`` (each step one store call, so
    other views get the store between pages), handing them to ``consume``; stops after ``limit`` events."""

    def __init__(self, start: datetime | None, end: datetime | None, consume: Callable[[Event], object], *,
                 source_ip: str | None = None, limit: int, page: int = PAGE) -> None:
        self.end = end
        self.source_ip = source_ip
        self.limit = limit
        self.page = page
        self.read = 0
        self.truncated = False
        self._consume = consume
        self._cursor = start
        self._seen: set[str] = set()

    def step(self, store: EventStore) -> bool:
        """Read one page; True when the window is done (or the limit reached)."""
        page = store.events(EventQuery(start=self._cursor, end=self.end, source_ip=self.source_ip, limit=self.page))
        fresh = [e for e in page if e.event.id not in self._seen]
        for event in fresh[: self.limit - self.read]:
            self._consume(event)
        self.read += min(len(fresh), self.limit - self.read)
        if len(page) < self.page:
            return True
        if self.read >= self.limit or (page[-1].timestamp == self._cursor and not fresh):
            self.truncated = True  # the limit, or a whole page at one instant: stop and say so
            return True
        self._cursor = page[-1].timestamp
        self._seen = {e.event.id for e in page if e.timestamp == self._cursor}
        return False


def sessions_of(events: Iterable[Event], gap: timedelta) -> list[SessionSummary]:
    """Sessions of events given in time order."""
    builder = SessionBuilder(gap)
    found: list[SessionSummary] = []
    for event in events:
        found += builder.add(event)
    found += builder.finish()
    return found


def source_session(store: EventStore, source_ip: str, start: datetime, gap: timedelta,
                   limit: int) -> tuple[SessionSummary | None, list[Event], bool]:
    """The session of ``source_ip`` that begins at ``start``: its summary, its events, whether it was cut.

    A session begins after ``gap`` of silence, so reading that source from ``start`` on and stopping at the
    first silence longer than ``gap`` gives exactly its events."""
    builder = SessionBuilder(gap)
    taken: list[Event] = []
    cursor, seen = start, set[str]()
    while True:
        page = store.events(EventQuery(start=cursor, source_ip=source_ip, limit=PAGE))
        for event in page:
            if event.event.id in seen:
                continue
            ended = builder.add(event)
            if ended:
                return ended[0], [e for e in taken if e.timestamp <= ended[0].last_seen], False
            if len(taken) >= limit:
                finished = builder.finish()
                return (finished[0] if finished else None), taken, True
            taken.append(event)
        if len(page) < PAGE or page[-1].timestamp == cursor:
            finished = builder.finish()
            return (finished[0] if finished else None), taken, len(page) >= PAGE
        cursor = page[-1].timestamp
        seen = {e.event.id for e in page if e.timestamp == cursor}
