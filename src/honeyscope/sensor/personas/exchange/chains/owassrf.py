"""OWASSRF (CVE-2022-41080 + CVE-2022-41082): an authenticated ``POST /owa/<mail>/powershell``
reaches the back-end PowerShell vdir (exchange-facts.md B.7)."""

from __future__ import annotations

import re

from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains import wsman
from honeyscope.sensor.personas.exchange.chains._auth import authenticate
from honeyscope.sensor.personas.exchange.chains._common import make_reply
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

_PATH = re.compile(r"^/owa/[^/]+@[^/]+/powershell/?$", re.IGNORECASE)


def handle(request: PersonaRequest, identity: ExchangeIdentity) -> Reply | None:
    """Claim authenticated WS-Man posts to ``/owa/<address>/powershell``."""
    if request.method != "POST" or not _PATH.match(request.decoded_path):
        return None
    auth = authenticate(request)
    if auth is None or not (auth.authenticated or "cadata" in request.cookies):
        return None
    result = wsman.handle(request, identity)
    reply = make_reply(result.response, "backend.powershell.wsman", f"owassrf.{result.step}",
                       tags=["CVE-2022-41080", *result.tags], artifacts=result.artifacts)
    reply.credentials.extend(auth.credentials)
    return reply
