"""Section A routes of a real Exchange front end: what an unauthenticated client, browser, fingerprinter
or scanner sees (facts: exchange-facts.md A.1–A.7). Exploit-chain handlers run before these.

Route ids (``Reply.route``), documented for users:

| route id | request | status |
|---|---|---|
| ``root.redirect`` | ``/`` | 302 → ``https://<Host>/owa/`` |
| ``iis.directory_redirect`` | ``/owa``, ``/aspnet_client`` | 301 → the directory |
| ``owa.redirect_to_logon`` | ``/owa/…`` without a session (GET, HEAD) | 302 → logon.aspx?url=…&reason=0 |
| ``owa.service`` | ``/owa/service…`` (MSF's X-OWA-Version probe) | 302 → logon.aspx |
| ``owa.login_timeout`` | ``/owa/…`` without a session, other verbs | 440 |
| ``owa.logon_page`` | ``/owa/auth/logon.aspx`` | 200 sign-in page |
| ``owa.auth_owa`` | ``POST /owa/auth.owa``, ``/owa/auth/owaauth.dll`` | 302 → …&reason=2 (400: fields missing) |
| ``owa.error_fe`` | ``/owa/auth/errorFE.aspx`` | 200 error page |
| ``static.owa_resource`` | ``/owa/auth/<build3>/themes/resources/<file>`` | 200 file |
| ``static.favicon`` | ``/favicon.ico``, ``/owa/favicon.ico`` | 200 icon |
| ``ecp.redirect_to_logon`` | ``/ecp``, ``/ecp/…`` without a session (GET, HEAD) | 302 → logon.aspx?url=…%2fecp… |
| ``ecp.login_timeout`` | ``/ecp/…`` without a session, other verbs | 440 |
| ``ecp.exporttool_manifest`` | ``/ecp/{Current,<build>}/exporttool/<manifest>.application`` | 200 |
| ``ecp.exporttool_folder`` | ``/ecp/<build>/exporttool/`` (installed build only) | 200 |
| ``autodiscover.json`` | ``/autodiscover/autodiscover.json?Email=…&Protocol=…`` | 200 (400 for an unknown protocol) |
| ``autodiscover.unauthorized`` | ``/autodiscover/…`` (autodiscover.xml …) | 401 Negotiate, NTLM, Basic |
| ``ews.unauthorized`` | ``/ews``, ``/EWS/Exchange.asmx`` … | 401 Negotiate, NTLM |
| ``mapi.unauthorized`` | ``/mapi``, ``/mapi/nspi/`` … | 401 Negotiate, NTLM |
| ``rpc.unauthorized`` | ``/rpc``, ``/rpc/rpcproxy.dll`` … | 401 Negotiate, NTLM, Basic |
| ``oab.unauthorized`` | ``/oab`` … | 401 Negotiate, NTLM |
| ``powershell.unauthorized`` | ``/PowerShell`` … | 401 Negotiate |
| ``activesync.unauthorized`` | ``/Microsoft-Server-ActiveSync`` … | 401 Basic |
| ``iis.unauthorized`` | an NTLM type-3 on a path outside those vdirs | 401 Negotiate, NTLM |
| ``<vdir>.unauthorized``, ``iis.unauthorized`` | any path with an NTLM type-1 | 401 + type-2 (tag ``ntlm.challenge``) |
| ``iis.forbidden`` | ``/aspnet_client/``, ``/aspnet_client/system_web/`` | 403 |
| ``iis.method_not_allowed`` | a static file with a verb other than GET/HEAD/OPTIONS/TRACE | 405 |
| ``iis.options`` | ``OPTIONS`` on a static file | 200 |
| ``iis.not_found`` | anything else | 404 |

Credentials: a sign-in form is recorded as ``form``; ``Authorization: Basic`` as ``basic`` and an NTLM
type-3 as ``ntlm`` (answered 401: every password is wrong). HEAD gets the GET's headers without a body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from honeyscope.sensor.auth import basic_credentials, ntlm_token
from honeyscope.sensor.auth.ntlm import (
    AUTHENTICATE,
    NEGOTIATE,
    NtlmError,
    message_type,
    parse_authenticate,
    parse_negotiate,
)
from honeyscope.sensor.personas.base import Credential, PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity
from honeyscope.sensor.personas.exchange.routes import auth401, autodiscover, ecp, owa, static
from honeyscope.sensor.personas.exchange.routes.common import normalized_path
from honeyscope.sensor.personas.exchange.routes.errors import not_found

__all__ = ["route"]

Handler = Callable[[PersonaRequest, ExchangeIdentity, str], Reply]

#: First path segment (lower-case) → handler of that vdir.
_VDIR_HANDLERS: Final[dict[str, Handler]] = {
    "owa": owa.handle,
    "ecp": ecp.handle,
    "autodiscover": autodiscover.handle,
    "aspnet_client": static.aspnet_client,
}


def route(request: PersonaRequest, identity: ExchangeIdentity) -> Reply:
    """Answer a request no exploit-chain handler claimed."""
    path = normalized_path(request)
    if "authorization" not in request.headers:  # most requests: nothing to challenge, refuse or record
        reply = _dispatch(request, identity, path)
    else:
        basic = _basic_credential(request)
        reply = _ntlm(request, identity, path) or _basic(request, identity, path, basic) \
            or _dispatch(request, identity, path)
        if basic is not None and basic not in reply.credentials:
            reply.credentials.append(basic)  # sent to an anonymous or FBA URL: recorded, then ignored
    if request.method == "HEAD":
        reply.response.omit_body = True
    return reply


def _segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") and len(path) > 1 else ""


def _protected_vdir(path: str) -> auth401.ProtectedVdir | None:
    return auth401.VDIRS.get(_segment(path))


def _dispatch(request: PersonaRequest, identity: ExchangeIdentity, path: str) -> Reply:
    if path in ("", "/"):
        return static.root(request, identity)
    if path == "/favicon.ico":
        return static.favicon(request, identity)
    segment = _segment(path)
    handler = _VDIR_HANDLERS.get(segment)
    if handler is not None:
        return handler(request, identity, path)
    vdir = auth401.VDIRS.get(segment)
    if vdir is not None:
        return auth401.unauthorized(request, identity, vdir)
    return not_found(identity)


def _basic_credential(request: PersonaRequest) -> Credential | None:
    pair = basic_credentials(request.headers.get("authorization"))
    return Credential(scheme="basic", username=pair[0], password=pair[1]) if pair else None


def _basic(request: PersonaRequest, identity: ExchangeIdentity, path: str, basic: Credential | None) -> Reply | None:
    """A Basic credential on a vdir behind IIS authentication: recorded and refused (wrong password)."""
    vdir = _protected_vdir(path)
    if basic is None or vdir is None or path == "/autodiscover/autodiscover.json":
        return None
    return auth401.unauthorized(request, identity, vdir, [basic])


def _ntlm(request: PersonaRequest, identity: ExchangeIdentity, path: str) -> Reply | None:
    """An NTLM type-1 gets the challenge on any path (deliberately, so that NTLM harvesters such as
    nmap's http-ntlm-info at ``/`` succeed); a type-3 is recorded and refused with 401."""
    token = ntlm_token(request.headers.get("authorization"))
    if token is None:
        return None
    scheme, message = token
    vdir = _protected_vdir(path) or auth401.OTHER
    try:
        kind = message_type(message)
        if kind == NEGOTIATE:
            return auth401.challenge(request, identity, scheme, parse_negotiate(message), vdir.route)
        authenticate = parse_authenticate(message) if kind == AUTHENTICATE else None
    except NtlmError:
        return None  # [?] IIS would refuse a garbled token; we answer as if none was sent
    if authenticate is None:
        return None
    credential = auth401.ntlm_credential(authenticate)
    return auth401.unauthorized(request, identity, vdir, [credential] if credential else [])
