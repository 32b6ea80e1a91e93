"""What the JSON API returns: typed structs (their JSON Schema feeds ``/api/openapi.json``).

Analysis results (sessions, clusters, attribution, trend findings) are returned as the analysis package
defines them; the structs here describe the views built around them.
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from honeyscope.analysis.sessions import SessionSummary


class Period(msgspec.Struct, frozen=True, kw_only=True):
    """UTC days shown: ``first`` and ``last`` inclusive."""

    first: date
    last: date
    days: int


class Count(msgspec.Struct, frozen=True, kw_only=True):
    """One value of a dimension (a country code, CVE, ASN, persona) and its events in the period."""

    key: str
    count: int
    #: Human name where one is known (country name, AS organisation).
    label: str | None = None


class Series(msgspec.Struct, frozen=True, kw_only=True):
    """Events per day of one key, aligned with ``Overview.days``."""

    key: str
    counts: list[int]
    label: str | None = None


class SensorHealth(msgspec.Struct, frozen=True, kw_only=True):
    """A sensor's events per day (aligned with ``Overview.days``) and its latest lifecycle report."""

    name: str
    counts: list[int]
    events: int
    #: ``active`` (events on the last day), ``quiet`` (none on the last day) or the lifecycle action.
    state: str
    last_report: str | None = None
    last_report_at: datetime | None = None
    dropped_events: int = 0


class SourceRow(msgspec.Struct, frozen=True, kw_only=True):
    """A source address and its events over the last 24 hours of the period."""

    source_ip: str
    events: int
    first_seen: datetime
    last_seen: datetime
    country: str | None = None
    asn: int | None = None
    as_org: str | None = None
    cves: list[str] = msgspec.field(default_factory=list)


class Overview(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/overview``: where attacks come from, which exploits, over the period."""

    period: Period
    days: list[date]
    total: int
    by_type: list[Count]
    countries: list[Count]
    countries_daily: list[Series]
    cves: list[Count]
    cves_daily: list[Series]
    asns: list[Count]
    personas: list[Count]
    sensors: list[SensorHealth]
    #: The busiest sources of the 24 hours up to the period's newest event (drill-down into sessions).
    top_sources: list[SourceRow]
    newest_event: datetime | None = None


class EventRow(msgspec.Struct, frozen=True, kw_only=True):
    """One event as a list shows it (attacker text cut to ``MAX_CELL`` characters)."""

    id: str
    timestamp: datetime
    type: str
    sensor: str
    source_ip: str | None = None
    country: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    user_agent: str | None = None
    stage: str | None = None
    cves: list[str] = msgspec.field(default_factory=list)
    severity: str | None = None
    rules: list[str] = msgspec.field(default_factory=list)


class EventPage(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/live`` and ``GET /api/events``: newest first; ``cursor`` is the newest event's time."""

    events: list[EventRow]
    cursor: datetime | None = None


class SessionList(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/sessions``: sessions that started in ``[start, end)``, newest first."""

    start: datetime
    end: datetime
    sessions: list[SessionSummary]
    #: Events read; ``truncated`` when the window held more than ``max_analysis_events``.
    events_read: int
    truncated: bool = False


class TimelineStep(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a session's timeline, with the chain stage it reached (if any)."""

    event: EventRow
    offset_seconds: float
    stage: str | None = None
    #: True for the first event that reached ``stage``.
    new_stage: bool = False


class SessionDetail(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/sessions/{id}``: one attacker session as a timeline."""

    session: SessionSummary
    timeline: list[TimelineStep]
    truncated: bool = False


class ApiError(msgspec.Struct, frozen=True, kw_only=True):
    """Every error the API returns."""

    error: str
    detail: str = ""
