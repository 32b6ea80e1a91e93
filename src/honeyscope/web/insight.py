"""Sessions, actors and trends for the views: the analysis package run over a window of the store.

The window is the ``analysis_days`` ending at the newest event (or what a request asks for), read a page
per store call and capped at ``max_analysis_events``. Results are cached for ``analysis_cache_seconds``.
CPU-heavy steps (clustering, attribution, the trend models) run on worker threads, never on the event
loop. Each analysis is imported when first used: a part that is missing or broken becomes
``Unavailable`` — a "not available" panel — instead of taking the dashboard down.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from honeyscope.analysis.sessions import DEFAULT_GAP, SessionBuilder, SessionSummary
from honeyscope.events import Event
from honeyscope.store.base import Dimension, EventQuery, EventStore
from honeyscope.web import queries
from honeyscope.web.gateway import StoreGateway, TTLCache
from honeyscope.web.models import SessionDetail, SessionList, TimelineStep
from honeyscope.web.present import event_row
from honeyscope.web.settings import WebSettings

log = logging.getLogger("honeyscope.web")

#: Events shown in one session's timeline (its summary still covers every event).
MAX_TIMELINE: Final = 2000
#: Days the trends view analyses when no period is asked for.
TREND_DAYS: Final = 90


class Unavailable(Exception):
    """An analysis cannot run here; the message says why (shown on the page and in the API)."""


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime


class Insight:
    """Analyses over the store for the web views."""

    def __init__(self, gateway: StoreGateway, settings: WebSettings, *, gap: timedelta = DEFAULT_GAP) -> None:
        self.gateway = gateway
        self.settings = settings
        self.gap = gap
        self.cache = TTLCache(settings.analysis_cache_seconds)
        self._knowledge: Any = None
        self._knowledge_lock = asyncio.Lock()

    async def window(self, start: datetime | None, end: datetime | None, *, days: int | None = None) -> Window:
        """``[start, end)``, defaulting to ``days`` (``analysis_days``) up to just after the newest event."""
        if end is None:
            newest = await self.gateway.call(_newest)
            end = (newest or datetime.now(UTC)) + timedelta(microseconds=1)
        if start is None:
            start = end - timedelta(days=days or self.settings.analysis_days)
        return Window(_utc(min(start, end)), _utc(max(start, end)))

    # -- sessions -------------------------------------------------------------------------------------

    async def sessions(self, window: Window, source_ip: str | None = None) -> SessionList:
        """Sessions with events in the window (newest first), read a page per store call."""
        return await self.cache.get(("sessions", window, source_ip), lambda: self._sessions(window, source_ip))

    async def _sessions(self, window: Window, source_ip: str | None) -> SessionList:
        builder = SessionBuilder(self.gap)
        found: list[SessionSummary] = []
        reader = queries.WindowReader(window.start, window.end, lambda e: found.extend(builder.add(e)),
                                      source_ip=source_ip, limit=self.settings.max_analysis_events)
        while not await self.gateway.call(reader.step):
            pass
        found += builder.finish()
        found.sort(key=lambda s: (s.first_seen, s.id), reverse=True)
        return SessionList(start=window.start, end=window.end, sessions=found, events_read=reader.read,
                           truncated=reader.truncated)

    async def session(self, session_id: str, source_ip: str, start: datetime) -> SessionDetail | None:
        """One session, found from its source and first event time; None when the id does not match."""
        summary, events, truncated = await self.gateway.call(
            queries.source_session, source_ip, _utc(start), self.gap, self.settings.max_analysis_events)
        if summary is None or summary.id != session_id:
            return None
        return SessionDetail(session=summary, timeline=timeline(events[:MAX_TIMELINE], summary.first_seen),
                             truncated=truncated or len(events) > MAX_TIMELINE)

    # -- actors ---------------------------------------------------------------------------------------

    async def actors(self, window: Window) -> dict[str, Any]:
        """Activity clusters of the window's sessions and the attribution of each (evidence, confidence)."""
        return await self.cache.get(("actors", window), lambda: self._actors(window))

    async def _actors(self, window: Window) -> dict[str, Any]:
        try:
            from honeyscope.analysis.attribution import attribute
            from honeyscope.analysis.clusters import build_clusters
        except ImportError as error:
            raise Unavailable(f"clustering/attribution is not available in this installation ({error})") from None
        listed = await self.sessions(window)
        knowledge = await self.knowledge()

        def judge() -> tuple[Any, Any]:
            clusters = build_clusters(listed.sessions)
            return clusters, attribute(clusters, knowledge)

        clusters, report = await asyncio.to_thread(judge)
        return {"start": window.start, "end": window.end, "events_read": listed.events_read,
                "truncated": listed.truncated, "report": report, "clusters": clusters}

    async def knowledge(self) -> Any:
        """The actor knowledge base (MISP galaxy + curated intel), loaded once per process (it takes seconds)."""
        async with self._knowledge_lock:
            if self._knowledge is None:
                self._knowledge = await asyncio.to_thread(shared_knowledge)
            return self._knowledge

    # -- trends ---------------------------------------------------------------------------------------

    async def trends(self, dimension: Dimension, window: Window) -> dict[str, Any]:
        """Sustained increases and decreases per ``dimension`` over the window, with each finding's series."""
        return await self.cache.get(("trends", dimension, window), lambda: self._trends(dimension, window))

    async def _trends(self, dimension: Dimension, window: Window) -> dict[str, Any]:
        try:
            from honeyscope.analysis.trends import load_table
        except ImportError as error:
            raise Unavailable(f"trend analysis is not available in this installation ({error})") from None
        table = await self.gateway.call(lambda store: load_table(store, [dimension], window.start, window.end))

        def detect() -> Any:
            from honeyscope.analysis.trends.detect import find_trends  # statsmodels: seconds to import

            return find_trends(table)

        try:
            report = await asyncio.to_thread(detect)
        except ImportError as error:
            raise Unavailable(f"trend analysis needs statsmodels, scipy and ruptures ({error})") from None
        rows = {key: index for index, key in enumerate(table.keys)}
        charts = [{"key": list(f.key), "counts": [int(c) for c in table.counts[rows[f.key]]]}
                  for f in report.findings if f.key in rows]
        return {"start": window.start, "end": window.end, "dimension": dimension, "days": list(table.days),
                "exposure": [int(e) for e in table.exposure], "report": report, "series": charts}


