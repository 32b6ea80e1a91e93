"""Each scanner's own verdict logic, run against the decoy's answer to that scanner's exact request.

Every test re-implements the tool's check (regexes and conditions copied from the cited tool, see
exchange-facts.md A.1, A.5–A.7) and asserts the tool would conclude "Exchange" and read our build/names.
"""

from __future__ import annotations

import base64
import re
import struct
from urllib.parse import urlsplit

import pytest

from honeyscope.sensor.http.response import Response, serialize_response
from honeyscope.sensor.personas.base import Reply
from honeyscope.sensor.personas.exchange import ExchangePersona, ExchangeSettings
from honeyscope.testing import persona_request

HOST = "mail.contoso.com"
BUILD = "15.1.2176.2"  # the default persona: Exchange 2016 CU19


@pytest.fixture
def persona() -> ExchangePersona:
    return ExchangePersona(ExchangeSettings())


def send(persona: ExchangePersona, method: str, target: str, headers: list[tuple[str, str]] | None = None,
         body: bytes = b"") -> Reply:
    return persona.handle(persona_request(method, target, headers or [], body, host=HOST))


def text(response: Response) -> str:
    return response.body.decode("utf-8")


def wire(response: Response) -> str:
    return serialize_response(response, "Wed, 03 Mar 2021 12:00:00 GMT").decode("latin-1")


