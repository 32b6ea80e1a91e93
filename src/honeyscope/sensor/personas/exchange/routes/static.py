"""Static files IIS serves itself: OWA theme resources, favicons, the root redirect, ``aspnet_client``."""

from __future__ import annotations

from typing import Final

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.assets import FAVICON, THEME_RESOURCES, Asset, data_bytes, static_validators
from honeyscope.sensor.personas.exchange.headers import iis_static_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity
from honeyscope.sensor.personas.exchange.routes.common import NO_CACHE, absolute_url, directory_redirect
from honeyscope.sensor.personas.exchange.routes.errors import forbidden, method_not_allowed, not_found
from honeyscope.sensor.personas.iis import STATIC_VERBS

_READ_VERBS: Final = frozenset({"GET", "HEAD"})


def serve(request: PersonaRequest, identity: ExchangeIdentity, asset: Asset, route: str) -> Reply:
    """A static file with IIS's validators; other verbs get the static handler's 405 (OPTIONS: 200)."""
    if request.method == "OPTIONS":
        return options(identity)
    if request.method not in _READ_VERBS:
        return method_not_allowed(identity)
    etag, last_modified = static_validators(identity)
    headers = iis_static_headers(identity, asset.content_type, etag=etag, last_modified=last_modified)
    return Reply(Response(200, headers, data_bytes(asset.data_name)), route=route, reusable=True)


def options(identity: ExchangeIdentity) -> Reply:
    """IIS's OPTIONS answer (ProtocolSupportModule)."""
    verbs = ", ".join(("OPTIONS", "TRACE", "GET", "HEAD", "POST"))
    headers = [("Allow", verbs), ("Server", identity.server_header), ("Public", verbs),
               ("X-Powered-By", "ASP.NET")]
    return Reply(Response(200, headers, b""), route="iis.options")


def owa_file(request: PersonaRequest, identity: ExchangeIdentity, path: str) -> Reply | None:
    """``/owa/auth/<build3>/themes/resources/<file>`` and ``/owa/favicon.ico``; None if no such file.

    Only the installed build's folder exists, so the folder name confirms the build as on a real server.
    """
    if path == "/owa/favicon.ico":
        return serve(request, identity, FAVICON, "static.favicon")
    prefix = f"/owa/auth/{identity.build3}/themes/resources/"
    asset = THEME_RESOURCES.get(path.removeprefix(prefix)) if path.startswith(prefix) else None
    return serve(request, identity, asset, "static.owa_resource") if asset else None


def favicon(request: PersonaRequest, identity: ExchangeIdentity) -> Reply:
    """``/favicon.ico`` at the site root."""
    return serve(request, identity, FAVICON, "static.favicon")


def root(request: PersonaRequest, identity: ExchangeIdentity) -> Reply:
    """``/``: the site's HTTP redirect to ``https://<Host>/owa/`` (facts A.1; Tsunami's isExchange needs
    it). Real servers often answer 403 on port 80 (SSL required); we redirect on both ports so that a
    plain-HTTP deployment still leads tools to OWA."""
    headers = [("Cache-Control", NO_CACHE), ("Pragma", NO_CACHE), ("Location", absolute_url(request, "/owa/")),
               ("Server", identity.server_header), ("X-FEServer", identity.netbios_name)]
    return Reply(Response(302, headers, b"", reason="Moved Temporarily"), route="root.redirect")


def aspnet_client(request: PersonaRequest, identity: ExchangeIdentity, path: str) -> Reply:
    """``/aspnet_client``: an empty IIS folder tree; its directories are 403 (no listing), files 404."""
    if path == "/aspnet_client":
        return directory_redirect(request, identity, "/aspnet_client/")
    if path in ("/aspnet_client/", "/aspnet_client/system_web/"):
        if request.method not in STATIC_VERBS:
            return method_not_allowed(identity)
        return forbidden(identity)
    return not_found(identity)
