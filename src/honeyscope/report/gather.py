"""Gather a report's data model from a store: the overview roll-ups, one read of the period's events (sessions,
distinct sources, data provenance), the trend runs and the attribution — each computed by the function the
dashboard and the ``trends``/``attribute`` commands use, so a report never disagrees with them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from honeyscope.analysis.sessions import DEFAULT_GAP, SessionBuilder, SessionSummary
from honeyscope.analysis.trends import TrendSettings, load_table
from honeyscope.config import ConfigError
from honeyscope.events import Event
from honeyscope.report.indicators import observed_indicators, source_indicators
from honeyscope.report.model import DataSource, ReportData, TrendSection
from honeyscope.report.summary import executive_summary
from honeyscope.share.tlp import Tlp
from honeyscope.store.base import Dimension, EventStore
from honeyscope.web import queries
from honeyscope.web.models import Overview, Period, SourceRow

#: Trend runs of a report: per country, per CVE, and per country × CVE ("from CN using CVE-2021-26855").
TREND_DIMENSIONS: Final[tuple[tuple[Dimension, ...], ...]] = (("country",), ("cve",), ("country", "cve"))
#: Events read for sessions and attribution at most (the roll-up numbers are exact whatever the cap).
MAX_EVENTS: Final = 2_000_000
#: Source addresses read from the store for the indicator table and AS names.
SOURCE_SCAN: Final = 20_000
#: The event type that is not an attack: a sensor's own start/stop/health report.
LIFECYCLE: Final = "sensor.lifecycle"


@dataclass(slots=True)
class WindowRead:
    """What one pass over the period's events yields."""

    sessions: list[SessionSummary] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    geo_sources: Counter[str] = field(default_factory=Counter)
    newest: datetime | None = None
    read: int = 0
    truncated: bool = False


def gather(store: EventStore, first: date | None, last: date | None, *, tlp: Tlp = "amber",
           intel: Sequence[Path] = (), knowledge: Any = None, trend_settings: TrendSettings | None = None,
           store_label: str = "",
           max_events: int = MAX_EVENTS, now: datetime | None = None) -> ReportData:
    """The report of ``first`` .. ``last`` (UTC days, inclusive; default: the 30 days up to the newest event).

    ``knowledge`` is a loaded knowledge base (tests share one); otherwise the built-in one plus ``intel``
    files is loaded. ``trend_settings`` are the ``[trends]`` settings (defaults otherwise). Raises
    ``ConfigError`` when an intel file is invalid."""
    if store.schema_version() == 0:  # a store nothing was ever written to: no tables to read
        return blank(first, last, tlp=tlp, store_label=store_label, now=now)
    span = queries.period(store, first, last)
    start, end = queries.utc_start(span.first), queries.utc_start(span.last + timedelta(days=1))
    window = read_window(store, start, end, max_events)
    summaries = store.sources(start, end, limit=SOURCE_SCAN)
    rows = [SourceRow(source_ip=s.source_ip, events=s.events, first_seen=s.first_seen, last_seen=s.last_seen,
                      country=s.country, asn=s.asn, as_org=s.as_org, cves=s.cves) for s in summaries]
    overview = queries.overview(store, span, queries.Recent(newest=window.newest, sources=rows, reports={}))
    trends = [trend_section(store, dimensions, start, end, trend_settings) for dimensions in TREND_DIMENSIONS]
    attribution, attribution_error = attribute_sessions(window.sessions, intel, knowledge)
    data = ReportData(
        first=span.first, last=span.last, tlp=tlp, generated=now or datetime.now(UTC), store=store_label,
        overview=overview, events=sum(c.count for c in overview.by_type if c.key != LIFECYCLE),
        sources=len(window.sources), countries=len(overview.countries), events_read=window.read,
        truncated=window.truncated, trends=trends, attribution=attribution, attribution_error=attribution_error,
        source_indicators=source_indicators(summaries, window.sessions, attribution),
        observed_indicators=observed_indicators(window.sessions),
        data_sources=data_sources(store, window, overview.sensors, attribution))
    data.summary = executive_summary(data)
    return data


