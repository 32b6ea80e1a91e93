"""The JSON API (``/api/...``) behind every view; each handler's docstring is its OpenAPI description.

Responses are JSON with ``Content-Type: application/json`` (never HTML, so attacker text in them cannot
render); errors are ``{"error", "detail"}``. The CSV export guards formula-looking cells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from honeyscope.events import encode_event
from honeyscope.store.base import EventQuery, EventStore
from honeyscope.web import params, queries
from honeyscope.web.context import WebContext, context
from honeyscope.web.insight import TREND_DAYS, Unavailable, Window
from honeyscope.web.models import ApiError, EventPage, Overview
from honeyscope.web.present import csv_safe, event_row


def json_response(value: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(value), status, media_type="application/json")


def api_error(status: int, error: str, detail: str = "") -> Response:
    return json_response(ApiError(error=error, detail=detail), status)


async def overview(request: Request) -> Response:
    """Overview: events per country (with names), CVE, ASN, persona and type over the period, daily series of
    the top countries and CVEs, sensor health and the busiest sources of the last 24 hours (these last two,
    and the newest event, are refreshed at most once a minute). Query: ``from``, ``to`` (YYYY-MM-DD,
    inclusive; default the 30 days ending at the newest event)."""
    ctx = context(request)
    return json_response(await overview_of(ctx, request))


async def overview_of(ctx: WebContext, request: Request) -> Overview:
    """The overview for the request's period. The event-reading parts come from a cache (``queries.Recent``,
    at most ``analysis_cache_seconds`` old); the roll-up answer is reused while the period's events per day
    and type, read with the period, are unchanged (no event of the period was stored since) and ``Recent``
    is equal."""
    span, types = await ctx.gateway.call(queries.period_counts, params.day(request, "from"), params.day(request, "to"))
    latest = await ctx.insight.cache.get(("recent", span), lambda: ctx.gateway.call(queries.recent, span, types))
    return await ctx.overviews.get(span, (types, latest),
                                   lambda: ctx.gateway.call(queries.overview, span, latest, types))


async def live(request: Request) -> Response:
    """Live feed: the newest events (newest first). Query: ``after`` (ISO time: only events at or after it),
    ``limit`` (default 50). Poll with ``after`` = the previous ``cursor``; de-duplicate by ``id``."""
    ctx = context(request)
    page = await ctx.gateway.call(_events, EventQuery(start=params.moment(request, "after"), descending=True,
                                                      limit=params.limit(request, 50, 500)))
    return json_response(page)


async def events(request: Request) -> Response:
    """Events matching filters, newest first (``order=asc`` for oldest first). Query: ``from``, ``to``,
    ``source``, ``country``, ``persona``, ``cve``, ``type``, ``limit`` (default 100, at most 1000)."""
    ctx = context(request)
    return json_response(await ctx.gateway.call(_events, params.event_query(request)))


def _events(store: EventStore, query: EventQuery) -> EventPage:
    rows = [event_row(event) for event in store.events(query)]
    newest = max((row.timestamp for row in rows), default=None)
    return EventPage(events=rows, cursor=newest)


async def event(request: Request) -> Response:
    """One event with every field, exactly as stored (the schema of docs/events.md; bytes as base64)."""
    ctx = context(request)
    found = await ctx.gateway.call(lambda store: store.event(request.path_params["event_id"]))
    if found is None:
        return api_error(404, "not_found", "no event with this id")
    return Response(encode_event(found), media_type="application/json")


async def sessions(request: Request) -> Response:
    """Attacker sessions (each source's events split at 30 minutes of silence) with events in the window,
    newest first. Query: ``from``, ``to`` (default the last ``analysis_days`` of events), ``source``,
    ``country``, ``cve``, ``limit`` (default 200)."""
    ctx = context(request)
    window = await ctx.insight.window(params.moment(request, "from"), params.moment(request, "to"))
    listed = await ctx.insight.sessions(window, params.address(request))
    chosen = filter_sessions(listed.sessions, request)[: params.limit(request, 200, 5000)]
    return json_response(msgspec.structs.replace(listed, sessions=chosen))


def filter_sessions(found: list[Any], request: Request) -> list[Any]:
    country, cve = params.word(request, "country", max_length=2), params.word(request, "cve", max_length=32)
    if country:
        found = [s for s in found if (s.country or "").upper() == country.upper()]
    if cve:
        found = [s for s in found if cve.upper() in s.cves]
    return found


async def session(request: Request) -> Response:
    """One session as a timeline: every event with its offset from the start and the chain stage it reached.
    Query: ``source`` and ``start`` (the session's first event time) — the links the session list gives."""
    ctx = context(request)
    source, start = params.address(request), params.moment(request, "start")
    if source is None or start is None:
        return api_error(400, "bad_request", "source and start are required (use the link from /api/sessions)")
    detail = await ctx.insight.session(request.path_params["session_id"], source, start)
    if detail is None:
        return api_error(404, "not_found", "no session with this id starts there")
    return json_response(detail)


async def actors(request: Request) -> Response:
    """Activity clusters of the window's sessions and their attribution: actor, STIX 2.1 confidence, evidence
    (each item with its public source) and alternative hypotheses. Query: ``from``, ``to``."""
    ctx = context(request)
    window = await ctx.insight.window(params.moment(request, "from"), params.moment(request, "to"))
    try:
        return json_response(await ctx.insight.actors(window))
    except Unavailable as error:
        return api_error(503, "not_available", str(error))


async def trends(request: Request) -> Response:
    """Sustained increases and decreases of daily attack rates per ``by`` (country, cve, asn, persona, sensor,
    type; default country), each with its daily series. Query: ``from``, ``to`` (default the 90 days
    ending at the newest event)."""
    ctx = context(request)
    window = await trend_window(ctx, request)
    try:
        return json_response(await ctx.insight.trends(params.dimension(request), window))
    except Unavailable as error:
        return api_error(503, "not_available", str(error))


async def trend_window(ctx: WebContext, request: Request) -> Window:
    return await ctx.insight.window(params.moment(request, "from"), params.moment(request, "to"), days=TREND_DAYS)


async def events_csv(request: Request) -> Response:
    """The events of ``/api/events`` as CSV (same filters, up to 1000 rows); cells that a spreadsheet would
    run as a formula start with ``'``."""
    ctx = context(request)
    page = await ctx.gateway.call(_events, params.event_query(request, default_limit=1000))
    columns = ["timestamp", "id", "type", "sensor", "source_ip", "country", "method", "path", "status",
               "user_agent", "stage", "cves", "severity"]

    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for row in page.events:
            data = msgspec.to_builtins(row)
            writer.writerow([csv_safe(" ".join(data[c]) if isinstance(data.get(c), list) else data.get(c))
                             for c in columns])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="honeyscope-events.csv"'})


ROUTES = [
    Route("/api/overview", overview, methods=["GET"]),
    Route("/api/live", live, methods=["GET"]),
    Route("/api/events", events, methods=["GET"]),
    Route("/api/events/{event_id}", event, methods=["GET"]),
    Route("/api/sessions", sessions, methods=["GET"]),
    Route("/api/sessions/{session_id}", session, methods=["GET"]),
    Route("/api/actors", actors, methods=["GET"]),
    Route("/api/trends", trends, methods=["GET"]),
    Route("/export/events.csv", events_csv, methods=["GET"]),
]
