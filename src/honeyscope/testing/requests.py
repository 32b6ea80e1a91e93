"""Build persona requests and raw request bytes without a network."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from honeyscope.sensor.http.headers import Headers
from honeyscope.sensor.personas.base import PersonaRequest


def persona_request(
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    host: str | None = "mail.contoso.com",
    scheme: str = "https",
    source_ip: str = "203.0.113.7",
    state: dict[str, Any] | None = None,
    connection_state: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> PersonaRequest:
    """A ``PersonaRequest`` as the sensor would build it. A Host header is added unless ``host=None``
    or one is given; pass the same ``state`` dict across calls to emulate one attacker."""
    items = list(headers)
    if host is not None and not any(name.lower() == "host" for name, _ in items):
        items.insert(0, ("Host", host))
    path, _, query = target.partition("?")
    return PersonaRequest(
        method=method,
        target=target,
        path=path,
        query=query,
        version="HTTP/1.1",
        headers=Headers(items),
        body=body,
        body_length=len(body),
        scheme=scheme,
        source_ip=source_ip,
        source_port=50123,
        local_ip="127.0.0.1",
        local_port=443 if scheme == "https" else 80,
        now=now or datetime(2021, 3, 3, 12, 0, tzinfo=UTC),
        state={} if state is None else state,
        connection_state={} if connection_state is None else connection_state,
    )


def raw_request_bytes(
    method: str, target: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b"",
    *, host: str | None = "127.0.0.1",
) -> bytes:
    """The bytes of an HTTP/1.1 request (Content-Length added when there is a body)."""
    lines = [f"{method} {target} HTTP/1.1"]
    if host is not None and not any(name.lower() == "host" for name, _ in headers):
        lines.append(f"Host: {host}")
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body and not any(name.lower() in ("content-length", "transfer-encoding") for name, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
