"""Every public vulnerability check of exchange-facts.md B.2, B.6-B.9 judges the decoy vulnerable.
Each assertion re-implements the named tool's own verdict logic."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable

from honeyscope.sensor.personas.base import Reply
from honeyscope.testing import exploits

Send = Callable[..., Reply]

NEGOTIATE = "NegotiateSecurityContext failed with for host '{host}' with status 'TargetUnknown'"


def test_css_nse_x_calculatedbetarget_matches_localhost(send: Send) -> None:
    # CSS http-vuln-cve2021-26855.nse: header x-calculatedbetarget exists and matches "localhost"
    # (older revisions also required 500 and NegotiateSecurityContext in the body).
    response = send(exploits.css_nse_check()).response
    assert re.search("localhost", response.header("x-calculatedbetarget") or "")
    assert response.status == 500 and b"NegotiateSecurityContext" in response.body


def test_msf_scanner_needs_500(send: Send) -> None:
    # MSF auxiliary/scanner/http/exchange_proxylogon: vulnerable iff code == 500 (POST and GET).
    for method in ("POST", "GET"):
        reply = send(exploits.msf_proxylogon_check(method))
        assert reply.response.status == 500
        assert reply.stage == "proxylogon.ssrf_probe"


def test_goby_x_feserver_and_body(send: Send) -> None:
    # goby: X-FEServer present and body contains the Negotiate failure for 'localhost'.
    response = send(exploits.goby_check()).response
    assert response.header("X-FEServer") == "EXCH01"
    assert NEGOTIATE.format(host="localhost").encode() in response.body


def test_lijiejie_500_and_body(send: Send) -> None:
    response = send(exploits.lijiejie_check()).response
    assert response.status == 500 and b"NegotiateSecurityContext failed with for host" in response.body


def test_zeop_negotiate_or_random_name(send: Send) -> None:
    # Zeop: body has "NegotiateSecurityContext failed" or the random name, or X-CalculatedBETarget == it.
    response = send(exploits.zeop_check("qwxyz")).response
    assert b"NegotiateSecurityContext failed" in response.body
    assert response.header("X-CalculatedBETarget") == "qwxyz"
    assert response.header("X-FEServer")


def test_nuclei_and_tsunami_callbacks_are_recorded_not_contacted(send: Send) -> None:
    # nuclei CVE-2021-26855 / Tsunami need an out-of-band hit: we record the host, never connect.
    nuclei = send(exploits.nuclei_26855_check("c0ffee.oast.fun"))
    assert nuclei.callbacks == ["c0ffee.oast.fun"] and nuclei.response.status == 500
    tsunami = send(exploits.tsunami_26855_check("cb.tsunami.example.net"))
    assert tsunami.callbacks == ["cb.tsunami.example.net"]
    assert tsunami.response.header("X-CalculatedBETarget") == "cb.tsunami.example.net"


def test_gos_proxyshell_nse_302(send: Send) -> None:
    # GossiTheDog proxyshell.nse: 302 = "Vulnerable", 400 = not.
    reply = send(exploits.gos_proxyshell_check())
    assert reply.response.status == 302 and reply.stage == "proxyshell.ssrf"


def test_nuclei_34473_body_markers(send: Send) -> None:
    # nuclei CVE-2021-34473: body contains OwaADUserNotFoundException OR the MAPI endpoint title.
    owa, nspi = (send(request).response for request in exploits.nuclei_34473_checks())
    markers = (b"Microsoft.Exchange.Clients.Owa2.Server.Core.OwaADUserNotFoundException",
               b"Exchange MAPI/HTTP Connectivity Endpoint")
    assert any(marker in owa.body for marker in markers)
    assert any(marker in nspi.body for marker in markers) and nspi.status == 200
    assert owa.header("X-OWA-Error") == markers[0].decode()


def test_msf_proxyshell_check_title(send: Send) -> None:
    # MSF exchange_proxyshell_rce check: /mapi/nspi/ 200 and //head/title is the endpoint name.
    response = send(exploits.msf_proxyshell("x@y.com", "/mapi/nspi/")).response
    assert response.status == 200
    title = re.search(rb"<head>\s*<title>(.*?)</title>", response.body)
    assert title and title.group(1) == b"Exchange MAPI/HTTP Connectivity Endpoint"


def test_mapi_status_page_exact_shape(send: Send) -> None:
    response = send(exploits.msf_proxyshell("x@y.com", "/mapi/nspi/")).response
    body = response.body.decode()
    assert body.startswith("<html>\r\n<head>\r\n<title>Exchange MAPI/HTTP Connectivity Endpoint</title>")
    assert "<br>Version: 15.1.2176.2<br>Vdir Path: /mapi/nspi/<br><br></p>" in body
    # H3 parses these three fields.
    assert re.search(r"<br>Version: (.*?)<br>", body)
    assert re.search(r"<b>SID:</b>(.*?)<br>", body).group(1).strip() == "S-1-5-18"  # type: ignore[union-attr]
    assert response.header("X-CalculatedBETarget") == "exch01.contoso.local"


def test_nuclei_41040_302_or_no_protocol(send: Send) -> None:
    # nuclei CVE-2022-41040 step 2: status 302 OR body not containing "Protocol".
    reply = send(exploits.nuclei_41040_check())
    assert reply.response.status == 302 or b"Protocol" not in reply.response.body
    assert reply.stage == "proxynotshell.ssrf" and "CVE-2022-41040" in reply.tags


def test_msf_ecp_viewstate_check_recomputes_hmac(send: Send) -> None:
    # MSF exchange_ecp_viewstate check(): the page's own ViewState verifies with the static key.
    response = send(exploits.msf_ecp_default("cadata=abc")).response
    assert response.status == 200
    body = response.body.decode()
    generator = re.search(r'id="__VIEWSTATEGENERATOR"\s+value="([a-fA-F0-9]{8})"', body).group(1)  # type: ignore[union-attr]
    viewstate = re.search(r'id="__VIEWSTATE"\s+value="([a-zA-Z0-9\+\/]+={0,2})"', body).group(1)  # type: ignore[union-attr]
    cookies = "".join(value.split(";")[0] + ";" for name, value in response.headers if name == "Set-Cookie")
    session_id = re.search(r"ASP\.NET_SessionId=([\w\-]+);", cookies).group(1)  # type: ignore[union-attr]
    raw = base64.b64decode(viewstate)
    key = bytes.fromhex("CB2721ABDAF8E9DC516D621D8B8BF13A2C9E8689A25303BF")
    modifier = bytes.fromhex(generator)[::-1] + session_id.encode("utf-16-le")
    assert generator == "B97B4E27"
    assert hmac.new(key, raw[:-20] + modifier, hashlib.sha1).digest() == raw[-20:]


def test_nuclei_0688(send: Send) -> None:
    # nuclei CVE-2020-0688: 200/302, body __VIEWSTATEGENERATOR AND "Exchange Control Panel", header ASP.NET_SessionId.
    response = send(exploits.nuclei_0688_check()).response
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers)
    assert response.status in (200, 302)
    assert b"__VIEWSTATEGENERATOR" in response.body and b"Exchange Control Panel" in response.body
    assert "ASP.NET_SessionId" in headers


def test_viewstate_exploit_recorded_and_500(send: Send) -> None:
    page = send(exploits.msf_ecp_default()).response
    session_id = re.search(r"ASP\.NET_SessionId=([\w\-]+);", page.header("Set-Cookie") or "").group(1)  # type: ignore[union-attr]
    key = bytes.fromhex("CB2721ABDAF8E9DC516D621D8B8BF13A2C9E8689A25303BF")
    gadget = b"\xff\x01inert test payload"
    mac = hmac.new(key, gadget + bytes.fromhex("B97B4E27")[::-1] + session_id.encode("utf-16-le"), hashlib.sha1)
    viewstate = base64.b64encode(gadget + mac.digest()).decode()
    reply = send(exploits.msf_viewstate_exploit(viewstate, "B97B4E27", f"ASP.NET_SessionId={session_id}"))
    assert reply.response.status == 500 and reply.stage == "cve_2020_0688.viewstate"
    assert reply.artifacts[0].content == gadget + mac.digest()
    assert "viewstate.mac_valid" in reply.tags


def test_nuclei_proxytoken(send: Send) -> None:
    # nuclei CVE-2021-33766: 403; body has msgCode span AND signOut(); headers have the exception AND X-BEResource=.
    reply = send(exploits.nuclei_33766_check())
    headers = "\n".join(f"{k}: {v}" for k, v in reply.response.headers)
    assert reply.response.status == 403 and reply.stage == "proxytoken.probe"
    assert b'<span id="msgCode">403</span>' in reply.response.body and b"function signOut() {" in reply.response.body
    assert "Microsoft.Exchange.Data.Storage.ObjectNotFoundException" in headers and "X-BEResource=" in headers


def test_hafnium_shell_paths_do_not_exist_unless_written(send: Send) -> None:
    for path in ("/owa/auth/errorPage.aspx", "/aspnet_client/shell.aspx", "/owa/auth/RedirSuiteServerProxy.aspx"):
        reply = send(exploits.ToolRequest("GET", path))
        assert reply.response.status != 200 and reply.stage is None
