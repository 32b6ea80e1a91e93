"""Helpers for the end-to-end tests: raw loopback sockets, response parsing, spool look-ups.

Everything here talks only to 127.0.0.1 and every wait is bounded by a deadline. The helpers are
handed to tests as the ``wire`` fixture (pytest's importlib mode does not let tests import conftest).
"""

from __future__ import annotations

import contextlib
import resource
import select
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from honeyscope.events import HttpRequestEvent, LimitEvent, TlsHandshakeEvent
from honeyscope.testing.live import LiveSensor

#: Words that would betray the implementation behind the decoy (checked case-insensitively).
FORBIDDEN = ("python", "traceback", "uvloop", "asyncio", "werkzeug", "uvicorn", "honeyscope")

#: Statuses a real Exchange front end gives a plain ``GET /`` (302 to /owa/) or a page (200).
SERVING = (200, 302)


def tls_available() -> bool:
    """True once the sensor's TLS layer can be imported (HTTPS listeners work)."""
    try:
        import honeyscope.sensor.tls.session  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Reply:
    """What came back on one connection: the bytes, whether the server ended it, our source port."""

    data: bytes
    closed: bool
    reset: bool
    port: int
    seconds: float = 0.0


@dataclass
class HttpResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw_head: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def header_all(self, name: str) -> list[str]:
        lowered = name.lower()
        return [v for k, v in self.headers if k.lower() == lowered]


class IncompleteResponseError(ValueError):
    """The bytes end before a whole response."""


