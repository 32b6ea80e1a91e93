"""What Debian's nmap, with its own NSE scripts, concludes about the decoy (loopback only).

Facts: /work/shared/reference/exchange-facts.md A.1 (logon page title, /EWS/Exchange.asmx answers 401
with NTLM), A.6 (what http-ntlm-info prints for an Exchange box), A.7 (scanner fingerprints).
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from honeyscope.testing.live import LiveSensor, live_sensor

pytestmark = [
    pytest.mark.nmap,
    pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap is not installed (apt-get install nmap)"),
]

SCRIPTS = ("http-title", "http-server-header", "http-headers", "http-ntlm-info")
#: EWS uses Windows authentication only: an anonymous request gets 401 with an NTLM challenge.
NTLM_ROOT = "/EWS/Exchange.asmx"
LOGON_PAGE = "/owa/auth/logon.aspx"
SCRIPT_ARGS = f"http-ntlm-info.root={NTLM_ROOT},http-title.url={LOGON_PAGE},http-headers.path={LOGON_PAGE}"
IIS_SERVERS = {"Microsoft-IIS/10.0", "Microsoft-HTTPAPI/2.0"}

#: What http-ntlm-info must print for the default persona (Exchange 2016 CU19 on Windows Server 2016).
DEFAULT_NTLM = {
    "Target_Name": "CONTOSO",
    "NetBIOS_Domain_Name": "CONTOSO",
    "NetBIOS_Computer_Name": "EXCH01",
    "DNS_Domain_Name": "contoso.local",
    "DNS_Computer_Name": "exch01.contoso.local",
    "DNS_Tree_Name": "contoso.local",
    "Product_Version": "10.0.14393",
}

OTHER_PERSONA = """
[personas.exchange]
build = "15.2.986.14"
netbios_name = "MBX7"
netbios_domain = "FABRIKAM"
ad_domain = "corp.fabrikam.net"
public_host = "owa.fabrikam.com"
mail_domain = "fabrikam.com"
"""
#: Exchange 2019 CU11 runs on Windows Server 2019 (10.0.17763).
OTHER_NTLM = {
    "Target_Name": "FABRIKAM",
    "NetBIOS_Domain_Name": "FABRIKAM",
    "NetBIOS_Computer_Name": "MBX7",
    "DNS_Domain_Name": "corp.fabrikam.net",
    "DNS_Computer_Name": "mbx7.corp.fabrikam.net",
    "DNS_Tree_Name": "corp.fabrikam.net",
    "Product_Version": "10.0.17763",
}


@dataclass
class Script:
    output: str
    elems: dict[str, str] = field(default_factory=dict)
    values: list[str] = field(default_factory=list)


@dataclass
class Scan:
    scripts: dict[str, Script]
    service: dict[str, str]
    xml: str


def nmap(address: tuple[str, int], scripts: tuple[str, ...], *, version_scan: bool = False,
         timeout: float = 150) -> Scan:
    """Run nmap (connect scan, no ping, no DNS) with the given scripts forced onto one loopback port."""
    host, port = address
    assert host in ("127.0.0.1", "::1"), "nmap runs against loopback only"
    command = ["nmap", "-Pn", "-n", "-sT", "-p", str(port), "--script", ",".join(f"+{s}" for s in scripts),
               "--script-args", SCRIPT_ARGS,
               "--script-timeout", "60s", "--host-timeout", "120s", "-oX", "-", host]
    if version_scan:
        command.insert(1, "-sV")
    if ":" in host:
        command.insert(1, "-6")
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    return _parse(done.stdout)


def _parse(xml: str) -> Scan:
    port = ET.fromstring(xml).find("host/ports/port")
    assert port is not None, f"nmap found no port: {xml[-1500:]}"
    scripts = {}
    for script in port.findall("script"):
        elems = {elem.get("key", ""): elem.text or "" for elem in script.iter("elem")}
        values = [elem.text or "" for elem in script.iter("elem") if elem.get("key") is None]
        scripts[script.get("id", "")] = Script(script.get("output", ""), elems, values)
    service = port.find("service")
    return Scan(scripts, dict(service.attrib) if service is not None else {}, xml)


def assert_no_python(scan: Scan) -> None:
    text = scan.xml.lower()
    for word in ("python", "traceback", "uvloop", "asyncio", "werkzeug", "uvicorn", "honeyscope"):
        assert word not in text, f"nmap output shows {word!r}"


def assert_ntlm(scan: Scan, expected: dict[str, str]) -> None:
    script = scan.scripts.get("http-ntlm-info")
    assert script is not None, f"http-ntlm-info got no NTLM challenge from {NTLM_ROOT}"
    found = dict(script.elems)
    found["DNS_Computer_Name"] = found.get("DNS_Computer_Name", "").lower()  # Windows may upper-case the host
    assert found == expected


@pytest.fixture(scope="module")
def sensor(tmp_path_factory: pytest.TempPathFactory, https_port: int | None) -> Iterator[LiveSensor]:
    with live_sensor(tmp_path_factory.mktemp("nmap"), http=0, https=https_port) as live:
        yield live


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_nmap_http_scripts_see_outlook_on_iis_with_persona_ntlm_names(
    sensor: LiveSensor, wire: SimpleNamespace, scheme: str,
) -> None:
    if scheme == "https" and not wire.tls_available():
        pytest.skip("honeyscope.sensor.tls.session is not importable yet (the TLS layer has not landed)")
    scan = nmap(sensor.address(scheme), SCRIPTS)
    assert_no_python(scan)
    title = scan.scripts.get("http-title")
    assert title is not None and "Outlook" in title.elems.get("title", ""), title
    server = scan.scripts.get("http-server-header")
    assert server is not None and server.values == ["Microsoft-IIS/10.0"], server
    headers = scan.scripts.get("http-headers")
    assert headers is not None
    server_lines = [line.strip() for line in headers.output.splitlines() if line.strip().lower().startswith("server:")]
    assert server_lines == ["Server: Microsoft-IIS/10.0"]
    assert "X-OWA-Version: 15.1.2176.2" in headers.output  # exchange-facts.md A.5: the build leaks here
    assert_ntlm(scan, DEFAULT_NTLM)
    wire.assert_still_serving(sensor, scheme)


def test_nmap_version_detection_names_iis_10(sensor: LiveSensor) -> None:
    # -sV sends nmap's whole probe set (malformed lines, RTSP, SIP, ...): only IIS/http.sys may answer.
    scan = nmap(sensor.address("http"), ("http-server-header",), version_scan=True)
    assert_no_python(scan)
    assert scan.service.get("product") == "Microsoft IIS httpd"
    assert scan.service.get("version") == "10.0"
    assert scan.service.get("ostype") == "Windows"
    server = scan.scripts.get("http-server-header")
    if server is not None:  # nmap omits the script when -sV already named the server exactly
        assert set(server.values) <= IIS_SERVERS, server


def test_nmap_ntlm_info_follows_the_configured_persona_names(tmp_path, wire: SimpleNamespace) -> None:
    with live_sensor(tmp_path, http=0, config_text=OTHER_PERSONA) as sensor:
        scan = nmap(sensor.address("http"), ("http-ntlm-info", "http-headers"))
        assert_no_python(scan)
        assert_ntlm(scan, OTHER_NTLM)
        headers = scan.scripts["http-headers"].output
        assert "X-FEServer: MBX7" in headers and "X-OWA-Version: 15.2.986.14" in headers
        assert "EXCH01" not in headers and "contoso" not in headers.lower()
        wire.assert_still_serving(sensor)