def nmap_get(persona: ExchangePersona, path: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """nmap's http.get on port 443: follows up to 5 redirects that stay on the same host, port and
    scheme (nselib/http.lua redirect_ok_rules)."""
    response = send(persona, "GET", path, headers).response
    for _ in range(5):
        location = response.header("Location")
        if response.status not in (301, 302, 303, 307) or location is None:
            break
        url = urlsplit(location)
        if url.hostname not in (None, HOST) or (url.port or 443) != 443 or url.scheme not in ("", "https"):
            break
        response = send(persona, "GET", url.path + (f"?{url.query}" if url.query else ""), headers).response
    return response


def lua_pattern(pattern: str) -> str:
    """A Lua pattern as a Python regex (only the classes these scripts use: %d and '.')."""
    return pattern.replace(".", "[\\s\\S]").replace("%d", "\\d")


# -- nuclei ---------------------------------------------------------------------------------------


def test_nuclei_ms_exchange_server(persona: ExchangePersona) -> None:
    # http/technologies/microsoft/ms-exchange-server.yaml: GET /owa/auth/logon.aspx, matchers OR'ed.
    response = send(persona, "GET", "/owa/auth/logon.aspx").response
    head, body = wire(response).split("\r\n\r\n", 1)
    matched = [
        re.search(r"(?i)(X-Owa-Version:)", head) is not None,
        re.search(r"/owa/auth/[0-9.]+/", body) is not None,
        any(w in body for w in ("<title>Exchange Log In</title>",
                                "<title>Microsoft Exchange - Outlook Web Access</title>")),
    ]
    assert matched[0] and matched[1]
    assert response.header("x-owa-version") == BUILD  # kval x_owa_version
    assert re.findall(r"/owa/auth/([0-9.]+)/", body)[0] == "15.1.2176"


def test_nuclei_microsoft_exchange_panel(persona: ExchangePersona) -> None:
    # http/exposed-panels/microsoft-exchange-panel.yaml: status 200 AND word 'Exchange Admin Center'.
    base = f"https://{HOST}"
    response = send(persona, "GET", f"/owa/auth/logon.aspx?replaceCurrent=1&url={base}/ecp").response
    assert response.status == 200 and "Exchange Admin Center" in text(response)
    assert "Exchange Admin Center" not in text(send(persona, "GET", "/owa/auth/logon.aspx").response)


def test_nuclei_ms_exchange_local_domain(persona: ExchangePersona) -> None:
    # http/misconfiguration/microsoft/ms-exchange-local-domain.yaml: header regex AND status 200|302.
    target = "/autodiscover/autodiscover.json?Protocol=ActiveSync&Email=user@domain.tld&RedirectCount=1"
    response = send(persona, "GET", target).response
    head = wire(response).split("\r\n\r\n", 1)[0]
    assert re.search(r"(?i)(X-Calculatedbetarget:)", head) and response.status in (200, 302)
    assert response.header("x-calculatedbetarget") == "exch01.contoso.local"  # kval: the leaked name


# -- nmap -----------------------------------------------------------------------------------------


def test_nmap_http_title(persona: ExchangePersona) -> None:
    # scripts/http-title.nse: GET / with redirects followed; title pattern from the script.
    response = nmap_get(persona, "/")
    title = re.search(r"<[Tt][Ii][Tt][Ll][Ee][^>]*>([^<]*)</[Tt][Ii][Tt][Ll][Ee]>", text(response))
    assert response.status == 200 and title is not None and title.group(1) == "Outlook"


def nmap_ntlm_host_info(blob: bytes) -> dict[str, object]:
    """nselib/smbauth.lua get_host_info_from_security_blob, step by step."""
    ident, kind, dlen, _dmax, doff, _flags, _challenge = struct.unpack_from("<8sIHHII8s", blob)
    assert ident == b"NTLMSSP\x00" and kind == 2
    info: dict[str, object] = {}
    if dlen > 0:
        info["target_realm"] = blob[doff:doff + dlen].decode("utf-16-le")
    hpos = 32
    if hpos + 1 + dlen > len(blob):
        return info
    _context, tlen, _tmax, toff = struct.unpack_from("<QHHI", blob, hpos)
    hpos = 48 + 1  # Lua is 1-based
    if toff >= hpos + 7 and doff >= hpos + 7:
        major, minor, build, reserved = struct.unpack_from("<BBH4s", blob, 48)
        if reserved == b"\x00\x00\x00\x0f":
            info["version"] = f"{major}.{minor}.{build}"
    names = {1: "netbios_computer_name", 2: "netbios_domain_name", 3: "fqdn", 4: "dns_domain_name",
             5: "dns_forest_name"}
    target_info, pos = blob[toff:toff + tlen], 0
    while pos < len(target_info):
        av_id, length = struct.unpack_from("<HH", target_info, pos)
        value = target_info[pos + 4:pos + 4 + length]
        pos += 4 + length
        if av_id == 0:
            break
        if av_id in names:
            info[names[av_id]] = value.decode("utf-16-le")
    return info


def test_nmap_http_ntlm_info(persona: ExchangePersona) -> None:
    # scripts/http-ntlm-info.nse: GET / (default root) with nmap's type-1; parse with smbauth.
    flags = 0x1 | 0x2 | 0x4 | 0x200 | 0x8000 | 0x80000 | 0x20000000 | 0x80000000
    type1 = struct.pack("<8sIIQQ", b"NTLMSSP\x00", 1, flags, 0, 0)
    response = send(persona, "GET", "/", [("Authorization", "NTLM " + base64.b64encode(type1).decode())]).response
    match = re.match(r"NTLM ([a-zA-Z0-9/+=]*)", response.header("www-authenticate") or "")
    assert match is not None
    info = nmap_ntlm_host_info(base64.b64decode(match.group(1)))
    assert info == {
        "target_realm": "CONTOSO", "netbios_domain_name": "CONTOSO", "netbios_computer_name": "EXCH01",
        "dns_domain_name": "contoso.local", "fqdn": "EXCH01.contoso.local", "dns_forest_name": "contoso.local",
        "version": "10.0.14393",
    }


def test_rig_ms_exchange_version_nse(persona: ExchangePersona) -> None:
    # righel/ms-exchange-version-nse: method 1 reads x-owa-version from GET /owa/ ...
    ua = [("User-Agent", "nmap: ms-exchange-version.nse"), ("Content-Type", "text/html; charset=utf-8")]
    assert send(persona, "GET", "/owa/", ua).response.header("x-owa-version") == BUILD
    # ... method 2: GET /owa (redirects followed), Lua patterns on the body ...
    body = text(nmap_get(persona, "/owa", ua))
    build = re.search(lua_pattern("/owa/auth/(%d+.%d+.%d+)"), body)
    assert build is not None and build.group(1) == "15.1.2176"
    # ... method 3: the exporttool manifest, '<assemblyIdentity.*version="(%d+.%d+.%d+.%d+)"' (greedy).
    manifest = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application"
    response = send(persona, "GET", manifest, ua).response
    version = re.search(r'<assemblyIdentity[\s\S]*version="(\d+[\s\S]\d+[\s\S]\d+[\s\S]\d+)"', text(response))
    assert response.status == 200 and version is not None and version.group(1) == BUILD


def gos_parse_answer(body: str) -> str | None:
    """GossiTheDog http-vuln-exchange.nse parse_answer: first /owa/<v> or /owa/auth/<v> per line."""
    for line in re.split(r"[\r\n]+", body):
        for pattern in (r"/owa/(\d+[\s\S]\d[\s\S]\d+)", r"/owa/auth/(\d+[\s\S]\d[\s\S]\d+)"):
            found = re.search(pattern, line)
            if found:
                return found.group(1)
    return None


def test_gossithedog_http_vuln_exchange(persona: ExchangePersona) -> None:
    # GET /owa with nmap's redirect following must end 200 ("Error 302" otherwise), then parse the body.
    response = nmap_get(persona, "/owa", [("User-Agent", "Mozilla/5.0 (Exchange check)")])
    assert response.status == 200
    version = gos_parse_answer(text(response))
    assert version == "15.1.2176"  # → "Exchange 2016 CU19. Patch status cannot be determined ..."


# -- Metasploit -----------------------------------------------------------------------------------


def test_msf_target_running_exchange(persona: ExchangePersona) -> None:
    # lib/msf/core/exploit/remote/http/exchange.rb target_running_exchange?
    response = send(persona, "GET", "/owa/auth/logon.aspx").response
    body = text(response)
    assert response.status == 200
    assert re.search(r"function IsOwaPremiumBrowser", body)
    assert re.search(r"To use Outlook, browser settings must allow scripts to run.", body)


def test_msf_exchange_get_version(persona: ExchangePersona) -> None:
    # exchange_get_version: /owa/service X-OWA-Version first ...
    assert send(persona, "GET", "/owa/service").response.header("X-OWA-Version") == BUILD
    # ... the 4-part logon-page regex does not match 2013+ pages (by design) ...
    logon = text(send(persona, "GET", "/owa/auth/logon.aspx").response)
    assert re.search(r"/owa/(?>auth/)?(?P<build>\d+(?>\.\d+){3})", logon) is None
    # ... the manifest (lower-case "current", as MSF sends it) ...
    manifest = send(persona, "GET", "/ecp/current/exporttool/microsoft.exchange.ediscovery.exporttool.application")
    found = re.search(r'name="microsoft.exchange.ediscovery.exporttool" version="(?P<build>\d+(?>\.\d+){3})"',
                      text(manifest.response))
    assert manifest.response.status == 200 and found is not None and found.group("build") == BUILD
    # ... and the brute force over candidate builds singles out ours.
    candidates = ["15.1.2106.2", "15.1.2176.2", "15.1.2176.9", "15.2.792.3", "15.0.1497.2"]
    hits = [b for b in candidates if send(persona, "GET", f"/ecp/{b}/exporttool/").response.status == 200]
    assert hits == [BUILD]


MSMAIL_TYPE1 = "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="


def msmail_internal_domain(header: str) -> str:
    """msmail.go HarvestInternalDomain: split on ' ', decode, collect bytes after 0x0F until 0x02."""
    data = base64.b64decode(header.split(" ")[1])
    collected, appending = bytearray(), False
    for value in data:
        if value == 0:
            continue
        if value == 2:
            appending = False
        if appending:
            collected.append(value)
        if value == 15:
            appending = True
    return collected.decode("latin-1")


def test_msf_msmail_harvest_internal_domain(persona: ExchangePersona) -> None:
    # modules/auxiliary/scanner/msmail/shared/src/msmail/msmail.go: first of /ews ... that answers 401.
    assert send(persona, "GET", "/ews").response.status == 401
    for _ in range(50):  # our server challenge is random: the parse must work for every one
        response = send(persona, "GET", "/ews", [("Authorization", f"NTLM {MSMAIL_TYPE1}")]).response
        first = response.header("WWW-Authenticate")  # Go's Header.Get returns the first value
        assert first is not None and msmail_internal_domain(first) == "CONTOSO"


def av_pairs(message: bytes) -> dict[int, str]:
    length, _, offset = struct.unpack_from("<HHI", message, 40)
    info, pairs, position = message[offset:offset + length], {}, 0
    while position + 4 <= len(info):
        av_id, size = struct.unpack_from("<HH", info, position)
        if av_id == 0:
            break
        pairs[av_id] = info[position + 4:position + 4 + size].decode("utf-16-le", "replace")
        position += 4 + size
    return pairs


def test_msf_proxylogon_request_fqdn(persona: ExchangePersona) -> None:
    # exchange_proxylogon_rce.rb request_fqdn: RPC_IN_DATA /rpc/rpcproxy.dll with a raw type-1; needs 401 and
    # WWW-Authenticate =~ /^NTLM/i, then MSV_AV_DNS_COMPUTER_NAME down-cased is the back-end FQDN.
    type1 = b"NTLMSSP\x00\x01\x00\x00\x00\x05\x02\x88\xa0" + b"\x00" * 16
    reply = send(persona, "RPC_IN_DATA", "/rpc/rpcproxy.dll",
                 [("Authorization", "NTLM " + base64.b64encode(type1).decode())])
    header = reply.response.header("WWW-Authenticate") or ""
    assert reply.response.status == 401 and re.match(r"^NTLM", header, re.I)
    message = base64.b64decode(header.split("NTLM ")[1])
    assert av_pairs(message)[3].lower() == "exch01.contoso.local"
    # praetorian proxylogon exploit.py: regex on the header, DnsComputerName.
    praetorian = re.search(r"NTLM ([a-zA-Z0-9+/]+={0,2})", header)
    assert praetorian is not None and av_pairs(base64.b64decode(praetorian.group(1)))[3] == "EXCH01.contoso.local"


def test_msf_owa_login_get_ad_domain(persona: ExchangePersona) -> None:
    # modules/auxiliary/scanner/http/owa_login.rb (old get_ad_domain): at least one vdir answers the type-1.
    answered = []
    for vdir in ("aspnet_client", "Autodiscover", "ecp", "EWS", "Microsoft-Server-ActiveSync", "OAB",
                 "PowerShell", "Rpc"):
        response = send(persona, "GET", f"/{vdir}", [("Authorization", f"NTLM {MSMAIL_TYPE1}")]).response
        header = response.header("WWW-Authenticate") or ""
        if response.status == 401 and header.startswith("NTLM "):
            answered.append(av_pairs(base64.b64decode(header[5:]))[2])
    assert answered and set(answered) == {"CONTOSO"}


def test_msf_owa_login_sees_a_failed_login(persona: ExchangePersona) -> None:
    # owa_login.rb posts to /owa/auth.owa; a redirect back to logon with reason=2 is a failed login.
    form = "destination=https%3A%2F%2Fmail.contoso.com%2Fowa%2F&flags=4&forcedownlevel=0&username=CONTOSO%5Cjdoe" \
           "&password=Winter2021%21&passwordText=&isUtf8=1"
    reply = send(persona, "POST", "/owa/auth.owa", [("Content-Type", "application/x-www-form-urlencoded")],
                 form.encode())
    assert reply.response.status == 302 and "reason=2" in (reply.response.header("Location") or "")


# -- Greenbone, Tsunami ---------------------------------------------------------------------------

GREENBONE_PATTERNS = [
    r"Microsoft Corporation\.\s+All rights reserved",
    r"^\s*<title>.*Outlook Web ?App.*</title>",
    r"^\s*<title>Outlook</title>",
    r"^<title>Microsoft Exchange - Outlook Web Access</title>",
    r"^X-OWA-Version\s*:",
    r'class="signInHeader">Outlook',
    r' href="/owa/(auth/)?[0-9.]+/themes/(resources|base)/',
    r">To use Outlook( Web (App|Access))?, browser settings must allow scripts to run\. For information about how "
    r"to allow scripts, consult the Help for your browser\.",
    r">To use LoadMaster ESP Login, javascript must be enabled in your browser\.<",
    r'<form action="/lm_auth_proxy\\?LMLogon" method="post"',
    r"^<!-- OwaPage = ASP\.auth_logon_aspx -->",
]


def test_greenbone_owa_detection(persona: ExchangePersona) -> None:
    # gb_microsoft_exchange_server_owa_http_detect.nasl (OID 1.3.6.1.4.1.25623.1.0.105150): egrep per line,
    # the X-OWA-Version pattern on the headers case-insensitively; detected when more than one matches.
    buf = wire(send(persona, "GET", "/owa/auth/logon.aspx").response)
    banner = buf.split("\r\n\r\n", 1)[0]
    found = sum(
        bool(re.search(p, banner, re.M | re.I) if "X-OWA-Version" in p else re.search(p, buf, re.M))
        for p in GREENBONE_PATTERNS
    )
    assert found >= 2
    assert found >= 7  # every marker a real 2016 page carries
    version = re.search(r"X-OWA-Version\s*:\s*([0-9.]+)", banner, re.I)
    assert version is not None and version.group(1) == BUILD


def test_tsunami_is_exchange(persona: ExchangePersona) -> None:
    # Tsunami's isExchange: GET / answers 302 with a Location ending in /owa/.
    response = send(persona, "GET", "/").response
    assert response.status == 302 and (response.header("Location") or "").endswith("/owa/")
