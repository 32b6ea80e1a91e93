"""Events as ECS JSON lines (Elastic Common Schema 9; every field used exists in ECS 8 too).

ECS names wherever ECS has one: ``@timestamp``, ``event.*``, ``source.*``/``destination.*`` (with
``geo`` and ``as``), ``http.*``, ``url.*``, ``user_agent.original``, ``tls.*``, ``observer.*``, and from the
detections ``rule.id``/``rule.name``/``rule.ruleset``, ``vulnerability.id`` and ``threat.technique.id``
(arrays when several detections matched), ``related.ip``/``related.user``. An event with detections is
``event.kind: alert`` with ``intrusion_detection`` among its categories and ``event.severity`` from the
highest detection level (21/47/73/99 for low/medium/high/critical, Elastic's risk scale).

Everything ECS has no field for stays under ``honeyscope.*`` as in our schema (JA4, the header list,
raw head, persona, stage, detections with their evidence, ...); bytes there are base64 strings. The
request body also goes to ``http.request.body.content`` when it is valid UTF-8. Every line is valid JSON
in UTF-8: control characters are escaped, and text that cannot be UTF-8 is backslash-escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any, Final

import msgspec

from honeyscope.events.schema import Detection, Endpoint, Event, HttpRequestEvent, Tls

__all__ = ["ECS_VERSION", "encode_ecs", "to_ecs", "write_ecs"]

ECS_VERSION: Final = "9.0.0"
_SEVERITY: Final = {"informational": 0, "low": 21, "medium": 47, "high": 73, "critical": 99}
_ENCODER: Final = msgspec.json.Encoder()


def to_ecs(event: Event) -> dict[str, Any]:
    """One event as an ECS document (a plain dict, ready for JSON)."""
    doc: dict[str, Any] = {
        "@timestamp": _iso(event.timestamp),
        "ecs": {"version": ECS_VERSION},
        "event": _event_meta(event),
        "observer": _clean(msgspec.to_builtins(event.observer)),
    }
    source, destination = getattr(event, "source", None), getattr(event, "destination", None)
    if source is not None:
        doc["source"] = _endpoint(source)
    if destination is not None:
        doc["destination"] = _endpoint(destination)
    tls = getattr(event, "tls", None)
    if tls is not None:
        doc["tls"] = _tls(tls)
    if isinstance(event, HttpRequestEvent):
        _add_http(doc, event)
    related = _related(event)
    if related:
        doc["related"] = related
    doc["honeyscope"] = msgspec.to_builtins(event.honeyscope)
    cleaned: dict[str, Any] = _clean(doc)
    return cleaned


def write_ecs(events: Iterable[Event], output: IO[bytes]) -> int:
    """Write one ECS JSON document per line (UTF-8, valid JSON whatever the event holds); returns the
    number written. Streams: one event in memory at a time."""
    count = 0
    for event in events:
        output.write(encode_ecs(to_ecs(event)) + b"\n")
        count += 1
    return count


def encode_ecs(doc: dict[str, Any]) -> bytes:
    """One document as a JSON line's bytes. Control characters are escaped by the encoder (``\\u0000``);
    a string that cannot be UTF-8 (a lone surrogate, as ``surrogateescape`` decoding leaves for bytes
    that were not UTF-8) is written with that character backslash-escaped as text, never dropped."""
    try:
        return _ENCODER.encode(doc)
    except UnicodeEncodeError:
        return _ENCODER.encode(_utf8_safe(doc))


def _utf8_safe(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_utf8_safe(key): _utf8_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_utf8_safe(item) for item in value]
    return value


def _iso(moment: datetime) -> str:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _detections(event: Event) -> list[Detection]:
    honeyscope = event.honeyscope
    return list(getattr(honeyscope, "detections", []))


def _event_meta(event: Event) -> dict[str, Any]:
    meta = msgspec.to_builtins(event.event)
    meta["module"] = "honeyscope"
    detections = _detections(event)
    if detections:
        meta["kind"] = "alert"
        if "intrusion_detection" not in meta["category"]:
            meta["category"] = [*meta["category"], "intrusion_detection"]
        meta["severity"] = max(_SEVERITY.get(d.severity, 47) for d in detections)
    return dict(meta)


def _endpoint(endpoint: Endpoint) -> dict[str, Any]:
    doc: dict[str, Any] = {"ip": endpoint.ip, "address": endpoint.ip}
    if endpoint.port:
        doc["port"] = endpoint.port
    if endpoint.geo is not None:
        doc["geo"] = msgspec.to_builtins(endpoint.geo)
    if endpoint.as_ is not None:
        doc["as"] = msgspec.to_builtins(endpoint.as_)
    return doc


def _tls(tls: Tls) -> dict[str, Any]:
    doc: dict[str, Any] = msgspec.to_builtins(tls)  # defaults are omitted by our schema: put them back
    doc["established"] = tls.established
    if tls.version:
        doc["version_protocol"] = tls.version_protocol
    return doc


def _add_http(doc: dict[str, Any], event: HttpRequestEvent) -> None:
    headers = {name.lower(): value for name, value in reversed(event.honeyscope.request.headers)}
    request: dict[str, Any] = {"method": event.http.request.method,
                               "body": {"bytes": event.http.request.body.bytes},
                               "referrer": headers.get("referer"), "mime_type": headers.get("content-type")}
    content = _text_body(event.honeyscope.request.body)
    if content is not None:
        request["body"]["content"] = content
    doc["http"] = {"version": event.http.version, "request": request,
                   "response": {"status_code": event.http.response.status_code,
                                "body": {"bytes": event.http.response.body.bytes}}}
    scheme = "https" if event.tls is not None else "http"
    doc["url"] = {"original": event.url.original, "path": event.url.path, "query": event.url.query,
                  "domain": event.url.domain, "scheme": scheme, "port": event.destination.port or None}
    if event.user_agent is not None:
        doc["user_agent"] = {"original": event.user_agent.original}
    detections = event.honeyscope.detections
    if detections:
        doc["rule"] = {"id": [d.rule_id for d in detections], "name": [d.title for d in detections],
                       "ruleset": _unique(d.engine for d in detections)}
        cves = _unique(cve for d in detections for cve in d.cves)
        if cves:
            doc["vulnerability"] = {"id": cves, "enumeration": "CVE"}
        techniques = _unique(t for d in detections for t in d.techniques)
        if techniques:
            doc["threat"] = {"framework": "MITRE ATT&CK", "technique": {"id": techniques}}


def _text_body(body: bytes) -> str | None:
    if not body:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _related(event: Event) -> dict[str, list[str]]:
    ips = [endpoint.ip for endpoint in (getattr(event, "source", None), getattr(event, "destination", None))
           if endpoint is not None and endpoint.ip]
    honeyscope = event.honeyscope
    request = getattr(honeyscope, "request", None)
    forwarded = getattr(request, "forwarded_for", None)
    if forwarded:
        ips.extend(part.strip() for part in forwarded.split(",") if part.strip())
    users = [c.username for c in getattr(honeyscope, "credentials", []) if c.username]
    related: dict[str, list[str]] = {"ip": _unique(ips)} if ips else {}
    if users:
        related["user"] = _unique(users)
    return related


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _clean(value: Any) -> Any:
    """Drop ``None`` values and empty dicts, so documents carry only what is known."""
    if isinstance(value, dict):
        cleaned = {key: _clean(item) for key, item in value.items() if item is not None}
        return {key: item for key, item in cleaned.items() if item != {}}
    return value
