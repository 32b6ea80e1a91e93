"""Vdirs behind IIS authentication (EWS, MAPI, RPC, OAB, PowerShell, ActiveSync, Autodiscover): their
401s, and the NTLM handshake that discloses the server's names (facts A.1, A.6).

Which schemes each vdir offers follows Exchange's defaults (facts A.1 "Per-vdir auth defaults");
the exact sets of /PowerShell, /mapi, /rpc and ActiveSync are not verified (facts E.2) [?].
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Final

from honeyscope.sensor.auth.ntlm import NtlmAuthenticate, NtlmNegotiate, NtlmTarget, build_challenge, server_challenge
from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import Credential, PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.headers import exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity
from honeyscope.sensor.personas.exchange.routes.common import host_name

#: Key in ``PersonaRequest.connection_state``: the challenge we issued (hex), for cracking analysis later.
CHALLENGE_STATE_KEY: Final = "ntlm_challenge"


@dataclass(frozen=True, slots=True)
class ProtectedVdir:
    """A vdir that requires IIS authentication; ``schemes`` in the order its 401 lists them."""

    route: str
    schemes: tuple[str, ...]


#: First path segment (lower-case) → vdir.
VDIRS: Final[dict[str, ProtectedVdir]] = {
    "autodiscover": ProtectedVdir("autodiscover.unauthorized", ("Negotiate", "NTLM", "Basic")),
    "ews": ProtectedVdir("ews.unauthorized", ("Negotiate", "NTLM")),
    "mapi": ProtectedVdir("mapi.unauthorized", ("Negotiate", "NTLM")),
    "rpc": ProtectedVdir("rpc.unauthorized", ("Negotiate", "NTLM", "Basic")),
    "oab": ProtectedVdir("oab.unauthorized", ("Negotiate", "NTLM")),
    # Kerberos-only Windows authentication on the front end's PowerShell vdir [?].
    "powershell": ProtectedVdir("powershell.unauthorized", ("Negotiate",)),
    "microsoft-server-activesync": ProtectedVdir("activesync.unauthorized", ("Basic",)),
}
#: What a path outside those vdirs answers once it has taken part in an NTLM handshake.
OTHER: Final = ProtectedVdir("iis.unauthorized", ("Negotiate", "NTLM"))


def ntlm_target(identity: ExchangeIdentity) -> NtlmTarget:
    """The names this server's NTLM challenge discloses (consistent with every other header)."""
    return NtlmTarget(
        netbios_domain=identity.netbios_domain,
        netbios_name=identity.netbios_name,
        dns_domain=identity.ad_domain,
        dns_computer_name=identity.dns_computer_name,
        dns_tree=identity.ad_domain,
        windows_version=identity.windows_version,
    )


def _headers(identity: ExchangeIdentity, www_authenticate: list[str]) -> list[tuple[str, str]]:
    # The order of a real autodiscover 401 (facts A.1): no body, no Content-Type, X-OWA-Version present.
    return exchange_headers(
        identity, content_type=None, backend=False, www_authenticate=www_authenticate,
        extra=(("X-CalculatedBETarget", identity.backend_fqdn), ("X-OWA-Version", identity.build)),
    )


def unauthorized(
    request: PersonaRequest, identity: ExchangeIdentity, vdir: ProtectedVdir,
    credentials: list[Credential] | None = None,
) -> Reply:
    """401 listing the vdir's schemes (IIS's default Basic realm is the requested host name)."""
    offers = [f'Basic realm="{host_name(request, identity)}"' if s == "Basic" else s for s in vdir.schemes]
    response = Response(401, _headers(identity, offers), b"")
    return Reply(response, route=vdir.route, credentials=list(credentials or []), reusable=not credentials)


def challenge(
    request: PersonaRequest, identity: ExchangeIdentity, scheme: str, negotiate: NtlmNegotiate, route: str,
) -> Reply:
    """401 carrying only ``WWW-Authenticate: <scheme> <type-2>``, as IIS answers a type-1 message."""
    nonce = server_challenge()
    request.connection_state[CHALLENGE_STATE_KEY] = nonce.hex()
    message = build_challenge(ntlm_target(identity), negotiate.flags, request.now, nonce)
    offer = f"{scheme} {base64.b64encode(message).decode('ascii')}"
    tags = ["ntlm.challenge"]
    return Reply(Response(401, _headers(identity, [offer]), b""), route=route, tags=tags)


def ntlm_credential(message: NtlmAuthenticate) -> Credential | None:
    """The credential a type-3 message presents, as the sensor's recorder also derives it."""
    if message.anonymous:
        return None
    return Credential(scheme="ntlm", username=message.user, domain=message.domain or None,
                      workstation=message.workstation or None)
