"""Run a real sensor process for tests, and talk to it over real sockets (loopback only)."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from honeyscope.events import Event, decode_event
from honeyscope.sensor.spool import ReadStats, read_spool


@dataclass
class LiveSensor:
    """A sensor subprocess: its URLs, directories and process handle."""

    process: subprocess.Popen[bytes]
    urls: list[str]
    spool: Path
    state: Path
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    def address(self, scheme: str = "http") -> tuple[str, int]:
        """(host, port) of the first listener with that scheme."""
        for url in self.urls:
            if url.startswith(scheme + "://"):
                host, _, port = url.split("://", 1)[1].rpartition(":")
                return host.strip("[]"), int(port)
        raise LookupError(f"no {scheme} listener")

    def events(self, stats: ReadStats | None = None) -> list[Event]:
        """Every event spooled so far."""
        return [decode_event(record.payload) for record in read_spool(self.spool, stats)]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL: what a crash looks like."""
        self.process.kill()
        self.process.wait(10)


@contextmanager
def live_sensor(
    directory: Path,
    *,
    http: int | None = 0,
    https: int | None = None,
    persona: str = "exchange",
    config_text: str | None = None,
    extra_args: Sequence[str] = (),
    host: str = "127.0.0.1",
    timeout: float = 20.0,
) -> Iterator[LiveSensor]:
    """Start ``honeyscope sensor`` on loopback ports (0 = any free port); stop it on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    spool, state = directory / "spool", directory / "state"
    ready = directory / "ready.txt"
    ready.unlink(missing_ok=True)
    command = [sys.executable, "-m", "honeyscope", "sensor", "--persona", persona, "--spool", str(spool),
               "--state", str(state), "--name", "test-sensor", "--ready-file", str(ready)]
    if http is not None:
        command += ["--http", f"{host}:{http}"]
    if https is not None:
        command += ["--https", f"{host}:{https}"]
    if config_text is not None:
        config = directory / "honeyscope.toml"
        config.write_text(config_text, encoding="utf-8")
        command += ["--config", str(config)]
    command += list(extra_args)
    log_path = directory / "sensor.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=_env())
    sensor = LiveSensor(process, [], spool, state, log_path)
    try:
        sensor.urls = _wait_ready(ready, process, log_path, timeout)
        yield sensor
    finally:
        terminate(process)


def terminate(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM, grace: float = 15.0) -> None:
    """Stop a server process politely (``signum``), killing it if it has not exited after ``grace`` s."""
    if process.poll() is not None:
        return
    process.send_signal(signum)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    source = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = source + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _wait_ready(ready: Path, process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text().endswith("\n"):
            return ready.read_text().split()
        if process.poll() is not None:
            raise RuntimeError(f"sensor exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        time.sleep(0.05)
    raise TimeoutError(f"sensor not ready after {timeout}s: {log_path.read_text()[-2000:]}")


def exchange_raw(
    address: tuple[str, int], data: bytes, *, tls: bool = False, server_name: str | None = None,
    read_timeout: float = 5.0, half_close: bool = False,
) -> bytes:
    """Send raw bytes, return everything the server sent until it closed or went quiet."""
    with socket.create_connection(address, timeout=read_timeout) as plain:
        sock: socket.socket = plain
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(plain, server_hostname=server_name)
        sock.sendall(data)
        if half_close and not tls:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError, ssl.SSLError):
            pass
        return b"".join(chunks)


@dataclass
class LiveNode:
    """A ``honeyscope up`` process: its decoy URLs, metrics URL and data directory."""

    process: subprocess.Popen[bytes]
    data: Path
    log_path: Path
    urls: list[str] = field(default_factory=list)
    metrics_url: str | None = None
    web_url: str | None = None

    def address(self, scheme: str = "http") -> tuple[str, int]:
        for url in self.urls:
            if url.startswith(scheme + "://"):
                host, _, port = url.split("://", 1)[1].rpartition(":")
                return host.strip("[]"), int(port)
        raise LookupError(f"no {scheme} listener")

    def status(self) -> dict[str, Any]:
        from honeyscope.collector.status import read_status

        return read_status(self.data)

    def wait_stored(self, count: int, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the status reports at least ``count`` events stored; the last status."""
        deadline = time.monotonic() + timeout
        status = self.status()
        while time.monotonic() < deadline:
            status = self.status()
            if status.get("events_stored", 0) >= count:
                return status
            if self.process.poll() is not None:
                raise RuntimeError(f"honeyscope up exited with {self.process.returncode}: {self.log()[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"{status.get('events_stored')} of {count} events stored after {timeout}s")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


@contextmanager
def live_up(data: Path, *, http: int | None = 0, https: int | None = None, extra_args: Sequence[str] = (),
            host: str = "127.0.0.1", timeout: float = 60.0, log_name: str = "up.log") -> Iterator[LiveNode]:
    """Start ``honeyscope up`` on loopback (ports 0 = any free port, metrics too); SIGTERM it on exit."""
    data.mkdir(parents=True, exist_ok=True)
    ready = data.parent / f"{data.name}-ready.json"
    ready.unlink(missing_ok=True)
    command = [sys.executable, "-m", "honeyscope", "up", "--data", str(data), "--metrics", f"{host}:0",
               "--web", f"{host}:0", "--ready-file", str(ready), "--name", "test-node"]
    if http is not None:
        command += ["--http", f"{host}:{http}"]
    if https is not None:
        command += ["--https", f"{host}:{https}"]
    command += list(extra_args)
    log_path = data.parent / log_name
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=_env())
    node = LiveNode(process, data, log_path)
    try:
        deadline = time.monotonic() + timeout
        while not (ready.exists() and ready.read_text().endswith("}")):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"honeyscope up did not start ({process.poll()}): {node.log()[-3000:]}")
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        node.urls, node.metrics_url, node.web_url = info["listeners"], info["metrics"], info.get("web")
        yield node
    finally:
        terminate(process, grace=60.0)
