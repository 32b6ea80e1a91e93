"""``GET /api/openapi.json``: the API described as OpenAPI 3.1, from the handlers' docstrings and the
response structs' JSON Schema (msgspec generates the schemas, so they cannot drift from the code)."""

from __future__ import annotations

from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from honeyscope import __version__
from honeyscope.web import api
from honeyscope.web.models import ApiError, EventPage, Overview, SessionDetail, SessionList

_PARAMS: Final = {
    "from": "start (YYYY-MM-DD or ISO 8601 time, UTC)", "to": "end (exclusive for times, inclusive for days)",
    "after": "only events at or after this time (ISO 8601)", "limit": "most results",
    "source": "source IP address", "country": "ISO 3166-1 alpha-2 code", "persona": "decoy persona",
    "cve": "CVE id", "type": "event type", "order": "asc or desc (default)", "start": "session start time",
    "by": "dimension: country, cve, asn, persona, sensor, type",
}
#: path → (handler, response schema name or None for free-form JSON, query parameters).
_OPERATIONS: Final[dict[str, tuple[Any, str | None, tuple[str, ...]]]] = {
    "/api/overview": (api.overview, "Overview", ("from", "to")),
    "/api/live": (api.live, "EventPage", ("after", "limit")),
    "/api/events": (api.events, "EventPage",
                    ("from", "to", "source", "country", "persona", "cve", "type", "order", "limit")),
    "/api/events/{event_id}": (api.event, None, ()),
    "/api/sessions": (api.sessions, "SessionList", ("from", "to", "source", "country", "cve", "limit")),
    "/api/sessions/{session_id}": (api.session, "SessionDetail", ("source", "start")),
    "/api/actors": (api.actors, None, ("from", "to")),
    "/api/trends": (api.trends, None, ("by", "from", "to")),
    "/export/events.csv": (api.events_csv, None,
                           ("from", "to", "source", "country", "persona", "cve", "type", "order", "limit")),
}


def document() -> dict[str, Any]:
    """The OpenAPI document."""
    _, components = msgspec.json.schema_components([Overview, EventPage, SessionList, SessionDetail, ApiError],
                                                   ref_template="#/components/schemas/{name}")
    paths: dict[str, Any] = {}
    for path, (handler, schema, query) in _OPERATIONS.items():
        doc = " ".join((handler.__doc__ or "").split())
        parameters = [{"name": name, "in": "query", "required": False, "description": _PARAMS[name],
                       "schema": {"type": "string"}} for name in query]
        parameters += [{"name": part.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
                       for part in path.split("/") if part.startswith("{")]
        content_type = "text/csv" if path.endswith(".csv") else "application/json"
        body = {"$ref": f"#/components/schemas/{schema}"} if schema else {"type": "object"}
        paths[path] = {"get": {
            "summary": doc.split(". ")[0].rstrip("."), "description": doc, "parameters": parameters,
            "responses": {"200": {"description": "OK", "content": {content_type: {"schema": body}}},
                          "400": _error("bad query parameter"), "401": _error("no or wrong credentials"),
                          "404": _error("not found")},
        }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "honeyscope dashboard API", "version": __version__,
                 "description": "Read-only JSON behind every dashboard view. Authenticate with "
                                "`Authorization: Bearer <token>` (or a login session cookie)."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}}


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document of this API."""
    return Response(msgspec.json.encode(document()), media_type="application/json")
