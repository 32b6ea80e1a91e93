"""ProxyNotShell (testanull PoC, Metasploit IBM037 bypass) and OWASSRF (exchange-facts.md B.7)."""

from __future__ import annotations

import base64
from collections.abc import Callable

from honeyscope.sensor.personas.base import Reply
from honeyscope.testing import exploits
from honeyscope.testing.exploits import PsrpClient, receive_messages

Send = Callable[..., Reply]
TYPE1 = "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="


def test_testanull_poc_ntlm_then_wsman(send: Send) -> None:
    client = PsrpClient()
    create = client.create()
    first = send(exploits.tns_powershell(create))
    assert first.response.status == 401
    challenge = send(exploits.tns_powershell(create, TYPE1))
    offer = challenge.response.header("WWW-Authenticate") or ""
    assert challenge.response.status == 401 and offer.startswith("NTLM ")
    auth = "NTLM " + exploits.ntlm_authenticate("jdoe", "CONTOSO")
    reply = send(exploits.tns_powershell(create, auth))
    assert reply.response.status == 200 and b"<rsp:ShellId>" in reply.response.body
    assert reply.stage == "proxynotshell.wsman_create" and reply.credentials[0].username == "jdoe"
    # Same connection, no Authorization header (NTLM authenticates the connection).
    messages = receive_messages(send(exploits.tns_powershell(client.receive())).response.body)
    assert messages[-1][0] == 0x00021005
    _, body = client.command([("New-OfflineAddressBook", {"Name": "x", "AddressLists": "\\"})])
    reply = send(exploits.tns_powershell(body))
    assert reply.stage == "proxynotshell.wsman_command"
    assert reply.artifacts[0].content.startswith(b"New-OfflineAddressBook")


def test_metasploit_ibm037_bypass_with_gadget(send: Send) -> None:
    basic = "Basic " + base64.b64encode(b"jdoe@contoso.com:Winter2022!").decode()
    check = send(exploits.msf_ibm037("jdoe@contoso.com", "/mapi/nspi/", method="GET", authorization=basic))
    assert check.response.status == 200
    assert b"<title>Exchange MAPI/HTTP Connectivity Endpoint</title>" in check.response.body
    assert "ibm037" in check.tags and check.credentials[0].password == "Winter2022!"

    client = PsrpClient()

    def post(body: bytes) -> exploits.ToolRequest:
        return exploits.msf_ibm037("jdoe@contoso.com", "/powershell", body=body, authorization=basic)

    assert send(post(client.create())).stage == "proxynotshell.wsman_create"
    send(post(client.receive()))
    _, body = client.command([("Get-Mailbox", {})], exploits.GADGET_ARGUMENT)
    reply = send(post(body))
    assert reply.stage == "proxynotshell.rce_payload" and "CVE-2022-41082" in reply.tags
    assert any(a.kind == "payload" and b"TargetTypeForDeserialization" in a.content for a in reply.artifacts)


def test_unauthenticated_ibm037_powershell_gets_401(send: Send) -> None:
    reply = send(exploits.msf_ibm037("jdoe@contoso.com", "/powershell", body=b"<s:Envelope/>"))
    assert reply.response.status == 401


def test_owassrf(send: Send) -> None:
    basic = "Basic " + base64.b64encode(b"jdoe:pw").decode()
    client = PsrpClient()
    reply = send(exploits.owassrf("mastermailbox@outlook.com", client.create(), basic))
    assert reply.response.status == 200 and reply.stage == "owassrf.wsman_create"
    assert "CVE-2022-41080" in reply.tags
