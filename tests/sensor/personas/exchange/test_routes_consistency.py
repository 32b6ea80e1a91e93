"""What every answer shares: IIS's Server header, no trace of Python, and one build everywhere."""

from __future__ import annotations

import base64
import re
import struct

import pytest

from honeyscope.sensor.http.response import Response, serialize_response
from honeyscope.sensor.personas.exchange import ExchangePersona, ExchangeSettings
from honeyscope.testing import persona_request

TYPE1 = "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="
FORM = b"destination=https%3A%2F%2Fmail.contoso.com%2Fowa%2F&flags=4&username=a&password=b"
MANIFEST = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application"

REQUESTS: list[tuple[str, str, list[tuple[str, str]], bytes]] = [
    ("GET", "/", [], b""), ("HEAD", "/", [], b""), ("GET", "/owa", [], b""), ("GET", "/owa/", [], b""),
    ("HEAD", "/owa/", [], b""), ("POST", "/owa/", [], b"x=1"), ("PUT", "/owa/", [], b""),
    ("GET", "/owa/auth/logon.aspx", [], b""), ("HEAD", "/owa/auth/logon.aspx", [], b""),
    ("GET", "/owa/auth/logon.aspx?replaceCurrent=1&url=https://mail.contoso.com/ecp", [], b""),
    ("POST", "/owa/auth.owa", [("Content-Type", "application/x-www-form-urlencoded")], FORM),
    ("POST", "/owa/auth/owaauth.dll", [("Content-Type", "application/x-www-form-urlencoded")], b"a=b"),
    ("GET", "/owa/service", [], b""), ("GET", "/owa/auth/errorFE.aspx?httpCode=500", [], b""),
    ("GET", "/ecp", [], b""), ("GET", "/ecp/", [], b""), ("POST", "/ecp/default.aspx", [], b""),
    ("GET", MANIFEST, [], b""), ("GET", "/ecp/15.1.2176.2/exporttool/", [], b""),
    ("GET", "/ecp/15.1.2106.2/exporttool/", [], b""),
    ("GET", "/autodiscover/autodiscover.xml", [], b""), ("POST", "/autodiscover/autodiscover.xml", [], b"<x/>"),
    ("GET", "/autodiscover/autodiscover.json?Email=administrator@contoso.com&Protocol=EWS", [], b""),
    ("GET", "/autodiscover/autodiscover.json?Email=nobody@contoso.com&Protocol=EWS", [], b""),
    ("GET", "/autodiscover/autodiscover.json?Email=x@contoso.com&Protocol=Bogus", [], b""),
    ("GET", "/EWS/Exchange.asmx", [], b""), ("GET", "/ews/", [], b""), ("GET", "/mapi/", [], b""),
    ("GET", "/mapi/nspi/", [], b""), ("GET", "/rpc/", [], b""), ("RPC_IN_DATA", "/rpc/rpcproxy.dll", [], b""),
    ("GET", "/oab/", [], b""), ("GET", "/PowerShell/", [], b""), ("OPTIONS", "/Microsoft-Server-ActiveSync", [], b""),
    ("GET", "/ews/", [("Authorization", TYPE1)], b""), ("GET", "/", [("Authorization", TYPE1)], b""),
    ("GET", "/ews/", [("Authorization", "Basic YTpi")], b""), ("GET", "/aspnet_client", [], b""),
    ("GET", "/aspnet_client/", [], b""), ("GET", "/aspnet_client/system_web/x.aspx", [], b""),
    ("GET", "/favicon.ico", [], b""), ("GET", "/owa/favicon.ico", [], b""),
    ("GET", "/owa/auth/15.1.2176/themes/resources/logon.css", [], b""),
    ("POST", "/owa/auth/15.1.2176/themes/resources/logon.css", [], b""),
    ("OPTIONS", "/owa/auth/15.1.2176/themes/resources/logon.css", [], b""),
    ("GET", "/nonexistent.php", [], b""), ("GET", "/owa/auth/x.js", [], b""),
    ("GET", "/%6fwa/auth/logon.aspx", [], b""), ("GET", "/owa/auth/logon.aspx/..%5c..%5cweb.config", [], b""),
]


def wire(response: Response) -> bytes:
    return serialize_response(response, "Wed, 03 Mar 2021 12:00:00 GMT")


@pytest.mark.parametrize(("method", "target", "headers", "body"), REQUESTS)
def test_every_answer_is_iis_and_has_no_trace_of_python(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes,
) -> None:
    reply = ExchangePersona().handle(persona_request(method, target, headers, body))
    raw = wire(reply.response)
    assert reply.response.header("Server") == "Microsoft-IIS/10.0"
    assert re.search(rb"python|werkzeug|uvicorn|traceback|honeyscope", raw, re.I) is None
    assert re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)+", reply.route)
    if method == "HEAD":
        assert reply.response.omit_body and raw.endswith(b"\r\n\r\n")


def ntlm_version(persona: ExchangePersona) -> tuple[int, int, int]:
    header = persona.handle(persona_request("GET", "/ews/", [("Authorization", TYPE1)])).response.header(
        "WWW-Authenticate") or ""
    major, minor, build = struct.unpack_from("<BBH", base64.b64decode(header.split(" ")[1]), 48)
    return major, minor, build


@pytest.mark.parametrize(("build", "server", "windows"), [
    ("15.1.2176.2", "Microsoft-IIS/10.0", (10, 0, 14393)),
    ("15.2.792.3", "Microsoft-IIS/10.0", (10, 0, 17763)),
    ("15.0.1497.2", "Microsoft-IIS/8.5", (6, 3, 9600)),
])
def test_one_build_everywhere(build: str, server: str, windows: tuple[int, int, int]) -> None:
    persona = ExchangePersona(ExchangeSettings(build=build))

    def get(target: str) -> Response:
        return persona.handle(persona_request("GET", target)).response

    build3 = build.rsplit(".", 1)[0]
    major, minor, number, revision = (int(p) for p in build.split("."))
    logon = get("/owa/auth/logon.aspx")
    assert logon.header("X-OWA-Version") == build == get("/owa/").header("X-OWA-Version")
    assert set(re.findall(r"/owa/auth/([0-9.]+)/", logon.body.decode())) == {build3}
    versions = set(re.findall(r'version="([0-9.]+)"', get(MANIFEST).body.decode()))
    assert versions == {"1.0", build}  # the XML declaration, then every assemblyIdentity
    padded = f"Exchange/{major:02d}.{minor:02d}.{number:04d}.{revision:03d}"
    assert get(MANIFEST).header("X-ServerApplication") == padded
    assert get(f"/owa/auth/{build3}/themes/resources/logon.css").status == 200
    assert get("/owa/auth/15.1.9999/themes/resources/logon.css").status == 404
    assert get(f"/ecp/{build}/exporttool/").status == 200
    assert all(r.header("Server") == server for r in (logon, get("/"), get("/nope"), get("/ews/")))
    assert ntlm_version(persona) == windows


def test_internal_error_names_the_configured_iis_version() -> None:
    """The sensor's fallback when persona code fails must still look like this server's IIS."""
    from honeyscope.sensor.personas.exchange import ExchangePersona, ExchangeSettings

    for build, server in (("15.0.1497.2", "Microsoft-IIS/8.5"), ("15.1.2176.2", "Microsoft-IIS/10.0")):
        response = ExchangePersona(ExchangeSettings(build=build)).internal_error()
        assert response.status == 500 and response.close
        assert response.header("Server") == server
        assert b"500 - Internal server error." in response.body
