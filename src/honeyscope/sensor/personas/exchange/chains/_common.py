"""Helpers shared by the chain handlers: bounded per-attacker state, host classification, replies."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import Artifact, PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

#: Upper bound for every list or dict a chain keeps per attacker (shells, sessions, WS-Man shells...).
STATE_LIMIT = 64


def chain_state(request: PersonaRequest, chain: str) -> dict[str, Any]:
    """The attacker's state for one chain, created on first use."""
    value = request.state.get(chain)
    if not isinstance(value, dict):
        value = {}
        request.state[chain] = value
    return value


def bounded_put(mapping: dict[str, Any], key: str, value: Any, limit: int = STATE_LIMIT) -> None:
    """Insert into ``mapping``, forgetting the oldest entry first when it is full."""
    if key not in mapping and len(mapping) >= limit:
        del mapping[next(iter(mapping))]
    mapping[key] = value


def body_text(request: PersonaRequest) -> str:
    """The body as text; exploit bodies are ASCII/UTF-8 and we only pattern-match them."""
    return request.body.decode("utf-8", "replace")


def is_own_name(host: str, identity: ExchangeIdentity) -> bool:
    """Whether ``host`` names this server's back end (NetBIOS name or internal FQDN)."""
    name = host.lower().rstrip(".")
    return name in {identity.netbios_name.lower(), identity.backend_fqdn, identity.dns_computer_name.lower()}


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address."""
    name = host.lower().strip("[]").rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def callback_hosts(host: str, identity: ExchangeIdentity) -> list[str]:
    """``[host]`` when it could be an attacker's out-of-band listener (a dotted name or a public IP
    that is not us); single-label names like ``f`` in ``http://f/`` reach nobody."""
    name = host.lower().strip("[]").rstrip(".")
    if not name or is_loopback(name) or is_own_name(name, identity) or name == identity.public_host.lower():
        return []
    try:
        return [name] if ipaddress.ip_address(name).is_global else []
    except ValueError:
        return [name] if "." in name else []


def dotnet_now(now: datetime) -> str:
    """``DateTime.UtcNow.ToString()`` in en-US, e.g. ``3/3/2021 12:00:00 PM``."""
    hour = now.hour % 12 or 12
    meridiem = "AM" if now.hour < 12 else "PM"
    return f"{now.month}/{now.day}/{now.year} {hour}:{now.minute:02d}:{now.second:02d} {meridiem}"


def make_reply(
    response: Response,
    route: str,
    stage: str,
    *,
    tags: list[str] | None = None,
    artifacts: list[Artifact] | None = None,
    callbacks: list[str] | None = None,
) -> Reply:
    """A chain reply; ``route`` is the emulated endpoint, ``stage`` the chain step reached."""
    return Reply(
        response, route=route, stage=stage, tags=tags or [], artifacts=artifacts or [], callbacks=callbacks or []
    )
