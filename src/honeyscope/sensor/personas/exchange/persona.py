"""The Exchange persona: exploit-chain handlers first, then the ordinary front-end routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from honeyscope.sensor.http.parser import ErrorKind, RawRequest
from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains import CHAIN_HANDLERS
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity
from honeyscope.sensor.personas.exchange.routes import route
from honeyscope.sensor.personas.exchange.settings import ExchangeSettings
from honeyscope.sensor.personas.iis import httpsys_reject, iis_error


class ExchangePersona:
    """A Microsoft Exchange 2013/2016/2019 front end on IIS."""

    name = "exchange"
    #: Exchange 2013–2019 run on Windows Server 2012 R2–2019, whose SChannel stops at TLS 1.2.
    tls_maximum_version = "1.2"

    def __init__(self, settings: ExchangeSettings | None = None) -> None:
        self.settings = settings or ExchangeSettings()
        self.identity = ExchangeIdentity(self.settings)

    def handle(self, request: PersonaRequest) -> Reply:
        for handler in CHAIN_HANDLERS:
            reply = handler(request, self.identity)
            if reply is not None:
                return reply
        return route(request, self.identity)

    def reject(self, request: RawRequest) -> Response:
        if request.error == ErrorKind.BODY_TOO_LARGE:
            return _request_filtering_404_13(self.identity)
        return httpsys_reject(request)

    def certificate_names(self) -> tuple[str, list[str]]:
        return self.identity.certificate_names()

    def internal_error(self) -> Response:
        response = iis_error(500, self.identity.server_header)
        response.close = True
        return response


def _request_filtering_404_13(identity: ExchangeIdentity) -> Response:
    """IIS request filtering refuses an oversized body with 404.13 before reading it."""
    body = (
        b"<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head><body>"
        b"<h2>404 - File or directory not found.</h2><h3>The request filtering module is configured to deny "
        b"a request that exceeds the request content length.</h3></body></html>"
    )
    headers = [("Content-Type", "text/html"), ("Server", identity.server_header), ("X-Powered-By", "ASP.NET")]
    return Response(404, headers, body, close=True)


def build_persona(options: Mapping[str, Any]) -> ExchangePersona:
    """Entry point used by the persona registry: validate ``[personas.exchange]`` and build."""
    settings = msgspec.convert(dict(options), ExchangeSettings)
    return ExchangePersona(settings)
