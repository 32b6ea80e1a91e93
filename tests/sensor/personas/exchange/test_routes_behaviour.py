"""What a browser or client observes route by route (facts: exchange-facts.md A.1)."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from honeyscope.sensor.personas.base import Credential, Reply
from honeyscope.sensor.personas.exchange import ExchangePersona
from honeyscope.sensor.recording import authorization_credentials
from honeyscope.testing import persona_request

FORM_TYPE = ("Content-Type", "application/x-www-form-urlencoded")
TYPE1 = "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="


@pytest.fixture
def persona() -> ExchangePersona:
    return ExchangePersona()


def send(persona: ExchangePersona, method: str, target: str, headers: list[tuple[str, str]] | None = None,
         body: bytes = b"", **kwargs: object) -> Reply:
    return persona.handle(persona_request(method, target, headers or [], body, **kwargs))  # type: ignore[arg-type]


def type3(user: str, domain: str, workstation: str) -> bytes:
    fields = [b"\x00" * 24, b"\x01" * 48] + [s.encode("utf-16-le") for s in (domain, user, workstation)] + [b""]
    offset, buffers, payload = 64, b"", b""
    for value in fields:
        buffers += struct.pack("<HHI", len(value), len(value), offset)
        payload += value
        offset += len(value)
    return b"NTLMSSP\x00\x03\x00\x00\x00" + buffers + struct.pack("<I", 0xA2888205) + payload


# -- OWA ------------------------------------------------------------------------------------------


def test_owa_redirects_to_logon_with_dotnet_encoding(persona: ExchangePersona) -> None:
    reply = send(persona, "GET", "/owa/?ae=Folder&t=IPF.Note")
    assert (reply.response.status, reply.route) == (302, "owa.redirect_to_logon")
    assert reply.response.header("Location") == (
        "https://mail.contoso.com/owa/auth/logon.aspx?url=https%3a%2f%2fmail.contoso.com%2fowa%2f%3fae%3dFolder"
        "%26t%3dIPF.Note&reason=0")
    assert (reply.response.header("Set-Cookie") or "").startswith("ClientId=")


def test_http10_without_host_discloses_the_local_address(persona: ExchangePersona) -> None:
    reply = send(persona, "GET", "/", host=None)
    assert reply.response.header("Location") == "https://127.0.0.1/owa/"


def test_owa_without_slash_is_an_iis_directory_redirect(persona: ExchangePersona) -> None:
    reply = send(persona, "GET", "/owa")
    assert (reply.response.status, reply.response.header("Location")) == (301, "https://mail.contoso.com/owa/")


@pytest.mark.parametrize(("target", "encoded"), [("/ecp", "%2fecp"), ("/ecp/", "%2fecp%2f"),
                                                 ("/ecp/?ExchClientVer=15", "%2fecp%2f%3fExchClientVer%3d15")])
def test_ecp_redirects_to_logon(persona: ExchangePersona, target: str, encoded: str) -> None:
    reply = send(persona, "GET", target)
    assert reply.route == "ecp.redirect_to_logon"
    assert reply.response.header("Location") == (
        f"https://mail.contoso.com/owa/auth/logon.aspx?url=https%3a%2f%2fmail.contoso.com{encoded}&reason=0")


@pytest.mark.parametrize(("method", "target", "body"), [
    ("POST", "/owa/", b"<HTML><SCRIPT>if (parent.navbar != null) parent.location = self.location;else "
     b"self.location = self.location;</SCRIPT><BODY>440 Login Timeout</BODY></HTML>"),
    ("PUT", "/owa/x", b"<HTML><BODY>440 Login Timeout</BODY></HTML>"),
    ("POST", "/ecp/DDI/DDIService.svc/GetList", b"<HTML><SCRIPT>if (parent.navbar != null) parent.location = "
     b"self.location;else self.location = self.location;</SCRIPT><BODY>440 Login Timeout</BODY></HTML>"),
])
def test_fba_answers_other_verbs_with_440(persona: ExchangePersona, method: str, target: str, body: bytes) -> None:
    response = send(persona, method, target).response
    assert (response.status, response.body, response.close) == (440, body, True)
    assert response.header("Content-Type") == "text/html"


def test_logon_form_has_the_real_fields(persona: ExchangePersona) -> None:
    page = send(persona, "GET", "/owa/auth/logon.aspx").response.body.decode()
    assert '<form action="/owa/auth.owa" method="POST" name="logonForm"' in page
    for field in ('name="destination" value="https://mail.contoso.com/owa/"', 'name="flags" value="4"',
                  'name="forcedownlevel" value="0"', 'name="username"', 'name="password"', 'name="passwordText"',
                  'name="isUtf8" value="1"', 'name="trusted" value="4"', 'class="signInHeader">Outlook',
                  "/owa/auth/15.1.2176/themes/resources/favicon.ico",
                  "/owa/auth/15.1.2176/themes/resources/segoeui-regular.eot?#iefix",
                  "/(^|; )logondata=acc=([0|1])&lgn=([^;]+)(;|$)/", "cookieTest"):
        assert field in page
    assert page.startswith('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n'
                           "<!-- Copyright (c) 2011 Microsoft Corporation.  All rights reserved. -->\n"
                           "<!-- OwaPage = ASP.auth_logon_aspx -->\n")


def test_logon_page_escapes_the_destination(persona: ExchangePersona) -> None:
    page = send(persona, "GET", '/owa/auth/logon.aspx?url=%22%3E%3Cscript%3Ealert(1)%3C/script%3E').response.body
    assert b"<script>alert(1)" not in page and b"&quot;&gt;&lt;script&gt;" in page


def test_sign_in_records_the_form_credential_and_fails(persona: ExchangePersona) -> None:
    body = b"destination=https%3A%2F%2Fmail.contoso.com%2Fecp%2F&flags=4&username=CONTOSO%5Cjdoe&password=S3cret%21"
    reply = send(persona, "POST", "/owa/auth.owa", [FORM_TYPE], body)
    assert reply.credentials == [Credential(scheme="form", username="CONTOSO\\jdoe", password="S3cret!")]
    assert reply.response.header("Location") == (
        "https://mail.contoso.com/owa/auth/logon.aspx?url=https%3a%2f%2fmail.contoso.com%2fecp%2f&reason=2")
    retry = send(persona, "GET", "/owa/auth/logon.aspx?url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=2")
    assert b"The user name or password you entered isn't correct." in retry.response.body


@pytest.mark.parametrize("body", [b"username=a&password=b", b"destination=x&flags=4&username=a", b""])
def test_sign_in_without_required_fields_is_400(persona: ExchangePersona, body: bytes) -> None:
    reply = send(persona, "POST", "/owa/auth/owaauth.dll", [FORM_TYPE], body)
    assert (reply.response.status, reply.route, reply.credentials) == (400, "owa.auth_owa", [])


def test_error_fe_page(persona: ExchangePersona) -> None:
    reply = send(persona, "GET", "/owa/auth/errorFE.aspx?httpCode=500")
    assert reply.response.status == 200 and b"X-FEServer: EXCH01" in reply.response.body


def test_paths_match_without_case_or_encoding(persona: ExchangePersona) -> None:
    assert send(persona, "GET", "/OWA/AUTH/LOGON.ASPX").route == "owa.logon_page"
    assert send(persona, "GET", "/%6fwa/auth/logon.aspx").route == "owa.logon_page"


# -- ECP export tool ------------------------------------------------------------------------------


def test_exporttool_only_for_the_installed_build(persona: ExchangePersona) -> None:
    name = "microsoft.exchange.ediscovery.exporttool.application"
    ours = send(persona, "GET", f"/ecp/15.1.2176.2/exporttool/{name}").response
    assert ours.status == 200 and ours.header("Content-Type") == "application/x-ms-application"
    assert ours.header("X-CalculatedBETarget") == "exch01.contoso.local" and ours.header("X-FEServer") == "EXCH01"
    assert send(persona, "GET", f"/ecp/15.1.2176.9/exporttool/{name}").response.status == 404
    assert send(persona, "GET", "/ecp/15.2.792.3/exporttool/").response.status == 404


# -- Autodiscover ---------------------------------------------------------------------------------


def test_autodiscover_json_for_known_and_unknown_mailboxes(persona: ExchangePersona) -> None:
    known = send(persona, "GET", "/autodiscover/autodiscover.json?Email=administrator@contoso.com&Protocol=EWS")
    assert json.loads(known.response.body) == {"Protocol": "EWS", "Url": "https://mail.contoso.com/EWS/Exchange.asmx"}
    unknown = send(persona, "GET", "/autodiscover/autodiscover.json?Email=ghost@contoso.com&Protocol=EWS")
    assert json.loads(unknown.response.body) == {"ErrorCode": "UserNotFound",
                                                 "ErrorMessage": "The given User is not found"}
    sync = send(persona, "GET", "/autodiscover/autodiscover.json?Email=helpdesk@contoso.com&Protocol=activesync")
    assert json.loads(sync.response.body)["Url"] == "https://mail.contoso.com/Microsoft-Server-ActiveSync"
    assert send(persona, "GET", "/autodiscover/autodiscover.json?Email=a@b&Protocol=x").response.status == 400


def test_autodiscover_xml_offers_three_schemes(persona: ExchangePersona) -> None:
    response = send(persona, "POST", "/autodiscover/autodiscover.xml", body=b"<Autodiscover/>").response
    offers = [v for k, v in response.headers if k == "WWW-Authenticate"]
    assert response.status == 401 and offers == ["Negotiate", "NTLM", 'Basic realm="mail.contoso.com"']
    assert response.body == b"" and response.header("X-OWA-Version") == "15.1.2176.2"


@pytest.mark.parametrize(("target", "route", "offers"), [
    ("/EWS/Exchange.asmx", "ews.unauthorized", ["Negotiate", "NTLM"]),
    ("/mapi/nspi/", "mapi.unauthorized", ["Negotiate", "NTLM"]),
    ("/rpc/rpcproxy.dll", "rpc.unauthorized", ["Negotiate", "NTLM", 'Basic realm="mail.contoso.com"']),
    ("/OAB/", "oab.unauthorized", ["Negotiate", "NTLM"]),
    ("/PowerShell/", "powershell.unauthorized", ["Negotiate"]),
    ("/Microsoft-Server-ActiveSync", "activesync.unauthorized", ['Basic realm="mail.contoso.com"']),
])
def test_windows_auth_vdirs_answer_401(persona: ExchangePersona, target: str, route: str, offers: list[str]) -> None:
    reply = send(persona, "GET", target)
    assert (reply.response.status, reply.route) == (401, route)
    assert [v for k, v in reply.response.headers if k == "WWW-Authenticate"] == offers


# -- credentials in Authorization -----------------------------------------------------------------


def test_basic_credential_is_recorded_and_refused(persona: ExchangePersona) -> None:
    header = "Basic " + base64.b64encode(b"CONTOSO\\svc:Passw0rd").decode()
    reply = send(persona, "GET", "/Microsoft-Server-ActiveSync", [("Authorization", header)])
    assert reply.response.status == 401
    assert reply.credentials == [Credential(scheme="basic", username="CONTOSO\\svc", password="Passw0rd")]
    owa = send(persona, "GET", "/owa/", [("Authorization", header)])
    assert owa.response.status == 302 and owa.credentials == reply.credentials


def test_ntlm_type3_is_recorded_like_the_sensor_records_it_and_refused(persona: ExchangePersona) -> None:
    header = "NTLM " + base64.b64encode(type3("jdoe", "CONTOSO", "KALI")).decode()
    reply = send(persona, "POST", "/EWS/Exchange.asmx", [("Authorization", header)])
    assert reply.response.status == 401 and reply.route == "ews.unauthorized"
    assert reply.credentials == [Credential(scheme="ntlm", username="jdoe", domain="CONTOSO", workstation="KALI")]
    # Equal to what the sensor's recorder derives from the header, so the event lists it once.
    assert [c.username for c in authorization_credentials(header)] == ["jdoe"]
    assert reply.credentials == authorization_credentials(header)


def test_type1_challenge_is_kept_per_connection(persona: ExchangePersona) -> None:
    connection: dict[str, object] = {}
    reply = send(persona, "GET", "/rpc/", [("Authorization", TYPE1)], connection_state=connection)
    blob = base64.b64decode((reply.response.header("WWW-Authenticate") or "").split(" ")[1])
    assert connection["ntlm_challenge"] == blob[24:32].hex() and "ntlm.challenge" in reply.tags
    negotiate = send(persona, "GET", "/ews/", [("Authorization", "Negotiate " + TYPE1.split(" ")[1])])
    assert (negotiate.response.header("WWW-Authenticate") or "").startswith("Negotiate TlRMTVNTUAAC")


# -- IIS ------------------------------------------------------------------------------------------


def test_iis_pages(persona: ExchangePersona) -> None:
    missing = send(persona, "GET", "/wp-login.php").response
    assert missing.status == 404 and b"<title>404 - File or directory not found.</title>" in missing.body
    assert send(persona, "GET", "/aspnet_client/").response.status == 403
    assert send(persona, "GET", "/aspnet_client/system_web/shell.aspx").response.status == 404
    wrong_verb = send(persona, "POST", "/owa/auth/15.1.2176/themes/resources/logon.css").response
    assert wrong_verb.status == 405 and wrong_verb.header("Allow") == "GET, HEAD, OPTIONS, TRACE"
    assert b"405 - HTTP verb used to access this page is not allowed." in wrong_verb.body


def test_favicons_and_static_validators(persona: ExchangePersona) -> None:
    root = send(persona, "GET", "/favicon.ico").response
    owa = send(persona, "GET", "/owa/favicon.ico").response
    assert root.status == owa.status == 200 and root.body == owa.body and root.body[:4] == b"\x00\x00\x01\x00"
    assert root.header("Content-Type") == "image/x-icon"
    assert root.header("ETag") == owa.header("ETag") and (root.header("ETag") or "").endswith(':0"')
    head = send(persona, "HEAD", "/favicon.ico").response
    assert head.omit_body and head.body == root.body  # Content-Length of the GET, no body on the wire