def blank(first: date | None, last: date | None, *, tlp: Tlp = "amber", store_label: str = "",
          now: datetime | None = None) -> ReportData:
    """The report of a period without any event (a store never written to)."""
    moment = now or datetime.now(UTC)
    last = last or moment.date()
    first = first or last - timedelta(days=queries.DEFAULT_DAYS - 1)
    span = Period(first=first, last=last, days=(last - first).days + 1)
    overview = Overview(period=span, days=queries.day_list(span), total=0, by_type=[], countries=[],
                        countries_daily=[], cves=[], cves_daily=[], asns=[], personas=[], sensors=[], top_sources=[])
    data = ReportData(first=span.first, last=span.last, tlp=tlp, generated=moment, store=store_label,
                      overview=overview, events=0, sources=0, countries=0, events_read=0, truncated=False,
                      trends=[TrendSection(dimensions, None) for dimensions in TREND_DIMENSIONS], attribution=None,
                      attribution_error=None, source_indicators=[], observed_indicators=[],
                      data_sources=[DataSource("Event store", "empty: no event was ever written to it")])
    data.summary = executive_summary(data)
    return data


def read_window(store: EventStore, start: datetime, end: datetime, limit: int) -> WindowRead:
    """Sessions, distinct sources and geolocation provenance of ``[start, end)``, a page per store call."""
    found = WindowRead()
    builder = SessionBuilder(DEFAULT_GAP)

    def consume(event: Event) -> None:
        found.sessions.extend(builder.add(event))
        source = getattr(event, "source", None)
        if source is not None and source.ip:
            found.sources.add(source.ip)
        enrichment = getattr(event.honeyscope, "enrichment", None)
        if enrichment is not None and enrichment.geo_source:
            found.geo_sources[enrichment.geo_source] += 1
        moment = event.timestamp if event.timestamp.tzinfo else event.timestamp.replace(tzinfo=UTC)
        found.newest = moment if found.newest is None else max(found.newest, moment)

    reader = queries.WindowReader(start, end, consume, limit=limit)
    while not reader.step(store):
        pass
    found.sessions.extend(builder.finish())
    found.sessions.sort(key=lambda s: (s.first_seen, s.id))
    found.read, found.truncated = reader.read, reader.truncated
    return found


def trend_section(store: EventStore, dimensions: tuple[Dimension, ...], start: datetime, end: datetime,
                  settings: TrendSettings | None = None) -> TrendSection:
    """One trend run over the period, as ``honeyscope trends --by`` runs it (http.request events)."""
    from honeyscope.analysis.trends.detect import find_trends  # statsmodels: only when a report is made

    try:
        table = load_table(store, list(dimensions), start, end)
    except ConfigError as error:  # a store that cannot count pairs per day
        return TrendSection(dimensions, None, error=str(error))
    report = find_trends(table, settings or TrendSettings())
    rows = {key: index for index, key in enumerate(table.keys)}
    series = {f.key: [int(c) for c in table.counts[rows[f.key]]] for f in report.findings if f.key in rows}
    return TrendSection(dimensions, report, list(table.days), series)


def attribute_sessions(sessions: list[SessionSummary], intel: Sequence[Path],
                       knowledge: Any) -> tuple[Any, str | None]:
    """Clusters of the sessions and their attribution, as ``honeyscope attribute`` computes them."""
    try:
        from honeyscope.analysis.attribution import attribute
        from honeyscope.analysis.clusters import build_clusters
        from honeyscope.analysis.knowledge import IntelError, load_knowledge
    except ImportError as error:
        return None, f"attribution is not available in this installation ({error})"
    if knowledge is None:
        try:
            knowledge = load_knowledge(intel)
        except IntelError as error:
            raise ConfigError(f"actor intel: {error} — fix the file or leave it out") from None
    return attribute(build_clusters(sessions), knowledge), None


def data_sources(store: EventStore, window: WindowRead, sensors: Sequence[Any], attribution: Any) -> list[DataSource]:
    """The provenance the methodology section lists."""
    found = [DataSource("Event store", f"{store.backend}; events read for sessions and attribution: "
                                       f"{window.read:,}{' (capped)' if window.truncated else ''}")]
    if sensors:
        names = ", ".join(s.name for s in sensors[:12]) + (" …" if len(sensors) > 12 else "")
        found.append(DataSource("Sensors", f"{len(sensors)} with events in the period: {names}"))
    geo = "; ".join(f"{label} ({count:,} events)" for label, count in window.geo_sources.most_common(5))
    found.append(DataSource("Geolocation and AS data", geo or "no event in the period was geolocated"))
    rules = sorted({rule for s in window.sessions for rule in s.rule_ids})
    found.append(DataSource("Detection rules", f"{len(rules)} rules matched in the period" +
                            (f": {', '.join(rules[:10])}{' …' if len(rules) > 10 else ''}" if rules else "")))
    knowledge = list(getattr(attribution, "knowledge", []) or [])
    if knowledge:
        found.append(DataSource("Actor knowledge", "; ".join(knowledge)))
    return found
