"""Autodiscover: the POX endpoint (401 until authenticated) and the anonymous v2 JSON endpoint."""

from __future__ import annotations

from typing import Final

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.assets import data_bytes, template
from honeyscope.sensor.personas.exchange.headers import exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity
from honeyscope.sensor.personas.exchange.routes.auth401 import VDIRS, unauthorized

#: Protocol (lower-case) → (name as Exchange spells it, path of its endpoint on the public host).
_PROTOCOLS: Final[dict[str, tuple[str, str]]] = {
    "ews": ("EWS", "/EWS/Exchange.asmx"),
    "activesync": ("ActiveSync", "/Microsoft-Server-ActiveSync"),
    "autodiscoverv1": ("AutodiscoverV1", "/autodiscover/autodiscover.xml"),
}


def handle(request: PersonaRequest, identity: ExchangeIdentity, path: str) -> Reply:
    """Every request under ``/autodiscover``."""
    if path == "/autodiscover/autodiscover.json" and request.method in ("GET", "HEAD"):
        return autodiscover_json(request, identity)
    return unauthorized(request, identity, VDIRS["autodiscover"])


def _param(request: PersonaRequest, name: str) -> str:
    lowered = name.lower()
    return next((value for key, value in request.query_params() if key.lower() == lowered), "")


def autodiscover_json(request: PersonaRequest, identity: ExchangeIdentity) -> Reply:
    """Autodiscover v2 (facts A.1): 200 ``{"Protocol","Url"}`` for a known mailbox, UserNotFound
    otherwise [? status of the error assumed 200]. Answered by the back end, so X-CalculatedBETarget
    discloses the internal FQDN (nuclei ms-exchange-local-domain)."""
    protocol = _PROTOCOLS.get(_param(request, "Protocol").lower())
    if protocol is None:
        return _json(identity, 400, data_bytes("autodiscover_invalid_protocol.json"))
    if not identity.is_known_mailbox(_param(request, "Email")):
        return _json(identity, 200, data_bytes("autodiscover_user_not_found.json"))
    name, endpoint = protocol
    body = template("autodiscover_protocol.json").substitute(
        protocol=name, url=f"https://{identity.public_host}{endpoint}")
    return _json(identity, 200, body.encode("utf-8"))


def _json(identity: ExchangeIdentity, status: int, body: bytes) -> Reply:
    headers = exchange_headers(identity, content_type="application/json; charset=utf-8")
    return Reply(Response(status, headers, body), route="autodiscover.json")
