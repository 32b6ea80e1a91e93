"""Fuzz target: arbitrary bytes through the parser and the Exchange persona never escape as an exception.

Bounded for CI by hypothesis settings (example count and deadline); run longer locally with
``HYPOTHESIS_PROFILE=long``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honeyscope.sensor.http.parser import HttpParser, ParseLimits
from honeyscope.sensor.http.response import serialize_response
from honeyscope.sensor.personas.base import PersonaRequest
from honeyscope.sensor.personas.exchange import ExchangePersona

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = 20000 if LONG else 400
PERSONA = ExchangePersona()
STATE: dict[str, object] = {}

methods = st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS", "RPC_IN_DATA", "PROPFIND", "G\x00T"])
paths = st.sampled_from([
    "/", "/owa/", "/owa/auth/logon.aspx", "/owa/auth.owa", "/ecp/", "/ecp/y.js", "/owa/auth/x.js",
    "/autodiscover/autodiscover.json", "/autodiscover/autodiscover.xml", "/mapi/nspi/", "/mapi/emsmdb",
    "/EWS/Exchange.asmx", "/PowerShell/", "/rpc/rpcproxy.dll", "/ecp/DDI/DDIService.svc/SetObject",
    "/ecp/proxyLogon.ecp", "/ecp/default.aspx", "/aspnet_client/x.aspx", "/Microsoft-Server-ActiveSync",
])
header_names = st.sampled_from(["Cookie", "Authorization", "Content-Type", "X-BEResource", "msExchLogonMailbox",
                                "User-Agent", "X-Rps-CAT", "X-Up-Devcap-Post-Charset", "Host"])
text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=120)


@st.composite
def http_requests(draw: st.DrawFn) -> bytes:
    method = draw(methods)
    target = draw(paths) + draw(st.sampled_from(["", "?", "?Email=autodiscover/autodiscover.json%3F@a.b",
                                                 "?a=~1942062522", "?__VIEWSTATE=AAAA"])) + draw(text)[:40]
    headers = draw(st.lists(st.tuples(header_names, text), max_size=8))
    body = draw(st.binary(max_size=300))
    lines = [f"{method} {target} HTTP/1.1", "Host: mail.contoso.com"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exercise(data: bytes, step: int) -> None:
    parser = HttpParser(ParseLimits(max_head_bytes=8192, body_store_bytes=4096))
    for start in range(0, len(data), step):
        for raw in parser.feed(data[start : start + step]):
            if raw.error is not None:
                response = PERSONA.reject(raw)
            else:
                path, _, query = raw.target.partition("?")
                request = PersonaRequest(
                    method=raw.method, target=raw.target, path=path, query=query, version=raw.version,
                    headers=raw.headers, body=raw.body, body_length=raw.body_length, scheme="https",
                    source_ip="198.51.100.1", source_port=1, local_ip="127.0.0.1", local_port=443,
                    now=datetime(2021, 3, 3, tzinfo=UTC), state=STATE,
                )
                response = PERSONA.handle(request).response
            wire = serialize_response(response, "Wed, 03 Mar 2021 00:00:00 GMT")
            assert wire.startswith(b"HTTP/1.1 ")
            assert b"Traceback" not in wire and b"python" not in wire.lower()
    parser.eof()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=64))
def test_random_bytes(data: bytes, step: int) -> None:
    exercise(data, step)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(http_requests(), min_size=1, max_size=4), st.integers(min_value=1, max_value=4096))
def test_structured_requests_through_the_persona(requests: list[bytes], step: int) -> None:
    exercise(b"".join(requests), step)
