"""A minimal HTTP/1.1 client over a real socket, and a player that replays tool requests against a
live sensor and reads back what the sensor recorded — so the same exploit-chain tests run both
in-process and over the wire."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from honeyscope.events import HttpRequestEvent, decode_event
from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import Artifact, Credential, Reply
from honeyscope.sensor.spool import ReadStats, list_segments, read_segment
from honeyscope.testing.requests import raw_request_bytes


class WireClient:
    """One keep-alive connection from a chosen loopback source address."""

    def __init__(self, address: tuple[str, int], source_ip: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.address = address
        self.source_ip = source_ip
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def _connect(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection(self.address, self.timeout, (self.source_ip, 0))
            self._buffer = b""
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def request(self, method: str, target: str, headers: Any = (), body: bytes = b"",
                host: str = "mail.contoso.com") -> Response:
        """Send one request; return the parsed response (reconnects when the server closed)."""
        sock = self._connect()
        sock.sendall(raw_request_bytes(method, target, list(headers), body, host=host))
        response = self._read_response(head_only=method == "HEAD")
        if response.close:
            self.close()
        return response

    def _read_until(self, marker: bytes) -> int:
        while marker not in self._buffer:
            chunk = self._connect().recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection before answering")
            self._buffer += chunk
        return self._buffer.index(marker)

    def _read_response(self, *, head_only: bool) -> Response:
        end = self._read_until(b"\r\n\r\n")
        head, self._buffer = self._buffer[:end].decode("latin-1"), self._buffer[end + 4 :]
        status_line, *lines = head.split("\r\n")
        status = int(status_line.split(" ")[1])
        headers = [(name, value.strip()) for name, _, value in (line.partition(":") for line in lines)]
        length = 0 if head_only else int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
        while len(self._buffer) < length:
            chunk = self._connect().recv(65536)
            if not chunk:
                break
            self._buffer += chunk
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        closing = any(k.lower() == "connection" and v.lower() == "close" for k, v in headers)
        reason = status_line.split(" ", 2)[2] if status_line.count(" ") >= 2 else ""
        return Response(status, headers, body, reason=reason, close=closing)


@dataclass
class SpoolFollower:
    """Reads events as the sensor appends them."""

    spool: Path
    _positions: dict[Path, int] = field(default_factory=dict)

    def new_events(self) -> list[HttpRequestEvent]:
        stats = ReadStats()
        events = []
        for _, path in list_segments(self.spool):
            start = self._positions.get(path, 0)
            for record in read_segment(path, start, sealed=False, stats=stats):
                self._positions[path] = record.next_offset
                event = decode_event(record.payload)
                if isinstance(event, HttpRequestEvent):
                    events.append(event)
        return events


def reply_from_event(response: Response, event: HttpRequestEvent, spool: Path) -> Reply:
    """A persona-style ``Reply`` rebuilt from the wire response and the spooled event."""
    ours = event.honeyscope
    artifacts = [
        Artifact(ref.kind, ref.name, (spool / "artifacts" / ref.sha256[:2] / ref.sha256).read_bytes())
        for ref in ours.artifacts
    ]
    credentials = [Credential(c.scheme, c.username, c.password, c.domain, c.workstation) for c in ours.credentials]
    return Reply(response, route=ours.route, stage=ours.stage, credentials=credentials, artifacts=artifacts,
                 callbacks=list(ours.callbacks), tags=list(ours.tags))
