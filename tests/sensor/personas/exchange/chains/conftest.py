"""One decoy and one attacker per test; ``send`` plays a tool's request.

Every chain test runs twice: in-process against the persona (``persona``), and over a real socket
against a real sensor process (``wire``), where the stage, artifacts and callbacks are read back from
the spool — so "the command reached the web shell and is in the spool" is checked end to end.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from honeyscope.sensor.personas.base import Reply
from honeyscope.sensor.personas.exchange import ExchangePersona
from honeyscope.testing import LiveSensor, live_sensor, persona_request
from honeyscope.testing.exploits import ToolRequest
from honeyscope.testing.wire import SpoolFollower, WireClient, reply_from_event

Send = Callable[..., Reply]
_ATTACKERS = itertools.count(2)


@pytest.fixture
def persona() -> ExchangePersona:
    return ExchangePersona()


@pytest.fixture(scope="module")
def sensor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSensor]:
    with live_sensor(tmp_path_factory.mktemp("chains")) as running:
        yield running


def _persona_player(persona: ExchangePersona) -> Send:
    state: dict[str, Any] = {}
    connection: dict[str, Any] = {}

    def play(request: ToolRequest, *, new_connection: bool = False) -> Reply:
        if new_connection:
            connection.clear()
        return persona.handle(persona_request(*request.args(), state=state, connection_state=connection))

    play.state = state  # type: ignore[attr-defined]
    return play


def _wire_player(sensor: LiveSensor) -> tuple[Send, WireClient]:
    # A fresh loopback source address per test is a fresh attacker for the decoy's per-source state.
    number = next(_ATTACKERS)
    client = WireClient(sensor.address(), source_ip=f"127.0.{number // 250}.{number % 250 + 2}")
    follower = SpoolFollower(Path(sensor.spool))
    follower.new_events()

    def play(request: ToolRequest, *, new_connection: bool = False) -> Reply:
        if new_connection:
            client.close()
        response = client.request(*request.args())
        events = follower.new_events()
        assert len(events) == 1, f"expected one event per request, got {len(events)}"
        return reply_from_event(response, events[0], Path(sensor.spool))

    return play, client


@pytest.fixture(params=["persona", "wire"])
def send(request: pytest.FixtureRequest, persona: ExchangePersona) -> Iterator[Send]:
    if request.param == "persona":
        yield _persona_player(persona)
        return
    play, client = _wire_player(request.getfixturevalue("sensor"))
    yield play
    client.close()
