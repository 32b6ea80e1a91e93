"""The spool's promise, checked from outside: whatever an attacker saw answered is in the spool, even when
the sensor is killed with SIGKILL mid-load; restarts never write into an old segment; pipelined
requests are answered in order and recorded in order."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from honeyscope.events import HttpRequestEvent, SensorLifecycleEvent, decode_event
from honeyscope.sensor.spool import ReadStats, list_segments, read_segment, read_spool
from honeyscope.testing.live import live_sensor

WORKERS = 4
LOAD_SECONDS = 5.0
KILL_AFTER = 1.5


@dataclass
class Worker:
    """One client thread: a keep-alive connection, one request at a time, each URL carrying a marker."""

    address: tuple[str, int]
    name: str
    stop_at: float
    answered: list[str] = field(default_factory=list)
    attempted: int = 0
    ended_by: str = "deadline"

    def run(self) -> None:
        buffer = b""
        sock: socket.socket | None = None
        while time.monotonic() < self.stop_at:
            try:
                if sock is None:
                    sock = socket.create_connection(self.address, timeout=2.0)
                    buffer = b""
                token = f"{self.name}-{self.attempted}"
                self.attempted += 1
                sock.sendall(f"GET /owa/load/{token} HTTP/1.1\r\nHost: mail.contoso.com\r\n\r\n".encode())
                buffer = self._read_response(sock, buffer)
                self.answered.append(token)
            except (OSError, ValueError) as error:
                if sock is not None:
                    sock.close()
                    sock = None
                if isinstance(error, ConnectionRefusedError):
                    self.ended_by = "refused"  # the sensor is gone: stop
                    return
        if sock is not None:
            sock.close()

    @staticmethod
    def _read_response(sock: socket.socket, buffer: bytes) -> bytes:
        """Read until one complete response (head + Content-Length body) is in; return what follows it."""
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = buffer[:end].decode("latin-1").lower()
                length = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0]) if "content-length:" in head \
                    else 0
                if len(buffer) >= end + 4 + length:
                    return buffer[end + 4 + length:]
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed mid-response")
            buffer += chunk


def _targets(directory: Path, stats: ReadStats) -> list[str]:
    return [event.url.original for event in (decode_event(r.payload) for r in read_spool(directory, stats))
            if isinstance(event, HttpRequestEvent)]


def test_sigkill_during_load_loses_no_answered_request(tmp_path: Path) -> None:
    with live_sensor(tmp_path, http=0) as sensor:
        stop_at = time.monotonic() + LOAD_SECONDS
        workers = [Worker(sensor.address(), f"w{i}", stop_at) for i in range(WORKERS)]
        threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        time.sleep(KILL_AFTER)
        sensor.kill()
        for thread in threads:
            thread.join(LOAD_SECONDS + 5)
        first_segments = list_segments(sensor.spool)
    answered = [token for w in workers for token in w.answered]
    assert len(answered) >= 100, f"only {len(answered)} requests answered before the kill: load too light"
    assert all(w.ended_by == "refused" for w in workers), "the kill did not happen while the clients were running"

    # A restart seals the killed segment, so a torn last record (if the kill split a write) is counted.
    with live_sensor(tmp_path, http=0):
        pass
    stats = ReadStats()
    targets = set(_targets(tmp_path / "spool", stats))
    missing = [token for token in answered if f"/owa/load/{token}" not in targets]
    assert missing == [], f"{len(missing)} answered requests are not in the spool, e.g. {missing[:5]}"
    assert stats.torn <= 1 and stats.corrupt == 0, stats.problems
    assert len(list_segments(tmp_path / "spool")) == len(first_segments) + 1


def test_restart_opens_a_new_segment_and_old_segments_stay_readable(tmp_path: Path, wire: SimpleNamespace) -> None:
    for run in ("first", "second"):
        with live_sensor(tmp_path, http=0) as sensor:
            wire.request(sensor.address(), path=f"/owa/{run}-run")
    segments = list_segments(tmp_path / "spool")
    assert [number for number, _ in segments] == [1, 2]
    for (_, path), run in zip(segments, ("first", "second"), strict=True):
        stats = ReadStats()
        events = [decode_event(r.payload) for r in read_segment(path, sealed=True, stats=stats)]
        assert stats.torn == 0 and stats.corrupt == 0
        targets = [e.url.original for e in events if isinstance(e, HttpRequestEvent)]
        assert targets == [f"/owa/{run}-run"]
        actions = [e.honeyscope.sensor.action for e in events if isinstance(e, SensorLifecycleEvent)]
        assert actions == ["start", "stop"]


PIPELINED = 50


def test_pipelined_keep_alive_requests_are_answered_and_recorded_in_order(
    tmp_path: Path, wire: SimpleNamespace,
) -> None:
    # Requests differ in method and path, so responses out of order would not match the expectations.
    shapes = [("GET", "/"), ("HEAD", "/owa/"), ("GET", "/owa/auth/logon.aspx"), ("HEAD", "/ews/exchange.asmx"),
              ("GET", "/nonexistent.aspx"), ("POST", "/owa/auth.owa")]
    with live_sensor(tmp_path, http=0) as sensor:
        address = sensor.address()
        expected_status = {shape: wire.request(address, *shape).status for shape in shapes}
        token = wire.marker()
        plan = [(*shapes[i % len(shapes)], f"{token}-{i}") for i in range(PIPELINED)]
        stream = b"".join(_pipelined(method, path, tag) for method, path, tag in plan)
        with socket.create_connection(address, timeout=5) as sock:
            port = sock.getsockname()[1]
            sock.sendall(stream)
            data = _read_responses(sock, [method for method, _, _ in plan], wire)
            statuses = [response.status for response in data]
            assert statuses == [expected_status[(method, path)] for method, path, _ in plan]
            # Still open after 50 requests (keep-alive): one more with Connection: close ends it.
            sock.sendall(b"GET /owa/ HTTP/1.1\r\nHost: mail.contoso.com\r\nConnection: close\r\n\r\n")
            last = _read_responses(sock, ["GET"], wire)[0]
            assert last.header("Connection") == "close"
            assert sock.recv(1) == b""
        events = wire.requests_from(sensor, port, expect=PIPELINED + 1)
    assert [e.honeyscope.connection.request_index for e in events] == list(range(1, PIPELINED + 2))
    assert len({e.honeyscope.connection.id for e in events}) == 1
    recorded = [e.url.original for e in events[:PIPELINED]]
    assert recorded == [f"{path}{'&' if '?' in path else '?'}m={tag}" for _, path, tag in plan]
    for response in data:
        wire.assert_no_leak(response.raw_head + response.body)


def _pipelined(method: str, path: str, tag: str) -> bytes:
    body = b"username=a&password=b" if method == "POST" else b""
    length = f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n" if body else ""
    return f"{method} {path}?m={tag} HTTP/1.1\r\nHost: mail.contoso.com\r\n{length}\r\n".encode() + body


def _read_responses(sock: socket.socket, methods: list[str], wire: SimpleNamespace) -> list:
    """Parse one response per request, in order (HEAD responses carry no body)."""
    responses = []
    buffer = b""
    deadline = time.monotonic() + 10
    for method in methods:
        while True:
            try:
                response, buffer = wire.parse_response(buffer, head_only=method == "HEAD")
                break
            except wire.IncompleteResponseError:
                assert time.monotonic() < deadline, f"only {len(responses)} of {len(methods)} responses arrived"
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {len(responses)} of {len(methods)} responses"
                buffer += chunk
        responses.append(response)
    assert buffer == b"", "more bytes than responses"
    return responses
