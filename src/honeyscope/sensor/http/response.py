"""Responses as personas describe them, and their exact bytes on the wire.

The serializer writes headers in the order the persona gave, with the persona's own case (IIS does not
lower-case header names), and appends ``Date`` and ``Content-Length`` where IIS puts them: last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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

Header = tuple[str, str]


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

    def renewed(self) -> Response | None:
        """A copy to answer an identical request with: per-response header values (a stamped
        ``HeaderTemplate``) made afresh, everything else the same. None if the headers were stamped and
        changed afterwards, so that what varies per response is no longer known."""
        template = _template_of(self.headers)
        if template is None:
            headers: list[Header] = list(self.headers)
        elif template.value(self.headers) is None:
            return None
        else:
            headers = template.stamp()
        return Response(self.status, headers, self.body, self.reason, self.close, self.omit_body)


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


class HeaderTemplate:
    """Headers that many responses share but for one per-response header (Exchange's ``request-id``),
    formatted once.

    ``stamp()`` gives one response's header list, with a value from ``fresh``. The serializer recognises
    such a list and splices the value into bytes prepared here instead of formatting every header again,
    which was the main cost of serialising a typical persona response. A stamped list changed afterwards
    no longer matches its template and is serialised the ordinary way: the bytes are the same either way.
    Nothing is formatted until the first serialisation, so a template used once costs no more than a list.
    """

    __slots__ = ("_cut", "_lines", "_wire", "after", "before", "fresh", "name")

    def __init__(self, before: tuple[Header, ...], name: str, after: tuple[Header, ...],
                 fresh: Callable[[], str]) -> None:
        self.before = before
        self.name = name
        self.after = after
        self.fresh = fresh
        self._cut = len(before)
        #: Header lines before and after the slot, and whether Connection, Date, Content-Length are set.
        self._lines: tuple[str, str, bool, bool, bool] | None = None
        #: The last head serialised: (status line and trailer, bytes before the value, bytes after it).
        #: The trailer holds the Date, which changes once a second at most.
        self._wire: tuple[tuple[str, str], bytes, bytes] | None = None

    def stamp(self, value: str | None = None) -> StampedHeaders:
        """The full header list with ``value`` (default: a fresh one) in the per-response slot."""
        stamped = (*self.before, (self.name, self.fresh() if value is None else value), *self.after)
        headers = StampedHeaders(stamped)
        headers.template = self
        headers.stamped = stamped
        return headers

    def value(self, headers: list[Header]) -> str | None:
        """The per-response value of ``headers`` if they are still exactly a stamp of this template."""
        stamped: tuple[Header, ...] | None = getattr(headers, "stamped", None)
        # Equal to what was stamped (element by element, mostly the very same tuples: cheap to compare).
        if stamped is None or tuple(headers) != stamped:
            return None
        return stamped[self._cut][1]

    def head(self, value: str, status_line: str, response: Response, date: str) -> bytes:
        """The serialised head of ``response``, whose headers are a stamp of this template with ``value``."""
        lines = self._lines
        if lines is None:
            lowered = {key.lower() for key, _ in (*self.before, (self.name, ""), *self.after)}
            lines = self._lines = (
                "".join(f"{key}: {text}\r\n" for key, text in self.before),
                "".join(f"{key}: {text}\r\n" for key, text in self.after),
                "connection" in lowered, "date" in lowered, "content-length" in lowered,
            )
        trailer = _trailer(response, date, lines[2], lines[3], lines[4])
        key = (status_line, trailer)
        wire = self._wire
        if wire is None or wire[0] != key:
            before = f"{status_line}{lines[0]}{self.name}: ".encode("latin-1", "replace")
            after = f"\r\n{lines[1]}{trailer}".encode("latin-1", "replace")
            wire = self._wire = (key, before, after)
        return b"".join((wire[1], value.encode("latin-1", "replace"), wire[2]))


class StampedHeaders(list[Header]):
    """A header list made by ``HeaderTemplate.stamp`` (an ordinary list that knows its template and what
    it held when stamped)."""

    __slots__ = ("stamped", "template")
    template: HeaderTemplate | None
    stamped: tuple[Header, ...]


def _template_of(headers: list[Header]) -> HeaderTemplate | None:
    template = getattr(headers, "template", None)
    return template if isinstance(template, HeaderTemplate) else None


def serialize_head(response: Response, date: str) -> bytes:
    """The response's head: status line, headers in order, Date and Content-Length (where the persona
    did not set them), and the blank line. The body follows unchanged, unless ``omit_body``."""
    reason = REASONS.get(response.status, "") if response.reason is None else response.reason
    status_line = f"HTTP/1.1 {response.status} {reason}\r\n"
    headers = response.headers
    template = _template_of(headers)
    value = template.value(headers) if template is not None else None
    if template is not None and value is not None:
        return template.head(value, status_line, response, date)
    lowered = {name.lower() for name, _ in headers}
    trailer = _trailer(response, date, "connection" in lowered, "date" in lowered, "content-length" in lowered)
    lines = "".join([f"{name}: {value}\r\n" for name, value in headers])
    return f"{status_line}{lines}{trailer}".encode("latin-1", "replace")


def _trailer(response: Response, date: str, has_connection: bool, has_date: bool, has_length: bool) -> str:
    """What follows the persona's headers: the ones the server adds, and the blank line."""
    parts = []
    if response.close and not has_connection:
        parts.append("Connection: close\r\n")
    if not has_date:
        parts.append(f"Date: {date}\r\n")
    if not has_length:
        parts.append(f"Content-Length: {len(response.body)}\r\n")
    parts.append("\r\n")
    return "".join(parts)


def serialize_response(response: Response, date: str) -> bytes:
    """The response's bytes: status line, headers in order, Date, Content-Length, body."""
    head = serialize_head(response, date)
    return head if response.omit_body else head + response.body
