"""ProxyNotShell (CVE-2022-41040 SSRF + CVE-2022-41082 PSRP deserialisation; authenticated),
exchange-facts.md B.7.

Recognised forms: credentials on an ``autodiscover.json`` explicit-logon URL; the IBM037-encoded query
(``X-Up-Devcap-Post-Charset: IBM037``, decoded with cp037); ``/autodiscover/admin@localhost/powershell/
autodiscover.json?x=a``; and nuclei's ``Protocol=XYZ&FooProtocol=Powershell`` check. Unauthenticated
PowerShell requests are left to the ordinary routes (401, NTLM challenge), as the real server does.
"""

from __future__ import annotations

from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains import proxyshell
from honeyscope.sensor.personas.exchange.chains._auth import authenticate
from honeyscope.sensor.personas.exchange.chains.ssrf import ExplicitLogonSsrf
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

_CVE = "CVE-2022-41040"


def handle(request: PersonaRequest, identity: ExchangeIdentity) -> Reply | None:
    """Claim the ProxyNotShell forms; hand plain ProxyShell requests on."""
    ssrf = proxyshell.parse(request)
    if ssrf is None or not _is_proxynotshell(request, ssrf):
        return None
    auth = authenticate(request)
    if auth is None:
        return None
    reply = proxyshell.dispatch(request, identity, ssrf, "proxynotshell", authenticated=auth.authenticated)
    if reply is None:
        return None
    reply.tags.insert(0, _CVE)
    if ssrf.ebcdic:
        reply.tags.append("ibm037")
    reply.credentials.extend(auth.credentials)
    return reply


def _is_proxynotshell(request: PersonaRequest, ssrf: ExplicitLogonSsrf) -> bool:
    query = request.query.lower()
    return (
        ssrf.ebcdic
        or "authorization" in request.headers
        or "fooprotocol=" in query
        or not request.path.lower().startswith("/autodiscover/autodiscover.json")
        or bool(request.connection_state.get("chains.ntlm_user"))
    )
