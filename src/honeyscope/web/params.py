"""Query parameters of the views and the API, parsed with one clear error each (HTTP 400)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, date, datetime
from typing import Final, get_args
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request

from honeyscope.store.base import Dimension, EventQuery

MAX_LIMIT: Final = 1000
_EVENT_TYPES: Final = ("http.request", "tls.handshake", "sensor.limit", "sensor.lifecycle")


def bad(message: str) -> HTTPException:
    return HTTPException(400, message)


def day(request: Request, name: str) -> date | None:
    text = request.query_params.get(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise bad(f"{name}={text[:40]!r} is not a date — use YYYY-MM-DD") from None


def moment(request: Request, name: str) -> datetime | None:
    """A time: ``YYYY-MM-DD`` (midnight UTC) or ISO 8601 (naive means UTC)."""
    text = request.query_params.get(name)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
    except ValueError:
        raise bad(f"{name}={text[:40]!r} is not a time — use YYYY-MM-DD or 2021-03-03T12:00:00Z") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def limit(request: Request, default: int, maximum: int = MAX_LIMIT) -> int:
    text = request.query_params.get("limit")
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise bad(f"limit={text[:20]!r} must be a whole number 1..{maximum}")
    return int(text)


def address(request: Request, name: str = "source") -> str | None:
    text = request.query_params.get(name)
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise bad(f"{name}={text[:60]!r} is not an IP address") from None


def word(request: Request, name: str, *, max_length: int = 128) -> str | None:
    text = request.query_params.get(name)
    if not text:
        return None
    if len(text) > max_length:
        raise bad(f"{name} is longer than {max_length} characters")
    return text


def dimension(request: Request, default: Dimension = "country") -> Dimension:
    text = request.query_params.get("by") or default
    allowed: tuple[str, ...] = get_args(Dimension)
    if text not in allowed:
        raise bad(f"by={text[:30]!r}: use one of {', '.join(allowed)}")
    return text  # type: ignore[return-value]  # checked against the Literal's values above


def event_query(request: Request, *, default_limit: int = 100) -> EventQuery:
    """Filters of ``/api/events`` and the CSV export."""
    kind = word(request, "type")
    if kind is not None and kind not in _EVENT_TYPES:
        raise bad(f"type={kind[:30]!r}: use one of {', '.join(_EVENT_TYPES)}")
    country = word(request, "country", max_length=2)
    return EventQuery(start=moment(request, "from"), end=moment(request, "to"), source_ip=address(request),
                      country=country.upper() if country else None, persona=word(request, "persona"),
                      cve=word(request, "cve", max_length=32), event_type=kind,
                      limit=limit(request, default_limit), descending=request.query_params.get("order") != "asc")


def session_href(session_id: str, source_ip: str, first_seen: datetime) -> str:
    """Link to one session: its id, and where to find it (source address and first event time)."""
    return f"/sessions/{session_id}?" + urlencode({"source": source_ip, "start": first_seen.isoformat()})
