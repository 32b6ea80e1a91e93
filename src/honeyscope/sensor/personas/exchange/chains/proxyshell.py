"""ProxyShell (CVE-2021-34473 SSRF, CVE-2021-34523 X-Rps-CAT, CVE-2021-31207 export write) through
the ``autodiscover.json`` explicit-logon cut (exchange-facts.md B.6, E.1).

The back end is reached as the front end's SYSTEM identity, so: ``/mapi/nspi`` shows the status page;
``/owa/`` fails with OwaADUserNotFoundException (302 to errorFE, type in ``X-OWA-Error``);
``/autodiscover/autodiscover.xml`` and ``/mapi/emsmdb`` leak LegacyDN and SID as in ProxyLogon; EWS
resolves names and saves drafts; ``/PowerShell`` with a forged ``X-Rps-CAT`` speaks WS-Man.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains import autodiscover_ssrf, ews, mapi, wsman
from honeyscope.sensor.personas.exchange.chains._common import body_text, make_reply
from honeyscope.sensor.personas.exchange.chains.ssrf import (
    ExplicitLogonSsrf,
    explicit_logon_ssrf,
    might_be_explicit_logon,
)
from honeyscope.sensor.personas.exchange.headers import exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

_CVE = "CVE-2021-34473"
_OWA_ERROR = "Microsoft.Exchange.Clients.Owa2.Server.Core.OwaADUserNotFoundException"


def handle(request: PersonaRequest, identity: ExchangeIdentity) -> Reply | None:
    """Claim unauthenticated ``autodiscover.json`` requests whose Email cut reaches the back end."""
    ssrf = parse(request)
    if ssrf is None:
        return None
    return dispatch(request, identity, ssrf, "proxyshell", authenticated=False)


def parse(request: PersonaRequest) -> ExplicitLogonSsrf | None:
    """The explicit-logon SSRF of this request, if any."""
    if not might_be_explicit_logon(request.decoded_path):  # the common case, before any parsing
        return None
    charset = request.headers.get("X-Up-Devcap-Post-Charset")
    return explicit_logon_ssrf(request.path, request.query, request.cookies, charset)


def dispatch(request: PersonaRequest, identity: ExchangeIdentity, ssrf: ExplicitLogonSsrf, chain: str,
             *, authenticated: bool) -> Reply | None:
    """Answer as the back-end endpoint ``ssrf.path`` names (shared with ProxyNotShell)."""
    path = ssrf.path.lower()
    if path.startswith("/powershell"):
        return _powershell(request, identity, ssrf, chain, authenticated)
    if path.startswith("/mapi/nspi"):
        body = mapi.status_page(identity, request.now)
        return make_reply(Response(200, exchange_headers(identity), body), "backend.mapi.nspi",
                          f"{chain}.mapi_nspi", tags=[_CVE])
    if path.startswith("/owa"):
        return _owa_user_not_found(identity, chain)
    if path.startswith("/autodiscover/autodiscover.xml"):
        email = autodiscover_ssrf.requested_email(body_text(request))
        headers = exchange_headers(identity, content_type="text/xml; charset=utf-8")
        response = Response(200, headers, autodiscover_ssrf.pox_response(identity, email))
        return make_reply(response, "backend.autodiscover.pox", f"{chain}.autodiscover", tags=[_CVE])
    if path.startswith("/mapi/emsmdb"):
        return mapi.emsmdb_reply(request, identity, f"{chain}.sid_leak", _CVE)
    if path.startswith("/ews/exchange.asmx"):
        return _ews(request, identity, chain)
    response = Response(404, exchange_headers(identity), b"<html><body>Not Found</body></html>")
    return make_reply(response, "backend.not_found", f"{chain}.ssrf", tags=[_CVE])


def _owa_user_not_found(identity: ExchangeIdentity, chain: str) -> Reply:
    """OWA as SYSTEM has no mailbox: the front end redirects to its error page (GOS wants the 302,
    nuclei the exception type, which the error page carries)."""
    location = f"/owa/auth/errorFE.aspx?httpCode=500&exceptionType={_OWA_ERROR}"
    body = (f'<html><head><title>Object moved</title></head><body>\r\n<h2>Object moved to <a href="{location}">'
            "here</a>.</h2>\r\n</body></html>\r\n").encode()
    extra = [("Location", location), ("X-OWA-Error", _OWA_ERROR)]
    headers = exchange_headers(identity, owa_version=True, extra=extra)
    return make_reply(Response(302, headers, body), "backend.owa.error", f"{chain}.ssrf", tags=[_CVE])


def _ews(request: PersonaRequest, identity: ExchangeIdentity, chain: str) -> Reply:
    operation = ews.operation(body_text(request))
    headers = exchange_headers(identity, content_type="text/xml; charset=utf-8")
    if operation == "resolvenames":
        response = Response(200, headers, ews.resolve_names(request, identity))
        return make_reply(response, "backend.ews", f"{chain}.ews_resolvenames", tags=[_CVE])
    if operation == "createitem":
        body, artifacts = ews.create_item(request, identity)
        return make_reply(Response(200, headers, body), "backend.ews", f"{chain}.ews_createitem",
                          tags=[_CVE, "CVE-2021-31207"], artifacts=artifacts)
    empty = ews.envelope(identity, "")
    return make_reply(Response(200, headers, empty), "backend.ews", f"{chain}.ews_other", tags=[_CVE])


def common_access_token(query: str) -> tuple[str, str] | None:
    """(logon name, SID) of an ``X-Rps-CAT`` token, read field by field as text; None if absent."""
    token = next((v for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() == "x-rps-cat"), None)
    if not token:
        return None
    try:
        raw = base64.b64decode(token.replace(" ", "+") + "==")
    except (binascii.Error, ValueError):
        return ("", "")
    fields: dict[str, str] = {}
    offset = 0
    while offset + 2 <= len(raw) and chr(raw[offset]) in "VTCALU":
        tag = chr(raw[offset])
        size = {"V": 2, "C": 1}.get(tag, raw[offset + 1] + 1)
        start = offset + (1 if tag in "VC" else 2)
        fields[tag] = raw[start:offset + 1 + size].decode("latin-1")
        offset += 1 + size
    return fields.get("L", ""), fields.get("U", "")


def _powershell(request: PersonaRequest, identity: ExchangeIdentity, ssrf: ExplicitLogonSsrf, chain: str,
                authenticated: bool) -> Reply | None:
    """The back-end PowerShell vdir: needs a CommonAccessToken (or real credentials) to accept."""
    token = common_access_token(ssrf.query)
    if token is None and not authenticated:
        return None
    tags = ["CVE-2021-34523"] if token is not None else []
    tags += [f"cat.user={token[0]}", f"cat.sid={token[1]}"] if token else []
    if request.method != "POST" or not request.body:
        response = Response(200, exchange_headers(identity, content_type=None), b"")
        return make_reply(response, "backend.powershell", f"{chain}.powershell", tags=[_CVE, *tags])
    result = wsman.handle(request, identity)
    return make_reply(result.response, "backend.powershell.wsman", f"{chain}.{result.step}",
                      tags=[_CVE, *tags, *result.tags], artifacts=result.artifacts)
