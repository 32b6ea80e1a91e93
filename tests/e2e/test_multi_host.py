"""Issue 3's acceptance run on real servers: 2 sensors → NATS JetStream → 2 collectors → PostgreSQL.

Under a bounded load of 200k requests, one collector is killed with SIGKILL (and started again), the NATS
server is restarted, and one sensor with its shipper is stopped and started again. Afterwards the store
must hold exactly the events the sensors spooled, compared by id set: none missing, none twice.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from honeyscope.collector.replay import event_id_of
from honeyscope.config import StoreSettings
from honeyscope.sensor.spool import read_spool
from honeyscope.store import open_store
from honeyscope.testing.live import _env, live_sensor, terminate
from honeyscope.testing.load import LoadResult, generate_load
from honeyscope.testing.nats import NatsServer, NatsServerError
from honeyscope.testing.postgres import PostgresServer, PostgresUnavailableError

pytestmark = pytest.mark.slow

TOTAL_REQUESTS = 200_000


@contextmanager
def process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as output:
        child = subprocess.Popen([sys.executable, "-m", "honeyscope", *command], stdout=output,
                                 stderr=subprocess.STDOUT, env=_env())
    try:
        yield child
    finally:
        terminate(child, grace=60.0)


def shipper(directory: Path, nats: NatsServer, name: str) -> list[str]:
    return ["ship", "--spool", str(directory / "spool"), "--state", str(directory / "state"), "--nats", nats.url,
            "--name", name]


def collector(directory: Path, nats: NatsServer, dsn: str, name: str) -> list[str]:
    return ["collect", "--nats", nats.url, "--postgres", dsn, "--data", str(directory), "--metrics", "",
            "--name", name]


def spooled_ids(*spools: Path) -> list[str]:
    return [event_id_of(record.payload) for spool in spools for record in read_spool(spool)]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} not reached within {timeout} s")


@pytest.mark.timeout(1500)  # ≈ 170 s on an idle 2-core machine; generous for a loaded one
def test_two_sensors_two_collectors_survive_crashes_and_restarts(tmp_path: Path) -> None:
    try:
        nats = NatsServer(tmp_path / "nats")
        postgres = PostgresServer()  # its own directory under /tmp: the server runs as another user
    except (NatsServerError, PostgresUnavailableError) as error:
        pytest.skip(str(error))
    with ExitStack() as stack:
        stack.enter_context(nats)
        stack.enter_context(postgres)
        dsn = postgres.create_database("honeyscope")
        store = open_store(StoreSettings(kind="postgres", dsn=dsn))
        store.migrate()
        stack.callback(store.close)
        one, two = tmp_path / "sensor-1", tmp_path / "sensor-2"
        sensor_one = stack.enter_context(live_sensor(one, extra_args=["--name", "sensor-1"]))
        sensor_two = stack.enter_context(live_sensor(two, extra_args=["--name", "sensor-2"]))
        port_two = sensor_two.address()[1]
        stack.enter_context(process(shipper(one, nats, "sensor-1"), tmp_path / "ship-1.log"))
        ship_two = stack.enter_context(process(shipper(two, nats, "sensor-2"), tmp_path / "ship-2.log"))
        collector_a = stack.enter_context(process(collector(tmp_path / "collector-a", nats, dsn, "a"),
                                                  tmp_path / "collector-a.log"))
        stack.enter_context(process(collector(tmp_path / "collector-b", nats, dsn, "b"),
                                    tmp_path / "collector-b.log"))

        results: list[LoadResult] = []
        targets = [sensor_one.address(), sensor_two.address()]
        load = threading.Thread(target=lambda: results.append(asyncio.run(generate_load(
            targets, total=TOTAL_REQUESTS, connections=16, pipeline=16, deadline=900))))
        load.start()
        wait_until(lambda: store.count() > 20_000, 300, "20k events stored")
        collector_a.kill()  # a crash: its unacknowledged deliveries must be redelivered to the other
        collector_a.wait(10)
        wait_until(lambda: store.count() > 60_000, 300, "60k events stored")
        nats.restart()
        stack.enter_context(process(collector(tmp_path / "collector-a", nats, dsn, "a"),
                                    tmp_path / "collector-a.log"))
        wait_until(lambda: store.count() > 100_000, 300, "100k events stored")
        terminate(ship_two)  # stop shipper 2 and sensor 2, then start both again (same port)
        terminate(sensor_two.process)
        sensor_two = stack.enter_context(live_sensor(two, http=port_two, extra_args=["--name", "sensor-2"]))
        stack.enter_context(process(shipper(two, nats, "sensor-2"), tmp_path / "ship-2b.log"))
        load.join(timeout=900)
        assert not load.is_alive()
        terminate(sensor_one.process)
        terminate(sensor_two.process)

        spooled = spooled_ids(one / "spool", two / "spool")
        wait_until(lambda: store.count() >= len(set(spooled)), 300, f"{len(set(spooled))} events stored")
        stored = store.event_ids()
        assert results and results[0].answered >= TOTAL_REQUESTS * 0.99
        assert len(spooled) == len(set(spooled)) >= TOTAL_REQUESTS
        assert stored == set(spooled)
        assert store.count() == len(stored)  # none twice
