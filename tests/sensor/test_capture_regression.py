"""The hot-path work changed how requests are answered and recorded, not what: responses and events for a
set of requests are compared with those the sensor produced before it (``data/capture_before.json``).

The scenario drives ``HttpConnection`` without sockets, each request twice on one keep-alive connection
(so the second takes the reuse paths: parsed-head memo, reused reply, spliced event parts), over a plain
and a TLS-scheme listener. Values that differ by design are normalised first: Date, request-id, ClientId
and NTLM challenges (random), event ids, connection ids and timings.

To regenerate the expectation from another version of the code (only if a change of output is intended):
``PYTHONPATH=<that version>/src .venv/bin/python tests/sensor/test_capture_regression.py --write``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from honeyscope.config import LimitSettings
from honeyscope.events.schema import Observer
from honeyscope.sensor.connection import HttpConnection, ListenerContext
from honeyscope.sensor.http.parser import ParseLimits
from honeyscope.sensor.limits import LimitRecorder
from honeyscope.sensor.personas.base import AttackerStates
from honeyscope.sensor.personas.exchange.persona import ExchangePersona
from honeyscope.sensor.spool import GroupCommit, SpoolWriter, read_spool
from honeyscope.testing import FakeClock

EXPECTED = Path(__file__).parent / "data" / "capture_before.json"
PROXY = "203.0.113.9"

_UA = b"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36\r\nAccept: */*\r\n"
REQUESTS: list[bytes] = [
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: 127.0.0.1:40123\r\n" + _UA + b"\r\n",
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: mail.example.org\r\n\r\n",
    b"HEAD /owa/auth/logon.aspx HTTP/1.1\r\nHost: mail.example.org\r\n\r\n",
    b"GET /owa/auth/logon.aspx?url=https%3a%2f%2fmail%2fecp%2f&reason=0 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /owa/auth/logon.aspx?url=https%3a%2f%2fmail%2fowa%2f&reason=2 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /owa/auth/logon.aspx?URL=<script>&Reason=2 HTTP/1.1\r\nhost: x:1\r\n\r\n",
    b"GET /OWA/auth/Logon.aspx HTTP/1.1\r\nHost: [::1]:8080\r\nCookie: a=b; X-BEResource=x\r\n\r\n",
    b"POST /owa/auth/logon.aspx HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    b"PUT /owa/auth/logon.aspx HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /owa/auth/logon.aspx HTTP/1.0\r\n\r\n",
    b"GET /owa/auth/logon.aspx HTTP/1.0\r\nConnection: keep-alive\r\nHost: h\r\n\r\n",
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n",
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: h\r\n"
    b"Authorization: NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==\r\n\r\n",
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nUser-Agent: a\r\n"
    b"User-Agent: b\r\n\r\n",
    b"GET /owa/auth/logon.aspx HTTP/1.1\nHost: h\n\n",
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: h\r\nX-Bad: a\x00b\r\n\r\n",
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: h\r\nX-Latin: caf\xe9\r\n\r\n",
    b"GET /owa/ HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /favicon.ico HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /ecp/ HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /EWS/Exchange.asmx HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /owa/auth/15.1.2176/themes/resources/favicon.ico HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET /owa/auth/logon.aspx?url=a&url=b HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n",
    b"GET /x.js HTTP/1.1\r\nHost: h\r\nCookie: X-BEResource=attacker.example~1942062522\r\n\r\n",
    b"GET /autodiscover/autodiscover.json?@x.com/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@x.com "
    b"HTTP/1.1\r\nHost: h\r\n\r\n",
]

_RANDOM_VALUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n"), "Date: D\r\n"),
    (re.compile(r"request-id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"), "request-id: R"),
    (re.compile(r"ClientId=[0-9A-F]{32}"), "ClientId=C"),
    (re.compile(r"(WWW-Authenticate: (?:NTLM|Negotiate) )TlRMTVNTUAAC[A-Za-z0-9+/=]+"), r"\1T"),
]


class _Transport:
    """Records what the connection sends; just enough of an asyncio transport."""

    def __init__(self, peer: tuple[str, int]) -> None:
        self.peer = peer
        self.data = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peer, "sockname": ("127.0.0.1", 80)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.data += data

    def writelines(self, data: list[bytes]) -> None:
        for part in data:
            self.data += part

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _wire_text(data: bytes) -> str:
    text = data.decode("latin-1")
    for pattern, replacement in _RANDOM_VALUES:
        text = pattern.sub(replacement, text)
    return text


def _event_text(payload: bytes) -> str:
    event = json.loads(payload)
    event["event"]["id"] = "X"
    event["event"]["duration"] = 0
    ours = event["honeyscope"]
    if "connection" in ours:
        ours["connection"]["id"] = "C"
    ours["timing"] = {}
    if ours.get("limit", {}).get("connection_id"):
        ours["limit"]["connection_id"] = "C"
    return json.dumps(event, sort_keys=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("latin-1", "replace")).hexdigest()[:16]


def run_scenario() -> list[dict[str, Any]]:
    """Every request twice per connection, plain then TLS-scheme listener; what came out of each."""
    pending: list[Callable[[], None]] = []

    def turn() -> None:
        while pending:
            pending.pop(0)()

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as directory:
        spool = SpoolWriter(Path(directory))
        clock = FakeClock()
        commit = GroupCommit(spool, pending.append)
        states = AttackerStates()
        persona = ExchangePersona()
        observer = Observer(name="golden")
        contexts = {
            scheme: ListenerContext(
                name="golden", persona=persona, observer=observer, spool=spool, limits=LimitSettings(),
                parse_limits=ParseLimits(), clock=clock, states=states,
                recorder=LimitRecorder(spool, clock, observer), commit=commit,
                trusted_proxies=frozenset({PROXY}), connections=set(), scheme=scheme,
            )
            for scheme in ("http", "https")
        }
        seen = 0
        number = 0
        for request in REQUESTS:
            for scheme, context in contexts.items():
                number += 1
                connection = HttpConnection(context)
                transport = _Transport((PROXY if number % 3 == 0 else "203.0.113.7", 40000 + number))
                connection.connection_made(transport)  # type: ignore[arg-type]
                for _ in range(2):
                    connection.data_received(request)
                    turn()
                connection.connection_lost(None)
                turn()
                events = [record.payload for record in read_spool(Path(directory))][seen:]
                seen += len(events)
                wire = _wire_text(bytes(transport.data))
                results.append({
                    "request": request.decode("latin-1"), "scheme": scheme,
                    "statuses": re.findall(r"HTTP/1\.1 \d{3}", wire),
                    "wire": _digest(wire), "events": [_digest(_event_text(event)) for event in events],
                })
    return results


def test_responses_and_events_are_those_of_the_sensor_before_the_hot_path_work() -> None:
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    actual = run_scenario()
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert (got["request"], got["scheme"]) == (want["request"], want["scheme"])
        assert got == want, f"{want['scheme']} {want['request'][:80]!r}: output changed"


if __name__ == "__main__" and "--write" in sys.argv:
    EXPECTED.parent.mkdir(exist_ok=True)
    EXPECTED.write_text(json.dumps(run_scenario(), indent=1) + "\n", encoding="utf-8")
