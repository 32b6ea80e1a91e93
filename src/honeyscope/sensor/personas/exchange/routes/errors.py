"""Error answers of the Exchange front end: FBA's 440 Login Timeout, IIS's 404/403/405, bad requests."""

from __future__ import annotations

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.assets import data_bytes
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity
from honeyscope.sensor.personas.exchange.routes.common import iis_reply
from honeyscope.sensor.personas.iis import STATIC_VERBS


def login_timeout(request: PersonaRequest, identity: ExchangeIdentity, route: str) -> Reply:
    """FbaModule's answer to an unauthenticated non-GET request (facts A.1: exact bodies; POST gets the
    frame-busting script, other verbs the bare text; the connection is closed)."""
    name = "login_timeout_post.html" if request.method == "POST" else "login_timeout.html"
    headers = [("Content-Type", "text/html"), ("Server", identity.server_header),
               ("X-Powered-By", "ASP.NET"), ("X-FEServer", identity.netbios_name)]
    return Reply(Response(440, headers, data_bytes(name), close=True), route=route)


def not_found(identity: ExchangeIdentity) -> Reply:
    """IIS 404 for a path no vdir or file answers."""
    return iis_reply(identity, 404, "iis.not_found")


def forbidden(identity: ExchangeIdentity) -> Reply:
    """IIS 403 for a directory without a default document (directory browsing is off)."""
    return iis_reply(identity, 403, "iis.forbidden")


def method_not_allowed(identity: ExchangeIdentity) -> Reply:
    """IIS 405 from the static file handler, with the verbs it does accept."""
    return iis_reply(identity, 405, "iis.method_not_allowed", allow=STATIC_VERBS)


def bad_request(identity: ExchangeIdentity, route: str) -> Reply:
    """ASP.NET's 400 when a handler refuses its input (e.g. a sign-in form without its fields)."""
    body = b"<HTML><BODY>400 Bad Request</BODY></HTML>"  # [?] exact body of FbaModule's 400 not verified
    headers = [("Cache-Control", "private"), ("Content-Type", "text/html"), ("Server", identity.server_header),
               ("X-AspNet-Version", "4.0.30319"), ("X-Powered-By", "ASP.NET"),
               ("X-FEServer", identity.netbios_name)]
    return Reply(Response(400, headers, body), route=route)
