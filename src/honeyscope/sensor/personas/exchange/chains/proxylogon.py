"""ProxyLogon (CVE-2021-26855 → CVE-2021-27065): SSRF through the ``X-BEResource`` /
``X-AnonResource-Backend`` cookie on a static-resource URL (exchange-facts.md B.1-B.3).

A cookie naming any host other than this server's back end fails the way the real front end fails:
500 with ``NegotiateSecurityContext failed with for host '<host>' with status 'TargetUnknown'`` and
``X-CalculatedBETarget: <host>`` — which is exactly what every public checker calls vulnerable (B.2).
Out-of-band hosts (interactsh, Tsunami) are recorded as callbacks, never contacted.
A cookie naming the back end reaches the emulated back-end endpoints of the chain.
"""

from __future__ import annotations

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains import autodiscover_ssrf, ecp, mapi
from honeyscope.sensor.personas.exchange.chains._common import (
    body_text,
    callback_hosts,
    is_own_name,
    make_reply,
)
from honeyscope.sensor.personas.exchange.chains.ssrf import BackendTarget, backend_cookie, is_static_resource
from honeyscope.sensor.personas.exchange.headers import exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

_CVE = "CVE-2021-26855"


def handle(request: PersonaRequest, identity: ExchangeIdentity) -> Reply | None:
    """Claim requests whose routing cookie the front end would follow."""
    if not is_static_resource(request.path):  # checked first: parsing cookies costs more
        return None
    target = backend_cookie(request.cookies, request.path)
    if target is None:
        return None
    if not is_own_name(target.host, identity):
        return _kerberos_failure(target, identity)
    return _backend(request, identity, target)


def _kerberos_failure(target: BackendTarget, identity: ExchangeIdentity) -> Reply:
    """The front end cannot get a Kerberos ticket for a host that is not an Exchange server."""
    body = f"NegotiateSecurityContext failed with for host '{target.host}' with status 'TargetUnknown'".encode()
    headers = exchange_headers(identity, backend=False, extra=[("X-CalculatedBETarget", target.host)])
    return make_reply(Response(500, headers, body), "frontend.beresource", "proxylogon.ssrf_probe",
                      tags=[_CVE], callbacks=callback_hosts(target.host, identity))


def _backend(request: PersonaRequest, identity: ExchangeIdentity, target: BackendTarget) -> Reply:
    """Dispatch on the back-end path the cookie selected."""
    path = target.path.lower()
    backend = identity.backend_fqdn
    if path.startswith("/autodiscover/autodiscover.xml"):
        return _autodiscover(request, identity)
    if path.startswith("/mapi/emsmdb"):
        return mapi.emsmdb_reply(request, identity, "proxylogon.sid_leak", _CVE)
    if path.startswith("/ecp/proxylogon.ecp"):
        return ecp.proxy_logon(request, identity, backend)
    if path.startswith("/ecp/about.aspx"):
        return ecp.about(request, identity, backend)
    if path.startswith("/ecp/ddi/ddiservice.svc/"):
        return ecp.ddi(request, identity, backend, target.path, target.query)
    if path.startswith("/mapi/nspi"):
        response = Response(200, exchange_headers(identity), mapi.status_page(identity, request.now))
        return make_reply(response, "backend.mapi.nspi", "proxylogon.mapi_nspi", tags=[_CVE])
    response = Response(404, exchange_headers(identity), b"<html><body>Not Found</body></html>")
    return make_reply(response, "backend.not_found", "proxylogon.ssrf_backend", tags=[_CVE])


def _autodiscover(request: PersonaRequest, identity: ExchangeIdentity) -> Reply:
    """POX Autodiscover as the back end answers it to the anonymous SSRF."""
    body = autodiscover_ssrf.pox_response(identity, autodiscover_ssrf.requested_email(body_text(request)))
    headers = exchange_headers(identity, content_type="text/xml; charset=utf-8")
    return make_reply(Response(200, headers, body), "backend.autodiscover.pox", "proxylogon.autodiscover",
                      tags=[_CVE])
