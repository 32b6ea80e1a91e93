"""CVE-2020-0688: ECP signs ViewState with the same static validationKey on every installation
(exchange-facts.md B.8). ``/ecp/default.aspx`` shows a ViewState really signed with that key, so
checkers that recompute the HMAC (MSF check()) judge the decoy vulnerable; a GET carrying
``__VIEWSTATE`` is the exploit: its payload is recorded (base64-decoded only) and the answer is the
500 the real server gives after deserialising."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import Artifact, PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains._common import chain_state, make_reply
from honeyscope.sensor.personas.exchange.headers import exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

#: The machineKey validationKey shipped identically with Exchange before the fix.
VALIDATION_KEY = bytes.fromhex("CB2721ABDAF8E9DC516D621D8B8BF13A2C9E8689A25303BF")
GENERATOR = "B97B4E27"
_CVE = "CVE-2020-0688"
_SESSION = re.compile(r"^[\w-]{1,64}$")


def sign(viewstate: bytes, generator: str, session_id: str) -> bytes:
    """HMAC-SHA1 over the ViewState, the generator's bytes reversed and the UTF-16LE session id."""
    modifier = bytes.fromhex(generator)[::-1] + session_id.encode("utf-16-le")
    return hmac.new(VALIDATION_KEY, viewstate + modifier, hashlib.sha1).digest()


def handle(request: PersonaRequest, identity: ExchangeIdentity) -> Reply | None:
    """Claim GETs of ``/ecp/default.aspx``."""
    if request.path.lower() != "/ecp/default.aspx" or request.method not in ("GET", "HEAD"):
        return None
    params = {name.lower(): value for name, value in request.query_params()}
    session_id = _session_id(request, identity)
    if "__viewstate" in params:
        return _exploit(request, identity, params, session_id)
    return _page(request, identity, session_id)


def _session_id(request: PersonaRequest, identity: ExchangeIdentity) -> str:
    offered = request.cookies.get("ASP.NET_SessionId", "")
    if _SESSION.match(offered):
        return offered
    state = chain_state(request, "cve_2020_0688")
    session = state.setdefault("session", identity.stable_guid(f"ecp-viewstate/{request.source_ip}"))
    return str(session)


def _viewstate(identity: ExchangeIdentity, session_id: str) -> str:
    """A LosFormatter-looking page state, signed as ECP signs it."""
    body = b"\xff\x01\x0f\x0f\x05\x0a" + identity.stable_guid("viewstate").encode()[:10] + b"dd"
    return base64.b64encode(body + sign(body, GENERATOR, session_id)).decode()


def _page(request: PersonaRequest, identity: ExchangeIdentity, session_id: str) -> Reply:
    page = (
        '<!DOCTYPE html>\r\n<html>\r\n<head>\r\n<meta http-equiv="X-UA-Compatible" content="IE=10" />\r\n'
        "<title>Exchange admin center</title>\r\n</head>\r\n<body>\r\n"
        '<form method="post" action="./default.aspx" id="aspnetForm">\r\n<div class="aspNetHidden">\r\n'
        f'<input type="hidden" name="__VIEWSTATE" id="__VIEWSTATE" value="{_viewstate(identity, session_id)}" />\r\n'
        "</div>\r\n<div class=\"aspNetHidden\">\r\n"
        f'<input type="hidden" name="__VIEWSTATEGENERATOR" id="__VIEWSTATEGENERATOR" value="{GENERATOR}" />\r\n'
        "</div>\r\n<div id=\"ecpHeader\">Exchange Control Panel</div>\r\n"
        f'<script type="text/javascript" src="/ecp/{identity.build}/scripts/microsoft.exchange.controlpanel.js">'
        "</script>\r\n</form>\r\n</body>\r\n</html>"
    )
    cookie = f"ASP.NET_SessionId={session_id}; path=/; secure; HttpOnly"
    headers = exchange_headers(identity, cache_control="no-cache, no-store", set_cookies=[cookie])
    return make_reply(Response(200, headers, page.encode(), omit_body=request.method == "HEAD"),
                      "backend.ecp.default", "cve_2020_0688.ecp_page", tags=[_CVE])


def _exploit(request: PersonaRequest, identity: ExchangeIdentity, params: dict[str, str], session_id: str) -> Reply:
    encoded = params["__viewstate"].replace(" ", "+")
    try:
        payload = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        payload = encoded.encode()
    generator = params.get("__viewstategenerator", GENERATOR)
    tags = [_CVE]
    if _mac_valid(payload, generator, session_id):
        tags.append("viewstate.mac_valid")
    artifact = Artifact("payload", "/ecp/default.aspx?__VIEWSTATE", payload)
    body = (b"<html><head><title>Runtime Error</title></head><body><h2>Server Error in '/ecp' Application.</h2>"
            b"<h3>Runtime Error</h3></body></html>")
    headers = exchange_headers(identity)
    return make_reply(Response(500, headers, body), "backend.ecp.default", "cve_2020_0688.viewstate",
                      tags=tags, artifacts=[artifact])


def _mac_valid(payload: bytes, generator: str, session_id: str) -> bool:
    """Whether the attacker signed the payload with the static key (the exploit would have run)."""
    if len(payload) <= 20 or not re.fullmatch(r"[0-9A-Fa-f]{8}", generator):
        return False
    return hmac.compare_digest(sign(payload[:-20], generator, session_id), payload[-20:])
