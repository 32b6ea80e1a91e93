"""Events of whole exploit chains, recorded in-process through the real Exchange persona into a spool."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from honeyscope.events.schema import HttpRequestEvent
from honeyscope.sensor.personas.exchange import ExchangePersona
from honeyscope.testing.record import InProcessRecorder, proxylogon_in_the_wild, proxyshell_dmaasland

SIGNATURE_BASE = Path(__file__).resolve().parents[3] / "shared" / "data" / "signature-base" / "yara"


@dataclass
class RecordedChain:
    spool: Path
    events: list[HttpRequestEvent]


def _record(base: Path, name: str, source_ip: str, start: datetime) -> RecordedChain:
    recorder = InProcessRecorder(ExchangePersona(), base / name, source_ip=source_ip, start=start)
    chain = proxylogon_in_the_wild if name == "proxylogon" else proxyshell_dmaasland
    reply = chain(recorder)
    assert reply.stage == "webshell.command"
    recorder.close()
    return RecordedChain(base / name, recorder.events)


@pytest.fixture(scope="session")
def proxylogon_chain(tmp_path_factory: pytest.TempPathFactory) -> RecordedChain:
    return _record(tmp_path_factory.mktemp("chains"), "proxylogon", "203.0.113.7",
                   datetime(2021, 3, 3, 3, 39, 17, tzinfo=UTC))


@pytest.fixture(scope="session")
def proxyshell_chain(tmp_path_factory: pytest.TempPathFactory) -> RecordedChain:
    return _record(tmp_path_factory.mktemp("chains"), "proxyshell", "198.51.100.9",
                   datetime(2021, 8, 9, 23, 59, 50, tzinfo=UTC))
