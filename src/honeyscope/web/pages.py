"""Server-rendered HTML views; each reads through the same functions as its ``/api`` twin.

Templates autoescape everything; charts come from ``charts`` as escaped SVG. Attacker text never reaches
an attribute that can hold a URL except through ``urlencode`` of our own query strings.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import msgspec
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from honeyscope.store.base import EventQuery
from honeyscope.web import charts, params
from honeyscope.web.api import filter_sessions, overview_of, trend_window
from honeyscope.web.auth import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    client_address,
    cookies_of,
    csrf_matches,
    safe_next,
)
from honeyscope.web.context import context
from honeyscope.web.insight import Unavailable
from honeyscope.web.models import Overview, Series
from honeyscope.web.present import event_row, fields, payloads


def render(request: Request, template: str, status: int = 200, **values: Any) -> Response:
    ctx = context(request)
    state = request.scope.get("state", {})
    values.update(request=request, title=ctx.settings.title, csrf_token=state.get("csrf_token", ""),
                  principal=state.get("principal"), page=template.removesuffix(".html"))
    return ctx.templates.TemplateResponse(request, template, values, status_code=status)


async def overview_page(request: Request) -> Response:
    data = await overview_of(context(request), request)
    sparks = [charts.sparkline(s.counts, label=f"{s.name}: events per day") for s in data.sensors]
    return render(request, "overview.html", data=data, charts=_overview_charts(data), sparks=sparks)


def _overview_charts(data: Overview) -> dict[str, Markup]:
    start_query = urlencode({"from": data.period.first.isoformat(),
                             "to": (data.period.last.isoformat() + "T23:59:59.999999")})
    return {
        "map": charts.world_map({c.key: c.count for c in data.countries}, label="Events by source country",
                                href="/sessions?country={code}&" + start_query),
        "countries": charts.bar_chart([charts.Bar(f"{c.key} {c.label or ''}".strip(), c.count,
                                                  f"/sessions?country={c.key}&{start_query}")
                                       for c in data.countries[:12]], label="Top source countries"),
        "countries_daily": _lines(data.days, data.countries_daily, "Events per day by source country"),
        "cves": charts.bar_chart([charts.Bar(c.key, c.count, f"/sessions?cve={c.key}&{start_query}")
                                  for c in data.cves[:12]], label="Events by CVE", color=charts.PALETTE[3]),
        "cves_daily": _lines(data.days, data.cves_daily, "Events per day by CVE"),
        "personas": charts.bar_chart([charts.Bar(c.key, c.count) for c in data.personas],
                                     label="Events by persona", color=charts.PALETTE[2]),
    }


def _lines(days: list[date], series: list[Series], label: str) -> Markup:
    return charts.time_series(days, [charts.Line(s.label or s.key if s.key == "other" else
                                                 f"{s.key} {s.label or ''}".strip(), s.counts) for s in series],
                              label=label)


async def live_page(request: Request) -> Response:
    ctx = context(request)
    rows = await ctx.gateway.call(lambda store: [event_row(e) for e in store.events(
        EventQuery(descending=True, limit=50))])
    newest = max((row.timestamp for row in rows), default=None)
    cursor = msgspec.json.encode(newest).decode().strip('"') if newest else ""  # the form /api/live returns
    interval = request.query_params.get("interval", "5000")
    return render(request, "live.html", rows=rows, cursor=cursor,
                  interval=int(interval) if interval.isdigit() and 1000 <= int(interval) <= 600_000 else 5000)


async def sessions_page(request: Request) -> Response:
    ctx = context(request)
    window = await ctx.insight.window(params.moment(request, "from"), params.moment(request, "to"))
    listed = await ctx.insight.sessions(window, params.address(request))
    chosen = filter_sessions(listed.sessions, request)
    shown = chosen[: params.limit(request, 200, 5000)]
    return render(request, "sessions.html", listed=listed, sessions=shown, matching=len(chosen),
                  filters={k: request.query_params.get(k, "") for k in ("source", "country", "cve", "from", "to")},
                  href=params.session_href)


async def session_page(request: Request) -> Response:
    ctx = context(request)
    source, start = params.address(request), params.moment(request, "start")
    if source is None or start is None:
        raise params.bad("source and start are required — follow a link from the session list")
    detail = await ctx.insight.session(request.path_params["session_id"], source, start)
    if detail is None:
        return render(request, "error.html", 404, message="No session with this id starts there.")
    return render(request, "session.html", detail=detail, s=detail.session)


async def event_page(request: Request) -> Response:
    ctx = context(request)
    found = await ctx.gateway.call(lambda store: store.event(request.path_params["event_id"]))
    if found is None:
        return render(request, "error.html", 404, message="No event with this id.")
    row = event_row(found)
    around = urlencode({"source": row.source_ip or "", "from": found.timestamp.date().isoformat()})
    return render(request, "event.html", row=row, event=found, fields=fields(found), payloads=payloads(found),
                  detections=getattr(found.honeyscope, "detections", []), sessions_href="/sessions?" + around)


async def actors_page(request: Request) -> Response:
    ctx = context(request)
    window = await ctx.insight.window(params.moment(request, "from"), params.moment(request, "to"))
    try:
        data = await ctx.insight.actors(window)
    except Unavailable as error:
        return render(request, "actors.html", unavailable=str(error), data=None, window=window)
    clusters = {c.id: c for c in data["clusters"]}
    ranked = sorted(data["report"].clusters, key=lambda r: (r.actor is None, r.best is None,
                                                            -(r.best.confidence if r.best else 0), r.cluster))
    return render(request, "actors.html", unavailable=None, data=data, ranked=ranked, clusters=clusters,
                  window=window, safe_url=_safe_url)


def _safe_url(url: str) -> str | None:
    """Evidence sources come from intel files (ours or the user's): link only http(s) URLs."""
    return url if url.startswith(("https://", "http://")) and '"' not in url else None


async def trends_page(request: Request) -> Response:
    ctx = context(request)
    window = await trend_window(ctx, request)
    dimension = params.dimension(request)
    try:
        data = await ctx.insight.trends(dimension, window)
    except Unavailable as error:
        return render(request, "trends.html", unavailable=str(error), data=None, dimension=dimension)
    report = data["report"]
    series = {tuple(s["key"]): s["counts"] for s in data["series"]}
    findings = [(f, charts.time_series(data["days"], [charts.Line(" × ".join(f.key), series.get(tuple(f.key), []))],
                                       label=f.sentence or " × ".join(f.key), marker=f.onset,
                                       marker_label=f"onset {f.onset}"))
                for f in report.findings]
    return render(request, "trends.html", unavailable=None, data=data, report=report, findings=findings,
                  dimension=dimension, dimensions=("country", "cve", "asn", "persona", "sensor"))


async def login_page(request: Request) -> Response:
    ctx = context(request)
    target = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        if ctx.auth.policy.open:
            return RedirectResponse(target, 303)
        return render(request, "login.html", next=target, error=None)
    form = await _form(request)
    target = safe_next(form.get("next"))
    if not csrf_matches(cookies_of(request.headers).get(CSRF_COOKIE), form.get(CSRF_FIELD)):
        return render(request, "login.html", 403, next=target, error="The form expired — please try again.")
    client = client_address(request.scope)
    if ctx.auth.throttled(client):
        return render(request, "login.html", 429, next=target, error="Too many failed attempts — wait a few minutes.")
    if ctx.auth.policy.open or not await ctx.auth.check_token(form.get("token", "")):
        ctx.auth.failed(client)
        return render(request, "login.html", 401, next=target, error="Wrong access token.")
    response = RedirectResponse(target, 303)
    seconds = int(ctx.settings.session_hours * 3600)
    response.headers.append("set-cookie", ctx.auth.cookie(SESSION_COOKIE, ctx.auth.new_session(), max_age=seconds))
    return response


async def logout(request: Request) -> Response:
    ctx = context(request)
    form = await _form(request)
    if not csrf_matches(cookies_of(request.headers).get(CSRF_COOKIE), form.get(CSRF_FIELD)):
        return render(request, "error.html", 403, message="The form expired — reload the page and try again.")
    ctx.auth.end_session(cookies_of(request.headers).get(SESSION_COOKIE))
    response = RedirectResponse("/login", 303)
    response.headers.append("set-cookie", ctx.auth.cookie(SESSION_COOKIE, "", max_age=0))
    return response


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form (the only kind our pages post), at most 8 KiB."""
    from urllib.parse import parse_qsl

    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > 8192:
            raise params.bad("form too large")
    return dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=16))


async def api_page(request: Request) -> Response:
    return render(request, "api.html")


ROUTES = [
    Route("/", overview_page, methods=["GET"]),
    Route("/live", live_page, methods=["GET"]),
    Route("/sessions", sessions_page, methods=["GET"]),
    Route("/sessions/{session_id}", session_page, methods=["GET"]),
    Route("/events/{event_id}", event_page, methods=["GET"]),
    Route("/actors", actors_page, methods=["GET"]),
    Route("/trends", trends_page, methods=["GET"]),
    Route("/api", api_page, methods=["GET"]),
    Route("/login", login_page, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
]
