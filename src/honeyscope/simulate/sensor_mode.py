"""``sensor`` mode: the plan's requests sent for real, over loopback, to a ``honeyscope up`` started for it.

Everything runs as in service — listener, parser, persona, spool, shipper, bus, enrichment, detection,
store — so this mode tests the live path, for short plans (``max_requests`` bounds it). Two differences
from ``store`` mode, by necessity:

* Timestamps are the real time of sending: a plan of many days is replayed in minutes, in its order.
  Trend truths are not written (every event falls on one or two days).
* The plan is thinned to about ``max_requests`` requests (campaigns with an actor are kept whole).
* Every request comes from 127.0.0.1; the simulated source travels in ``X-Forwarded-For``, which the
  decoy believes because the run's settings make 127.0.0.1 a trusted proxy (``sensor.trusted_proxies``).
  Events therefore carry that header, and the sensor's own name (one sensor: exposure 1).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import random
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import msgspec

from honeyscope.config import ConfigError
from honeyscope.events.schema import HttpRequestEvent
from honeyscope.simulate.chains import Answer
from honeyscope.simulate.plan import Planner, Visit
from honeyscope.simulate.scenario import Scenario
from honeyscope.simulate.tally import Tally
from honeyscope.simulate.templates import Single

Progress = Callable[[str], None]
_CONFIG = '[sensor]\ntrusted_proxies = ["127.0.0.1"]\n'
#: The one sensor of a sensor-mode run.
SENSOR_NAME = "simulated-sensor"
#: Longest ``honeyscope up`` may take to start (rules and geo data load first).
_START_SECONDS = 90.0


class _Client:
    """One visit's connection; reconnects when the decoy closes it (as IIS does after some answers)."""

    def __init__(self, address: tuple[str, int], tls: bool, host: str, source: str) -> None:
        self.host = host
        self.source = source
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # the decoy's certificate is self-signed by design
            self.connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                *address, timeout=10, context=context)
        else:
            self.connection = http.client.HTTPConnection(*address, timeout=10)
        self.sent = 0

    def send(self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> Answer:
        """One request, the simulated source in ``X-Forwarded-For``; the decoy's answer."""
        connection = self.connection
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", self.host)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("X-Forwarded-For", self.source)
        if body or method in ("POST", "PUT"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        data = response.read()
        self.sent += 1
        if response.will_close:
            connection.close()
        return Answer(response.status, response.getheaders(), data)

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def emit_sensor(scenario: Scenario, planner: Planner, tally: Tally, data_dir: Path, max_requests: int,
                progress: Progress | None = None) -> int:
    """Send the plan until ``max_requests`` requests, wait until they are stored, count them. Returns 0
    (no templates: every request is played for real)."""
    visits = _thinned(scenario, planner, max_requests)
    sent = 0
    with _running_node(data_dir) as node:
        for visit in visits:
            sent += _play(visit, node.addresses, scenario.simulation.host, tally)
            if sent >= max_requests:
                break
        if progress is not None:
            progress(f"sent {sent} requests of {len(visits)} visits; waiting until they are stored")
        node.wait_stored(sent, timeout=60.0 + sent / 50)
    _count(data_dir, planner, tally)
    return 0


class _Node:
    """A ``honeyscope up`` child process and its decoy's addresses."""

    def __init__(self, process: subprocess.Popen[bytes], data_dir: Path, addresses: dict[bool, tuple[str, int]],
                 log: Path) -> None:
        self.process = process
        self.data_dir = data_dir
        self.addresses = addresses
        self.log = log

    def wait_stored(self, count: int, timeout: float) -> None:
        """Until the node's status reports ``count`` events stored (bounded by ``timeout`` seconds)."""
        from honeyscope.collector.status import read_status

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if read_status(self.data_dir).get("events_stored", 0) >= count:
                return
            if self.process.poll() is not None:
                raise ConfigError(f"honeyscope up stopped ({self.process.returncode}); see {self.log}")
            time.sleep(0.2)
        raise ConfigError(f"the sent requests were not all stored within {timeout:.0f} s; see {self.log}")


@contextlib.contextmanager
def _running_node(data_dir: Path) -> Iterator[_Node]:
    """``honeyscope up`` on free loopback ports, 127.0.0.1 trusted as a proxy, no metrics; stopped on exit."""
    from honeyscope.testing.live import terminate

    directory = data_dir / "simulation"
    settings, ready, log = directory / "sensor-mode.toml", directory / "up-ready.json", directory / "up.log"
    settings.write_text(_CONFIG, encoding="utf-8")
    ready.unlink(missing_ok=True)
    command = [sys.executable, "-m", "honeyscope", "up", "--data", str(data_dir), "--config", str(settings),
               "--http", "127.0.0.1:0", "--https", "127.0.0.1:0", "--metrics", "", "--name", SENSOR_NAME,
               "--ready-file", str(ready), *_quiet_extras()]
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + _START_SECONDS
        while not (ready.exists() and ready.read_text(encoding="utf-8").endswith("}")):
            if process.poll() is not None or time.monotonic() > deadline:
                raise ConfigError(f"honeyscope up did not start ({process.poll()}); see {log}")
            time.sleep(0.05)
        listeners = msgspec.json.decode(ready.read_bytes())["listeners"]
        yield _Node(process, data_dir, {url.startswith("https"): _host_port(url) for url in listeners}, log)
    finally:
        terminate(process, grace=60.0)


def _thinned(scenario: Scenario, planner: Planner, max_requests: int) -> list[Visit]:
    """The whole plan in time order, thinned to about ``max_requests`` requests: every visit of a campaign
    with an actor is kept (they are what a demo shows), the others with one seeded probability."""
    visits = [visit for day in scenario.days for visit in planner.day(day)]
    actors = {f"campaign:{c.id}" for c in scenario.campaign if c.actor}
    kept = sum(_cost(v) for v in visits if v.origin in actors)
    others = sum(_cost(v) for v in visits if v.origin not in actors)
    share = min(1.0, max(0.0, (max_requests - kept) / others)) if others else 1.0
    rng = random.Random(f"honeyscope-simulate-thin-{len(visits)}-{max_requests}")
    return [v for v in visits if v.origin in actors or rng.random() < share]


def _cost(visit: Visit) -> int:
    """Requests a visit sends, roughly (a full chain is about ten)."""
    return sum(1 if isinstance(template, Single) else 10 if template.shell is not None else 2
               for template in visit.templates)


def _quiet_extras() -> list[str]:
    """``--web ''`` where ``up`` serves a dashboard by default: no fixed port to collide with."""
    from honeyscope.cli import up

    parser = argparse.ArgumentParser(add_help=False)
    up.register(parser.add_subparsers())
    _, unknown = parser.parse_known_args(["up", "--web", ""])
    return [] if unknown else ["--web", ""]


def _host_port(url: str) -> tuple[str, int]:
    host, _, port = url.split("://", 1)[1].rpartition(":")
    return host.strip("[]"), int(port)


def _play(visit: Visit, addresses: dict[bool, tuple[str, int]], host: str, tally: Tally) -> int:
    tally.visit(visit.origin, visit.start.date(), 0)
    client = _Client(addresses[visit.tls], visit.tls, host, visit.source_ip)
    try:
        for template in visit.templates:
            template.play(client.send)
    finally:
        client.close()
    return client.sent


def _count(data_dir: Path, planner: Planner, tally: Tally) -> None:
    """Count the stored events per origin (by source address: no two origins share one)."""
    from honeyscope.cli.sessions import stored_events
    from honeyscope.collector.wiring import open_store_for
    from honeyscope.simulate.run import node_settings_for

    origins = {ip: "noise" for pool in planner.sources.noise.values() for ip in pool}
    origins |= {ip: f"scanner:{name}" for name, pool in planner.sources.scanners.items() for ip in pool}
    origins |= {ip: f"campaign:{name}" for name, pool in planner.sources.campaigns.items() for ip in pool}
    store = open_store_for(node_settings_for(data_dir, None).store)
    try:
        for event in stored_events(store):
            if isinstance(event, HttpRequestEvent) and event.source.ip in origins:
                tally.event(origins[event.source.ip], 0, event)
    finally:
        store.close()
