"""Responses as personas describe them, and their exact bytes on the wire.

The serializer writes headers in the order the persona gave, with the persona's own case (IIS does not
lower-case header names), and appends ``Date`` and ``Content-Length`` where IIS puts them: last.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Final

REASONS: Final[dict[int, str]] = {
    200: "OK", 201: "Created", 204: "No Content", 241: "", 301: "Moved Permanently", 302: "Found",
    304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 411: "Length Required", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 440: "Login Timeout", 500: "Internal Server Error",
    501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported",
}


@dataclass(slots=True)
class Response:
    """A response: status, ordered headers (Date/Content-Length added on the wire), body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    reason: str | None = None
    close: bool = False
    #: HEAD responses carry the headers of the GET (Content-Length included) but no body.
    omit_body: bool = False

    def header(self, name: str) -> str | None:
        """The first value of a response header (case-insensitive)."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


class HttpDate:
    """RFC 7231 date, recomputed at most once a second (formatting is the costly part)."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self, epoch: float | None = None) -> str:
        current = time.time() if epoch is None else epoch
        second = int(current)
        if second != self._second:
            self._second = second
            self._text = formatdate(second, usegmt=True)
        return self._text


def serialize_response(response: Response, date: str) -> bytes:
    """The response's bytes: status line, headers in order, Date, Content-Length, body."""
    reason = REASONS.get(response.status, "") if response.reason is None else response.reason
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    has_length = False
    has_date = False
    for name, value in response.headers:
        lowered = name.lower()
        has_length = has_length or lowered == "content-length"
        has_date = has_date or lowered == "date"
        lines.append(f"{name}: {value}")
    if response.close and not any(k.lower() == "connection" for k, _ in response.headers):
        lines.append("Connection: close")
    if not has_date:
        lines.append(f"Date: {date}")
    if not has_length:
        lines.append(f"Content-Length: {len(response.body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head if response.omit_body else head + response.body
