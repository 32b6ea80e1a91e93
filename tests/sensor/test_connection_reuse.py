"""A repeated identical request may be answered with the reply kept from the first one (renewed), but only
when that is indistinguishable from asking the persona again."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from honeyscope.config import LimitSettings
from honeyscope.events.schema import Observer
from honeyscope.sensor.connection import HttpConnection, ListenerContext
from honeyscope.sensor.http.parser import ParseLimits
from honeyscope.sensor.limits import LimitRecorder
from honeyscope.sensor.personas.base import AttackerStates, PersonaRequest, Reply
from honeyscope.sensor.personas.exchange.chains import webshell
from honeyscope.sensor.personas.exchange.persona import ExchangePersona
from honeyscope.sensor.spool import GroupCommit, SpoolWriter, read_spool
from honeyscope.testing import FakeClock, persona_request

LOGON = b"GET /owa/auth/logon.aspx HTTP/1.1\r\nHost: mail.contoso.com\r\nUser-Agent: scanner\r\n\r\n"
REQUEST_ID = re.compile(rb"request-id: ([0-9a-f-]{36})\r\n")


class CountingPersona(ExchangePersona):
    """The Exchange persona, counting the requests it was asked to answer."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def handle(self, request: PersonaRequest) -> Reply:
        self.asked += 1
        return super().handle(request)


class Transport:
    def __init__(self, peer: str, port: int) -> None:
        self.peer = (peer, port)
        self.data = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peer, "sockname": ("127.0.0.1", 443)}.get(name, default)

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


class Listener:
    """One listener's context without sockets; ``send`` delivers bytes and runs the loop turn."""

    def __init__(self, directory: Path) -> None:
        self.pending: list[Callable[[], None]] = []
        self.spool = SpoolWriter(directory)
        self.persona = CountingPersona()
        self.states = AttackerStates()
        clock = FakeClock()
        observer = Observer(name="t")
        self.context = ListenerContext(
            name="t", persona=self.persona, observer=observer, spool=self.spool, limits=LimitSettings(),
            parse_limits=ParseLimits(), clock=clock, states=self.states,
            recorder=LimitRecorder(self.spool, clock, observer), commit=GroupCommit(self.spool, self.pending.append),
            trusted_proxies=frozenset(), connections=set(), scheme="https",
        )

    def connect(self, source: str = "203.0.113.7", port: int = 50000) -> tuple[HttpConnection, Transport]:
        connection = HttpConnection(self.context)
        transport = Transport(source, port)
        connection.connection_made(transport)  # type: ignore[arg-type]
        return connection, transport

    def send(self, connection: HttpConnection, data: bytes) -> None:
        connection.data_received(data)
        while self.pending:
            self.pending.pop(0)()

    def routes(self) -> list[str]:
        return [json.loads(record.payload)["honeyscope"]["route"] for record in read_spool(self.spool.directory)]


@pytest.fixture
def listener() -> Iterator[Listener]:
    with tempfile.TemporaryDirectory() as directory:
        yield Listener(Path(directory))


def test_a_repeated_request_is_answered_the_same_with_a_fresh_request_id(listener: Listener) -> None:
    connection, transport = listener.connect()
    other, other_transport = listener.connect("198.51.100.9", 50001)
    for _ in range(3):
        listener.send(connection, LOGON)
        listener.send(other, LOGON)
    assert listener.persona.asked == 1  # the reply was reused for the five repeats
    responses = bytes(transport.data).split(b"HTTP/1.1 ")[1:] + bytes(other_transport.data).split(b"HTTP/1.1 ")[1:]
    ids = [REQUEST_ID.search(response).group(1) for response in responses]  # type: ignore[union-attr]
    assert len(set(ids)) == 6
    assert len({REQUEST_ID.sub(b"", response) for response in responses}) == 1
    assert listener.routes() == ["owa.logon_page"] * 6


def test_an_attacker_with_chain_state_is_always_asked_about(listener: Listener) -> None:
    # An attacker who had a chain write a web shell at the logon page's path gets the shell there; a
    # scanner from elsewhere still gets the page, reused.
    attacker = "203.0.113.66"
    state = listener.states.for_source(attacker)
    path = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\owa\\auth\\logon.aspx"
    webshell.write_shell(persona_request("POST", "/ecp/DDI/DDIService.svc/SetObject", state=state), path, "oab",
                         external_url="http://f/<script language=\"JScript\" runat=\"server\">x</script>")
    scanner, _ = listener.connect("198.51.100.9", 50001)
    shell, _ = listener.connect(attacker, 50002)
    for _ in range(2):
        listener.send(scanner, LOGON)
        listener.send(shell, LOGON)
    assert listener.routes() == ["owa.logon_page", "webshell.oab"] * 2
    assert listener.persona.asked == 3  # scanner once (then reused), the attacker every time


def test_replies_that_depend_on_more_than_the_head_are_not_reused(listener: Listener) -> None:
    # The redirect of a protected OWA URL carries a fresh ClientId cookie: asked every time.
    connection, transport = listener.connect()
    for _ in range(2):
        listener.send(connection, b"GET /owa/ HTTP/1.1\r\nHost: h\r\n\r\n")
    assert listener.persona.asked == 2
    cookies = re.findall(rb"ClientId=([0-9A-F]{32})", bytes(transport.data))
    assert len(set(cookies)) == 2
