"""ECP on the back end, reached through ProxyLogon SSRF (exchange-facts.md B.3 steps 4-8).

``proxyLogon.ecp`` answers 241 with ``ASP.NET_SessionId`` and ``msExchEcpCanary`` (A.4 formats);
``about.aspx`` shows the logon user and RBAC roles; ``DDI/DDIService.svc`` lists and sets the OAB
virtual directory, and ``ResetOABVirtualDirectory`` writes its dump to ``FilePathName`` (CVE-2021-27065).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import Artifact, PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains import webshell
from honeyscope.sensor.personas.exchange.chains._common import (
    body_text,
    bounded_put,
    callback_hosts,
    chain_state,
    make_reply,
)
from honeyscope.sensor.personas.exchange.headers import exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

STATE_KEY = "ecp"
_SID_IN_LOGON = re.compile(r"<s>\s*(S-1-[0-9-]+)\s*</s>", re.IGNORECASE)
_LOGON_NAME = re.compile(r'\bln="([^"]*)"')
_DDI_METHOD = re.compile(r"/ecp/ddi/ddiservice\.svc/(\w+)", re.IGNORECASE)
_OAB_NAME = "OAB (Default Web Site)"
_CVE_AUTH_BYPASS = "CVE-2021-26855"
_CVE_FILE_WRITE = "CVE-2021-27065"


def _new_session(request: PersonaRequest, identity: ExchangeIdentity, sid: str) -> tuple[str, str]:
    """A session id (GUID) and canary (75 URL-safe base64 characters and a dot), stable per input."""
    sessions = chain_state(request, STATE_KEY).setdefault("sessions", {})
    seed = f"{request.source_ip}/{sid}/{len(sessions)}"
    session_id = identity.stable_guid(f"ecp-session/{seed}")
    digest = hashlib.sha512(f"{identity.settings.seed}/canary/{seed}".encode()).digest()[:56]
    canary = base64.urlsafe_b64encode(digest).decode().rstrip("=") + "."
    bounded_put(sessions, canary, {"session": session_id, "sid": sid})
    return session_id, canary


def proxy_logon(request: PersonaRequest, identity: ExchangeIdentity, backend: str) -> Reply:
    """``/ecp/proxyLogon.ecp``: 241 and the ECP session cookies for the SID in the body."""
    text = body_text(request)
    match = _SID_IN_LOGON.search(text) or _SID_IN_LOGON.search(request.headers.get("msExchLogonMailbox") or "")
    headers = exchange_headers(identity, backend_target=backend)
    if match is None:
        return make_reply(Response(400, headers, b""), "backend.ecp.proxylogon", "proxylogon.ecp_logon_failed")
    session_id, canary = _new_session(request, identity, match.group(1))
    cookies = [f"ASP.NET_SessionId={session_id}; path=/; secure; HttpOnly", f"msExchEcpCanary={canary}; path=/ecp"]
    headers = exchange_headers(identity, content_type=None, backend_target=backend, set_cookies=cookies)
    logon_name = _LOGON_NAME.search(text)
    tags = [_CVE_AUTH_BYPASS] + ([f"ln={logon_name.group(1)}"] if logon_name and logon_name.group(1) else [])
    return make_reply(Response(241, headers, b""), "backend.ecp.proxylogon", "proxylogon.ecp_logon", tags=tags)


def _session(request: PersonaRequest, canary: str | None) -> dict[str, Any] | None:
    """The ECP session a canary (query or cookie) belongs to, if this attacker was given it."""
    sessions = chain_state(request, STATE_KEY).get("sessions", {})
    for candidate in (canary, request.cookies.get("msExchEcpCanary")):
        if candidate and candidate in sessions:
            return dict(sessions[candidate])
    return None


def about(request: PersonaRequest, identity: ExchangeIdentity, backend: str) -> Reply:
    """``/ecp/about.aspx``: the diagnostics page HAU/Zeop read the logon user and roles from."""
    session = _session(request, None)
    user = "Administrator" if session is None or str(session["sid"]).endswith("-500") else "Unknown"
    rows = [
        ("Logon user", f"{identity.netbios_domain}\\{user}"),
        ("RBAC roles", "Organization Management, Recipient Management, View-Only Organization Management"),
        ("Server", identity.backend_fqdn), ("Version", f"Version {identity.build}"),
        ("Request ID", identity.stable_guid(f"about/{request.source_ip}")),
    ]
    items = "".join(
        f"<div class='diagRow'><span class='diagLbl'>{label}:</span> <span class='diagTxt'>{value}</span></div>\r\n"
        for label, value in rows
    )
    page = (
        "<!DOCTYPE html>\r\n<html>\r\n<head><title>About</title></head>\r\n<body class='diagBody'>\r\n"
        f"<div class='diagHeader'>Microsoft Exchange Server</div>\r\n{items}</body>\r\n</html>"
    )
    headers = exchange_headers(identity, backend_target=backend)
    return make_reply(Response(200, headers, page.encode()), "backend.ecp.about", "proxylogon.ecp_about")


# -- DDI ---------------------------------------------------------------------------------------------


def ddi(request: PersonaRequest, identity: ExchangeIdentity, backend: str, path: str, query: str) -> Reply:
    """``/ecp/DDI/DDIService.svc/<Method>?schema=...``: OAB virtual directory read and write."""
    params = {name.lower(): value for name, value in parse_qsl(query, keep_blank_values=True)}
    found = _DDI_METHOD.search(path)
    method = found.group(1) if found else ""
    schema = params.get("schema", "").lower()
    if _session(request, params.get("msexchecpcanary")) is None:
        return _ddi_denied(identity, backend)
    if method.lower() == "getlist":
        return _json_reply(identity, backend, _get_list(request, identity, body_text(request)), "oab_getlist")
    if method.lower() == "getobject":
        return _json_reply(identity, backend, _results("Get-OabVirtualDirectory", [_oab(request, identity)]),
                           "oab_getobject")
    if method.lower() == "setobject" and schema == "resetoabvirtualdirectory":
        return _reset_oab(request, identity, backend)
    if method.lower() == "setobject":
        return _set_oab(request, identity, backend)
    return _json_reply(identity, backend, _results(f"{method}", []), "ddi_other")


def _ddi_denied(identity: ExchangeIdentity, backend: str) -> Reply:
    """No valid canary: ECP refuses the call as a CSRF failure."""
    body = b'{"Message":"The request failed because the canary is invalid.","ExceptionType":"System.Exception"}'
    headers = exchange_headers(identity, content_type="application/json; charset=utf-8", backend_target=backend)
    return make_reply(Response(500, headers, body), "backend.ecp.ddi", "proxylogon.ddi_denied")


def _json_reply(identity: ExchangeIdentity, backend: str, payload: dict[str, Any], step: str,
                *, artifacts: list[Artifact] | None = None, callbacks: list[str] | None = None,
                tags: list[str] | None = None) -> Reply:
    headers = exchange_headers(identity, content_type="application/json; charset=utf-8", backend_target=backend)
    body = json.dumps(payload, separators=(",", ":")).encode()
    return make_reply(Response(200, headers, body), "backend.ecp.ddi", f"proxylogon.{step}",
                      artifacts=artifacts, callbacks=callbacks, tags=tags)


def _results(cmdlet: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    """The DDI result envelope (ErrorRecords is omitted when empty; nuclei treats it as failure)."""
    return {"d": {"__type": "PowerShellResults:ECP", "Cmdlets": [cmdlet], "Informations": [],
                  "IsDDIEnabled": True, "Warnings": [], "Output": output}}


def _identity_of(identity: ExchangeIdentity, vdir: str) -> dict[str, str]:
    name = f"{vdir} (Default Web Site)"
    return {"__type": "Identity:ECP", "DisplayName": name, "RawIdentity": identity.stable_guid(f"vdir/{vdir}")}


def _oab(request: PersonaRequest, identity: ExchangeIdentity) -> dict[str, Any]:
    oab = chain_state(request, STATE_KEY).get("oab", {})
    return {
        "__type": "OABVirtualDirectory:ECP", "Caption": _OAB_NAME, "Identity": _identity_of(identity, "OAB"),
        "Name": _OAB_NAME, "Server": identity.netbios_name, "WebSite": "Default Web Site",
        "InternalUrl": oab.get("InternalUrl", f"https://{identity.backend_fqdn}/OAB"),
        "ExternalUrl": oab.get("ExternalUrl"), "PollInterval": 480, "RequireSSL": True,
        "BasicAuthentication": False, "WindowsAuthentication": True, "OAuthAuthentication": False,
    }


def _get_list(request: PersonaRequest, identity: ExchangeIdentity, body: str) -> dict[str, Any]:
    """VirtualDirectory rows; a ``SelectedVDirType`` of OAB narrows the list to the OAB vdir."""
    rows = [_oab(request, identity)]
    if '"OAB"' not in body:
        for vdir in ("owa", "ecp", "EWS", "Microsoft-Server-ActiveSync", "Autodiscover", "PowerShell", "mapi"):
            rows.append({"__type": "VirtualDirectoryRow:ECP", "Caption": f"{vdir} (Default Web Site)",
                         "Identity": _identity_of(identity, vdir), "Name": f"{vdir} (Default Web Site)",
                         "Server": identity.netbios_name, "WebSite": "Default Web Site"})
    return _results("Get-VirtualDirectory", rows)


def _parameters(request: PersonaRequest) -> dict[str, Any]:
    """``properties.Parameters`` of a SetObject body (plain JSON data, never bound to types)."""
    try:
        document = json.loads(request.body.decode("utf-8", "replace"))
    except ValueError:
        return {}
    properties = document.get("properties") if isinstance(document, dict) else None
    parameters = properties.get("Parameters") if isinstance(properties, dict) else None
    return parameters if isinstance(parameters, dict) else {}


def _set_oab(request: PersonaRequest, identity: ExchangeIdentity, backend: str) -> Reply:
    """Set-OabVirtualDirectory: a URL carrying ``<script`` is the web shell about to be written."""
    parameters = _parameters(request)
    oab = chain_state(request, STATE_KEY).setdefault("oab", {})
    artifacts: list[Artifact] = []
    callbacks: list[str] = []
    for name in ("ExternalUrl", "InternalUrl"):
        if name not in parameters:
            continue
        value = parameters[name]
        oab[name] = str(value)[:4096] if value else None
        if value and "<script" in str(value).lower():
            artifacts.append(Artifact("webshell", f"OABVirtualDirectory.{name}", str(value).encode()))
        if value:
            callbacks += callback_hosts(urlsplit(str(value)).hostname or "", identity)
    step = "oab_setobject_externalurl" if any(parameters.get(n) for n in ("ExternalUrl", "InternalUrl")) \
        else "oab_setobject_cleanup"
    tags = [_CVE_FILE_WRITE] if artifacts else []
    return _json_reply(identity, backend, _results("Set-OabVirtualDirectory", [_oab(request, identity)]), step,
                       artifacts=artifacts, callbacks=callbacks, tags=tags)


def _reset_oab(request: PersonaRequest, identity: ExchangeIdentity, backend: str) -> Reply:
    """Reset-OabVirtualDirectory: the dump (with the attacker's URL) lands at ``FilePathName``."""
    target = str(_parameters(request).get("FilePathName") or "")
    oab = chain_state(request, STATE_KEY).get("oab", {})
    external = str(oab.get("ExternalUrl") or "")
    artifacts = []
    if target:
        content = webshell.oab_dump(identity, external, oab.get("InternalUrl"))
        artifacts.append(Artifact("webshell", target, content.encode("utf-8", "replace")))
        webshell.write_shell(request, target, "oab", external_url=external,
                             internal_url=str(oab.get("InternalUrl") or f"https://{identity.backend_fqdn}/OAB"))
    return _json_reply(identity, backend, _results("Reset-OabVirtualDirectory", []), "oab_reset_write",
                       artifacts=artifacts, tags=[_CVE_FILE_WRITE])