_knowledge_lock = threading.Lock()


@functools.cache
def _load_knowledge() -> Any:
    try:
        from honeyscope.analysis.knowledge import load_knowledge
    except ImportError as error:
        raise Unavailable(f"actor profiles are not available ({error})") from None
    return load_knowledge()


def shared_knowledge() -> Any:
    """The built-in knowledge base, shared by every app of the process: it is read-only package data and
    loading it takes seconds (the MISP galaxy)."""
    with _knowledge_lock:
        return _load_knowledge()


def timeline(events: Sequence[Event], first_seen: datetime) -> list[TimelineStep]:
    """A session's events with the offset from its start and each stage marked where first reached."""
    seen: set[str] = set()
    steps = []
    origin = _utc(first_seen)
    for event in events:
        row = event_row(event)
        stage = row.stage
        steps.append(TimelineStep(event=row, offset_seconds=(_utc(event.timestamp) - origin).total_seconds(),
                                  stage=stage, new_stage=bool(stage) and stage not in seen))
        if stage:
            seen.add(stage)
    return steps


def _newest(store: EventStore) -> datetime | None:
    newest = store.events(EventQuery(descending=True, limit=1))
    return _utc(newest[0].timestamp) if newest else None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_json(value: Any) -> bytes:
    """Encode API results (structs, dicts of structs, dates) as JSON."""
    return msgspec.json.encode(value)
