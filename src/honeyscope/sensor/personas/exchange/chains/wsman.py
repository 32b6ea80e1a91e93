"""Server side of WS-Management + PSRP for the Exchange ``/PowerShell`` endpoint, as far as the
ProxyShell/ProxyNotShell tools need it (pypsrp, the Ruby winrm gem, hand-written SOAP):
Create → ``ResourceCreated`` with ``<rsp:ShellId>``, Command → ``CommandId``, Receive → PSRP output,
Signal, Delete. Cmdlets are read as text and answered with canned objects; nothing is executed.

Side effects kept in the attacker's state: ``New-MailboxExportRequest -FilePath`` writes a shell
(the PST export) for this attacker; gadget-bearing arguments (CVE-2022-41082) are recorded.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import Artifact, PersonaRequest
from honeyscope.sensor.personas.exchange.chains import psrp, webshell
from honeyscope.sensor.personas.exchange.chains._common import body_text, bounded_put, chain_state
from honeyscope.sensor.personas.exchange.headers import exchange_headers
from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity

STATE_KEY = "wsman"
_NS = (
    'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"'
)
_SHELL_NS = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
_TRANSFER_NS = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
_RESOURCE_URI = "http://schemas.microsoft.com/powershell/Microsoft.Exchange"
_DONE = f"{_SHELL_NS}/CommandState/Done"


def _find(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text, re.IGNORECASE | re.DOTALL)
    return html.unescape(match.group(1)).strip() if match else None


@dataclass(slots=True)
class WsmanResult:
    """What one WS-Man request did: the response, the step name and anything worth keeping."""

    response: Response
    step: str
    artifacts: list[Artifact] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def handle(request: PersonaRequest, identity: ExchangeIdentity) -> WsmanResult:
    """Answer one WS-Man SOAP request addressed to the PowerShell vdir."""
    text = body_text(request)
    action = (_find(r"<(?:\w+:)?Action\b[^>]*>(.*?)</", text) or "").rsplit("/", 1)[-1].lower()
    handler = _ACTIONS.get(action, _fault)
    return handler(request, identity, text)


def _envelope(action: str, relates_to: str | None, body: str) -> bytes:
    header = (f"<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
              "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
              + (f"<a:RelatesTo>{html.escape(relates_to)}</a:RelatesTo>" if relates_to else "") + "</s:Header>")
    return f'<s:Envelope xml:lang="en-US" {_NS}>{header}<s:Body>{body}</s:Body></s:Envelope>'.encode()


def _reply(identity: ExchangeIdentity, request_text: str, action: str, body: str, status: int = 200) -> Response:
    message_id = _find(r"<(?:\w+:)?MessageID\b[^>]*>(.*?)</", request_text)
    headers = exchange_headers(identity, content_type="application/soap+xml;charset=UTF-8")
    return Response(status, headers, _envelope(action, message_id, body))


def _shells(request: PersonaRequest) -> dict[str, Any]:
    shells: dict[str, Any] = chain_state(request, STATE_KEY).setdefault("shells", {})
    return shells


def _create(request: PersonaRequest, identity: ExchangeIdentity, text: str) -> WsmanResult:
    shell_id = (_find(r'<(?:\w+:)?Shell\b[^>]*\bShellId="([^"]+)"', text) or str(uuid.uuid4())).upper()
    creation = _find(r"<(?:\w+:)?creationXml\b[^>]*>(.*?)</", text) or ""
    messages = psrp.decode_fragments(_b64(creation))
    rpid = messages[0].rpid if messages else uuid.UUID(shell_id)
    nil = uuid.UUID(int=0)
    pending = [
        _b64_message(psrp.SESSION_CAPABILITY, rpid, nil, psrp.session_capability(), 1),
        _b64_message(psrp.APPLICATION_PRIVATE_DATA, rpid, nil, psrp.application_private_data(), 2),
        _b64_message(psrp.RUNSPACEPOOL_STATE, rpid, nil, psrp.runspace_state(2), 3),
    ]
    bounded_put(_shells(request), shell_id, {"rpid": str(rpid), "pending": pending, "commands": {}}, 16)
    body = (
        f"<x:ResourceCreated><a:Address>http://{identity.backend_fqdn}:80/PowerShell</a:Address>"
        f"<a:ReferenceParameters><w:ResourceURI>{_RESOURCE_URI}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
        f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId><rsp:Name>WinRM1</rsp:Name>"
        f"<rsp:ResourceUri>{_RESOURCE_URI}</rsp:ResourceUri><rsp:Owner>{identity.netbios_domain}\\Administrator"
        f"</rsp:Owner><rsp:ClientIP>{request.source_ip}</rsp:ClientIP><rsp:ProcessId>7424</rsp:ProcessId>"
        "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut><rsp:InputStreams>stdin pr</rsp:InputStreams>"
        "<rsp:OutputStreams>stdout</rsp:OutputStreams><rsp:MaxIdleTimeOut>PT2147483.647S</rsp:MaxIdleTimeOut>"
        "<rsp:Locale>en-US</rsp:Locale><rsp:DataLocale>en-US</rsp:DataLocale>"
        "<rsp:CompressionMode>XpressCompression</rsp:CompressionMode><rsp:ProfileLoaded>Yes</rsp:ProfileLoaded>"
        "<rsp:Encoding>UTF8</rsp:Encoding><rsp:BufferMode>Block</rsp:BufferMode><rsp:State>Connected</rsp:State>"
        "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
        "</rsp:Shell>"
    )
    return WsmanResult(_reply(identity, text, f"{_TRANSFER_NS}/CreateResponse", body), "wsman_create")


def _command(request: PersonaRequest, identity: ExchangeIdentity, text: str) -> WsmanResult:
    shell = _shells(request).get((_find(r'Name="ShellId"[^>]*>(.*?)<', text) or "").upper())
    command_id = (_find(r'<(?:\w+:)?CommandLine\b[^>]*\bCommandId="([^"]+)"', text) or str(uuid.uuid4())).upper()
    arguments = _find(r"<(?:\w+:)?Arguments\b[^>]*>(.*?)</", text) or ""
    result = WsmanResult(Response(200), "wsman_command")
    pending: list[str] = []
    for message in psrp.decode_fragments(_b64(arguments)):
        if message.message_type == psrp.CREATE_PIPELINE:
            pending += _run_pipeline(request, identity, message, result)
    if shell is not None:
        bounded_put(shell["commands"], command_id, {"pending": pending})
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    result.response = _reply(identity, text, f"{_SHELL_NS}/CommandResponse", body)
    return result


def _run_pipeline(request: PersonaRequest, identity: ExchangeIdentity, message: psrp.Message,
                  result: WsmanResult) -> list[str]:
    """Canned output for each command of the pipeline, then PIPELINE_STATE Completed."""
    outputs: list[str] = []
    if psrp.has_gadget(message.data):
        result.step = "rce_payload"
        result.tags.append("CVE-2022-41082")
        result.artifacts.append(Artifact("payload", "psrp:CREATE_PIPELINE", message.data.encode()))
    for cmdlet in psrp.pipeline_commands(message.data):
        result.artifacts.append(Artifact("command", "powershell", cmdlet.render().encode()))
        outputs += _cmdlet_output(request, identity, cmdlet, result)
    pending = [_b64_message(psrp.PIPELINE_OUTPUT, message.rpid, message.pid, data, 10 + n)
               for n, data in enumerate(outputs)]
    state = psrp.pipeline_state(4)
    pending.append(_b64_message(psrp.PIPELINE_STATE, message.rpid, message.pid, state, 10 + len(outputs)))
    return pending


def _cmdlet_output(request: PersonaRequest, identity: ExchangeIdentity, cmdlet: psrp.Cmdlet,
                   result: WsmanResult) -> list[str]:
    name = cmdlet.name.lower()
    args = {key.lower(): value for key, value in cmdlet.parameters.items()}
    if name == "new-managementroleassignment":
        if result.step == "wsman_command":
            result.step = "role_assignment"
        user = args.get("user", "Administrator")
        role = args.get("role", "Mailbox Import Export")
        return [psrp.output_object(["Microsoft.Exchange.Management.RbacTasks.RoleAssignmentPresentationObject"],
                                   f"{role}-{user}", {"Name": f"{role}-{user}", "Role": role,
                                                      "RoleAssigneeName": user, "AssignmentMethod": "Direct"})]
    if name == "new-mailboxexportrequest":
        return _export_request(request, identity, args, result)
    if name == "get-mailbox":
        return [psrp.output_object(["Microsoft.Exchange.Data.Directory.Management.Mailbox"], "Administrator",
                                   {"Name": "Administrator", "Alias": "Administrator",
                                    "ServerName": identity.netbios_name.lower(),
                                    "PrimarySmtpAddress": f"administrator@{identity.mail_domain}"})]
    if name == "new-offlineaddressbook":
        label = args.get("name", "OAB")
        return [psrp.output_object(["Microsoft.Exchange.Data.Directory.SystemConfiguration.OfflineAddressBook"],
                                   label, {"Name": label, "Versions": "Version4", "IsDefault": "False"})]
    return []


def _export_request(request: PersonaRequest, identity: ExchangeIdentity, args: dict[str, str],
                    result: WsmanResult) -> list[str]:
    """New-MailboxExportRequest: the PST lands at -FilePath, which may be a web shell for this attacker."""
    if result.step != "rce_payload":
        result.step = "export_request"
    result.tags.append("CVE-2021-31207")
    file_path = args.get("filepath", "")
    mailbox = args.get("mailbox", "Administrator")
    if file_path:
        drafts = chain_state(request, "ews").get("attachments", {})
        subject = _find(r"subject\s+-eq\s+['\"]?([^'\")]+)", args.get("contentfilter", "")) or ""
        content = base64.b64decode(drafts.get(subject, "")) if subject in drafts else b""
        result.artifacts.append(Artifact("webshell", file_path, content))
        webshell.write_shell(request, file_path, "export")
    name = args.get("name", "MailboxExport")
    return [psrp.output_object(["Microsoft.Exchange.Management.RecipientTasks.MailboxExportRequest"],
                               f"{mailbox}\\{name}", {"Name": name, "Mailbox": mailbox, "Status": "Queued"})]


def _receive(request: PersonaRequest, identity: ExchangeIdentity, text: str) -> WsmanResult:
    shell = _shells(request).get((_find(r'Name="ShellId"[^>]*>(.*?)<', text) or "").upper())
    command_id = (_find(r'<(?:\w+:)?DesiredStream\b[^>]*\bCommandId="([^"]+)"', text) or "").upper()
    if shell is None:
        return _fault(request, identity, text)
    holder = shell["commands"].get(command_id) if command_id else shell
    if holder is None or not holder["pending"]:
        return _timed_out(identity, text)
    attribute = f' CommandId="{command_id}"' if command_id else ""
    streams = "".join(f'<rsp:Stream Name="stdout"{attribute}>{data}</rsp:Stream>' for data in holder["pending"])
    holder["pending"] = []
    if command_id:
        streams += f'<rsp:CommandState CommandId="{command_id}" State="{_DONE}"><rsp:ExitCode>0</rsp:ExitCode>' \
                   "</rsp:CommandState>"
    body = f"<rsp:ReceiveResponse>{streams}</rsp:ReceiveResponse>"
    return WsmanResult(_reply(identity, text, f"{_SHELL_NS}/ReceiveResponse", body), "wsman_receive")


def _signal(request: PersonaRequest, identity: ExchangeIdentity, text: str) -> WsmanResult:
    return WsmanResult(_reply(identity, text, f"{_SHELL_NS}/SignalResponse", "<rsp:SignalResponse />"),
                       "wsman_signal")


def _delete(request: PersonaRequest, identity: ExchangeIdentity, text: str) -> WsmanResult:
    _shells(request).pop((_find(r'Name="ShellId"[^>]*>(.*?)<', text) or "").upper(), None)
    return WsmanResult(_reply(identity, text, f"{_TRANSFER_NS}/DeleteResponse", ""), "wsman_delete")


def _timed_out(identity: ExchangeIdentity, text: str) -> WsmanResult:
    """Nothing to send: WinRM answers a Receive with the w:TimedOut fault and clients poll again."""
    return _soap_fault(identity, text, "w:TimedOut", "2150858793",
                       "The WS-Management service cannot complete the operation within the time specified "
                       "in OperationTimeout.", "wsman_receive")


def _fault(request: PersonaRequest, identity: ExchangeIdentity, text: str) -> WsmanResult:
    return _soap_fault(identity, text, "w:InvalidSelectors", "2150858843",
                       "The WS-Management service cannot process the request because the request contained "
                       "invalid selectors for the resource.", "wsman_fault")


def _soap_fault(identity: ExchangeIdentity, text: str, subcode: str, code: str, message: str,
                step: str) -> WsmanResult:
    body = (f"<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode>"
            f'</s:Code><s:Reason><s:Text xml:lang="en-US">{message}</s:Text></s:Reason><s:Detail>'
            f'<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="{code}" '
            f'Machine="{identity.backend_fqdn}"><f:Message>{message}</f:Message></f:WSManFault></s:Detail></s:Fault>')
    action = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
    return WsmanResult(_reply(identity, text, action, body, status=500), step)


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=False)
    except (binascii.Error, ValueError):
        return b""


def _b64_message(message_type: int, rpid: uuid.UUID, pid: uuid.UUID, data: str, object_id: int) -> str:
    return base64.b64encode(psrp.encode_message(message_type, rpid, pid, data, object_id)).decode()


_ACTIONS = {"create": _create, "command": _command, "receive": _receive, "signal": _signal, "delete": _delete}