def parse_response(data: bytes, *, head_only: bool = False) -> tuple[HttpResponse, bytes]:
    """One HTTP/1.x response from the front of ``data`` and the bytes after it."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise IncompleteResponseError(f"no complete response head in {data[:200]!r}")
    head = data[:end].decode("latin-1")
    status_line, *lines = head.split("\r\n")
    version, status, *reason = status_line.split(" ", 2)
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {status_line!r}")
    headers = [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]
    rest = data[end + 4:]
    length = 0
    if not head_only:
        length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
    if len(rest) < length:
        raise IncompleteResponseError(f"body has {len(rest)} of {length} bytes")
    response = HttpResponse(int(status), reason[0] if reason else "", headers, rest[:length], data[:end + 4])
    return response, rest[length:]


def talk(address: tuple[str, int], data: bytes, *, timeout: float = 5.0, tls: bool = False,
         half_close: bool = False) -> Reply:
    """Send ``data`` on a new connection and collect the answer until the server closes or goes quiet."""
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(socket.create_connection(address, timeout=timeout))
        port = sock.getsockname()[1]
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = stack.enter_context(context.wrap_socket(sock, server_hostname="mail.contoso.com"))
        with contextlib.suppress(OSError):
            sock.sendall(data)
            if half_close and not tls:
                sock.shutdown(socket.SHUT_WR)
        chunks, closed, reset = _drain(sock, started + timeout)
        return Reply(b"".join(chunks), closed, reset, port, time.monotonic() - started)


def _drain(sock: socket.socket, deadline: float) -> tuple[list[bytes], bool, bool]:
    chunks: list[bytes] = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            return chunks, False, False
        except (ConnectionResetError, BrokenPipeError):
            return chunks, True, True
        except ssl.SSLError:
            return chunks, True, False
        if not chunk:
            return chunks, True, False
        chunks.append(chunk)
    return chunks, False, False


def request(address: tuple[str, int], method: str = "GET", path: str = "/", *, host: str = "mail.contoso.com",
            extra: str = "", tls: bool = False) -> HttpResponse:
    """One well-formed request with ``Connection: close``; the parsed response."""
    data = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
            f"\r\nAccept: */*\r\n{extra}Connection: close\r\n\r\n").encode("latin-1")
    reply = talk(address, data, tls=tls)
    response, _ = parse_response(reply.data, head_only=method == "HEAD")
    return response


def assert_no_leak(data: bytes) -> None:
    """Nothing in what the attacker saw names the software really answering."""
    lowered = data.lower()
    for word in FORBIDDEN:
        assert word.encode() not in lowered, f"response leaks {word!r}: {data[:400]!r}"


def assert_still_serving(sensor: LiveSensor, scheme: str = "http") -> None:
    """The process is alive and answers an ordinary ``GET /`` as Exchange does (302 or 200)."""
    assert sensor.process.poll() is None, f"sensor died: {sensor.log()[-2000:]}"
    response = request(sensor.address(scheme), tls=scheme == "https")
    assert response.status in SERVING, f"GET / answered {response.status} {response.reason}"
    assert response.header("Server") == "Microsoft-IIS/10.0"


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def requests_from(sensor: LiveSensor, port: int, *, expect: int = 1, timeout: float = 5.0) -> list[HttpRequestEvent]:
    """The ``http.request`` events of the connection from our source ``port`` (waits for ``expect``)."""

    def found() -> list[HttpRequestEvent]:
        events = [e for e in sensor.events() if isinstance(e, HttpRequestEvent) and e.source.port == port]
        return events if len(events) >= expect else []

    return wait_for(found, timeout) or [
        e for e in sensor.events() if isinstance(e, HttpRequestEvent) and e.source.port == port]


def limit_events(sensor: LiveSensor, limit: str) -> list[LimitEvent]:
    return [e for e in sensor.events() if isinstance(e, LimitEvent) and e.honeyscope.limit.limit == limit]


def handshakes_from(sensor: LiveSensor, port: int) -> list[TlsHandshakeEvent]:
    return [e for e in sensor.events() if isinstance(e, TlsHandshakeEvent) and e.source.port == port]


def marker() -> str:
    """A unique token to find one request again in the spool."""
    return uuid.uuid4().hex[:16]


def rss(sensor: LiveSensor) -> int:
    """Resident memory of the sensor process, in bytes."""
    return int(psutil.Process(sensor.process.pid).memory_info().rss)


@contextlib.contextmanager
def open_files_limit(wanted: int) -> Iterator[int]:
    """Raise this process's RLIMIT_NOFILE soft limit (children inherit it); restore it afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = soft if hard != resource.RLIM_INFINITY and hard < wanted else max(soft, wanted)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    try:
        yield target
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@dataclass
class ConnectionFlood:
    """Many idle client sockets to one address, opened in a bounded loop."""

    sockets: list[socket.socket] = field(default_factory=list)
    failed: int = 0

    def open(self, address: tuple[str, int], count: int, deadline: float) -> None:
        for _ in range(count):
            if time.monotonic() >= deadline:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(2.0)
            try:
                sock.connect(address)
            except OSError:
                sock.close()
                self.failed += 1
                continue
            self.sockets.append(sock)

    def ended_by_server(self) -> int:
        """How many of our sockets the server has closed or reset (readable with EOF/error)."""
        poller = select.poll()
        for sock in self.sockets:
            poller.register(sock.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        ready = {fd for fd, _ in poller.poll(0)}
        ended = 0
        for sock in self.sockets:
            if sock.fileno() not in ready:
                continue
            try:
                ended += sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except (ConnectionResetError, BlockingIOError):
                ended += 1
        return ended

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()


@pytest.fixture(scope="session")
def wire() -> SimpleNamespace:
    """Raw-socket and spool helpers shared by the end-to-end tests, as one namespace."""
    return SimpleNamespace(
        FORBIDDEN=FORBIDDEN, SERVING=SERVING, ConnectionFlood=ConnectionFlood,
        IncompleteResponseError=IncompleteResponseError, talk=talk, request=request,
        parse_response=parse_response, assert_no_leak=assert_no_leak, assert_still_serving=assert_still_serving,
        wait_for=wait_for, requests_from=requests_from, limit_events=limit_events,
        handshakes_from=handshakes_from, marker=marker, rss=rss, open_files_limit=open_files_limit,
        tls_available=tls_available,
    )


@pytest.fixture(scope="session")
def https_port() -> int | None:
    """0 (any free port) for an HTTPS listener when the TLS layer exists, else None."""
    return 0 if tls_available() else None
