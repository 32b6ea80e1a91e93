"""``encode_request_event`` writes the very bytes ``encode_event(request_event(...))`` writes, whether the
request shares its head with earlier ones (pre-encoded parts spliced in) or not."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from honeyscope.events.codec import decode_event, encode_event
from honeyscope.events.schema import Endpoint, HttpRequestEvent
from honeyscope.sensor.http.parser import HeadMemo, HttpParser, ParseLimits, RawRequest
from honeyscope.sensor.personas.exchange.persona import ExchangePersona
from honeyscope.sensor.recording import (
    ConnectionFacts,
    Exchange,
    TlsFacts,
    encode_request_event,
    make_observer,
    request_event,
)
from honeyscope.testing import persona_request

_ID = re.compile(rb'"id":"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"')

REQUESTS = [
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: mail.contoso.com:443\r\nUser-Agent: Mozilla/5.0\r\n\r\n",
    b"GET /owa/auth/logon.aspx?url=x&reason=2 HTTP/1.1\r\nHost: [::1]\r\nAuthorization: Basic dTpw\r\n\r\n",
    b"GET /x HTTP/1.0\r\nX-Forwarded-For: 198.51.100.4, 10.0.0.1\r\nX-Bin: \xff\xfe\r\n\r\n",
    b"POST /owa/auth.owa HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 45\r\n\r\ndestination=x&flags=4&username=u&password=p!!",
    b"GET /nul HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
]


def facts(tls: bool) -> ConnectionFacts:
    return ConnectionFacts(
        connection_id="c0ffee", listener="127.0.0.1:443", persona="exchange", observer=make_observer("s1"),
        source=Endpoint(ip="203.0.113.7", port=50000), destination=Endpoint(ip="127.0.0.1", port=443),
        tls=TlsFacts(version="1.2", cipher="ECDHE-RSA-AES256-GCM-SHA384", server_name="mail.contoso.com",
                     alpn_offered=["http/1.1"], ja4="t12d1516h1_8daaf6152771_e5627efa2ab1", established=True)
        if tls else None,
    )


def exchange_for(raw: RawRequest, index: int) -> Exchange:
    persona = ExchangePersona()
    reply = None
    if raw.error is None:
        reply = persona.handle(persona_request(raw.method, raw.target, raw.headers.items, raw.body, host=None))
    response = reply.response if reply is not None else persona.reject(raw)
    forwarded = raw.headers.get("x-forwarded-for")
    return Exchange(raw=raw, response=response, reply=reply, request_index=index,
                    received_at=datetime(2021, 3, 3, 12, 0, 0, 123456, tzinfo=UTC), read_us=7, handle_us=11,
                    duration_ns=12345, artifacts=[], forwarded_for=forwarded, source=Endpoint(ip="203.0.113.7", port=1))


@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("data", REQUESTS)
def test_spliced_encoding_is_byte_identical(data: bytes, tls: bool) -> None:
    memo = HeadMemo(ParseLimits())
    for index in range(1, 4):  # the first request fills the memo, the later ones share its parts
        (raw,) = HttpParser(ParseLimits(), memo).feed(data)
        exchange = exchange_for(raw, index)
        spliced = encode_request_event(facts(tls), exchange)
        reference = encode_event(request_event(facts(tls), exchange))
        assert _ID.sub(b'"id":"X"', spliced) == _ID.sub(b'"id":"X"', reference)
        event = decode_event(spliced)
        assert isinstance(event, HttpRequestEvent)
        assert event.honeyscope.request.head == raw.head[: len(event.honeyscope.request.head)]
        assert event.honeyscope.connection.request_index == index
