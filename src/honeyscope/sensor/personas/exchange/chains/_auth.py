"""Credentials on requests to authenticated chains (ProxyNotShell, OWASSRF).

The NTLM handshake itself (type 1 → 401 challenge) is the ordinary routes' job: a handler returns
None for it. A type-3 message or Basic header authenticates this request and, for NTLM, the
connection (clients send later requests on it without an Authorization header)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from honeyscope.sensor.auth.ntlm import NtlmError, message_type, parse_authenticate
from honeyscope.sensor.personas.base import Credential, PersonaRequest

_CONNECTION_KEY = "chains.ntlm_user"


@dataclass(slots=True)
class Authentication:
    """Whether the request is authenticated, and the credentials it presented."""

    authenticated: bool
    credentials: list[Credential] = field(default_factory=list)


def authenticate(request: PersonaRequest) -> Authentication | None:
    """The request's authentication; None while an NTLM handshake is still at its first leg."""
    header = (request.headers.get("authorization") or "").strip()
    scheme, _, blob = header.partition(" ")
    if scheme.lower() == "basic":
        return Authentication(True, _basic(blob))
    if scheme.lower() in ("ntlm", "negotiate") and blob:
        return _ntlm(request, blob.strip())
    return Authentication(bool(request.connection_state.get(_CONNECTION_KEY)))


def _basic(blob: str) -> list[Credential]:
    try:
        user, _, password = base64.b64decode(blob).decode("utf-8", "replace").partition(":")
    except (binascii.Error, ValueError):
        return []
    return [Credential(scheme="basic", username=user, password=password)]


def _ntlm(request: PersonaRequest, blob: str) -> Authentication | None:
    try:
        message = base64.b64decode(blob)
        if message_type(message) != 3:
            return None
        authenticate_message = parse_authenticate(message)
    except (binascii.Error, ValueError, NtlmError):
        return Authentication(False)
    if authenticate_message is None or authenticate_message.anonymous:
        return Authentication(False)
    request.connection_state[_CONNECTION_KEY] = authenticate_message.user
    credential = Credential(scheme="ntlm", username=authenticate_message.user,
                            domain=authenticate_message.domain or None,
                            workstation=authenticate_message.workstation or None)
    return Authentication(True, [credential])
