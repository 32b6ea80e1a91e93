"""MAPI/HTTP as reached through SSRF: the status page (exchange-facts.md A.3) and the emsmdb Connect
that leaks a mailbox SID in a LoginPermException (B.3 step 3)."""

from __future__ import annotations

import struct
from datetime import datetime

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains._common import dotnet_now, make_reply
from honeyscope.sensor.personas.exchange.headers import exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

#: What the front end's SYSTEM Kerberos identity looks like to the back end (ProxyShell SSRF).
SYSTEM_USER = ("NT AUTHORITY\\SYSTEM", "", "S-1-5-18", "", "Kerberos")

#: ecLoginPerm: the Connect failed because the caller cannot log on as the mailbox owner.
_EC_LOGIN_PERM = 0x3F2


def status_page(identity: ExchangeIdentity, now: datetime, vdir: str = "/mapi/nspi/") -> bytes:
    """The connectivity status page, line for line as MapiHttpStatusPage writes it."""
    name, upn, sid, org, auth = SYSTEM_USER
    lines = [
        "<html>", "<head>", "<title>Exchange MAPI/HTTP Connectivity Endpoint</title>", "</head>", "<body>",
        f"<p>Exchange MAPI/HTTP Connectivity Endpoint<br><br>Version: {identity.build}<br>"
        f"Vdir Path: {vdir}<br><br></p>",
        f"<p><b>User:</b> {name}<br><b>UPN:</b> {upn}<br><b>SID:</b> {sid}<br>"
        f"<b>Organization:</b> {org}<br><b>Authentication:</b> {auth}",
        "</p><br>",
        f"<p><b>Cafe:</b> {identity.backend_fqdn}<br><b>Mailbox:</b> {identity.backend_fqdn}</p>",
        f"<p><br><br><br><b>Created:</b> {dotnet_now(now)}</p></body></html>",
    ]
    return "\r\n".join(lines).encode()


def legacy_dn_in(body: bytes) -> str | None:
    """The user LegacyDN a Connect request starts with (NUL-terminated ASCII)."""
    text = body.split(b"\x00", 1)[0].decode("latin-1")
    return text if text.lower().startswith("/o=") else None


def mailbox_for_legacy_dn(identity: ExchangeIdentity, legacy_dn: str) -> str | None:
    """Which configured mailbox a LegacyDN names, if any."""
    for mailbox in identity.settings.known_mailboxes:
        if identity.legacy_dn(mailbox).lower() == legacy_dn.lower():
            return mailbox
    return None


def connect_failure(identity: ExchangeIdentity, legacy_dn: str, mailbox: str, now: datetime) -> bytes:
    """A Connect response carrying the LoginPermException text tools parse for the SID."""
    message = (
        f"'User SID: S-1-5-18' can't act as owner of a UserMailbox object '{legacy_dn}' "
        f"with SID {identity.user_sid(mailbox)} and MasterAccountSid "
    )
    meta = (
        "PROCESSING\r\nDONE\r\nX-ElapsedTime: 3\r\n"
        f"X-StartTime: {now.strftime('%a, %d %b %Y %H:%M:%S GMT')}\r\n\r\n"
    ).encode()
    # ConnectResponse: StatusCode 0 (the HTTP exchange worked), ErrorCode ecLoginPerm, then the
    # exception trace that Exchange appends to failed Connects.
    binary = struct.pack("<II", 0, _EC_LOGIN_PERM) + b"\x00" * 12
    return meta + binary + message.encode() + b"\x00"


def emsmdb_reply(request: PersonaRequest, identity: ExchangeIdentity, stage: str, cve: str) -> Reply:
    """``/mapi/emsmdb`` Connect as the front end's identity: for a known LegacyDN it fails with the
    mailbox SID in the message (ProxyLogon and ProxyShell both use this)."""
    legacy_dn = legacy_dn_in(request.body)
    mailbox = mailbox_for_legacy_dn(identity, legacy_dn) if legacy_dn else None
    extra = [("X-RequestType", "Connect"), ("X-ResponseCode", "0")]
    headers = exchange_headers(identity, content_type="application/mapi-http", extra=extra)
    if legacy_dn is None or mailbox is None:
        # ecUnknownUser: no such mailbox, no exception text.
        body = b"PROCESSING\r\nDONE\r\n\r\n" + struct.pack("<II", 0, 0x3EB) + b"\x00" * 12
        return make_reply(Response(200, headers, body), "backend.mapi.emsmdb", stage + "_unknown", tags=[cve])
    body = connect_failure(identity, legacy_dn, mailbox, request.now)
    return make_reply(Response(200, headers, body), "backend.mapi.emsmdb", stage, tags=[cve])
