"""Read IIS W3C extended logs (ours or a real server's) and turn their lines into events.

Handles what real logs contain: any ``#Fields:`` order, several header blocks in one file (IIS writes
one at each service start), other ``#`` directives, CRLF or LF, gzip-compressed files (``.gz``), and
damaged lines. A data line before any ``#Fields:`` is read with IIS's default fields. Lines are capped
at ``max_line_bytes`` (the rest of an over-long line is skipped), so a binary file cannot exhaust memory.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from honeyscope.events.ids import new_event_id
from honeyscope.events.schema import (
    Credential,
    Endpoint,
    EventMeta,
    Honeyscope,
    HsConnection,
    HsRequest,
    Http,
    HttpRequestEvent,
    HttpRequestMeta,
    HttpResponseMeta,
    Observer,
    Url,
    UserAgent,
)
from honeyscope.share.iis.fields import DEFAULT_FIELDS, read_value

OBSERVER_NAME: Final = "iis-import"
_HEADER_FIELDS: Final = (("cs-host", "Host"), ("cs(user-agent)", "User-Agent"), ("cs(referer)", "Referer"),
                         ("cs(cookie)", "Cookie"))


@dataclass(frozen=True, slots=True)
class W3CRecord:
    """One data line: where it is, its bytes, and its fields by lower-cased name (None when the line
    does not fit the ``#Fields`` in force; ``problem`` says why)."""

    path: Path
    line_number: int
    raw: bytes
    fields: dict[str, str] | None
    problem: str | None = None

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line_number}"

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


def read_w3c(path: Path, max_line_bytes: int = 1 << 20) -> Iterator[W3CRecord]:
    """Every data line of a W3C log file, with its fields."""
    names = [name.lower() for name in DEFAULT_FIELDS]
    with _open(path) as handle:
        for number, raw in enumerate(_lines(handle, max_line_bytes), start=1):
            if not raw.strip():
                continue
            if raw.startswith(b"#"):
                directive, _, rest = raw[1:].decode("utf-8", "replace").partition(":")
                if directive.strip().lower() == "fields":
                    names = [name.lower() for name in rest.split()]
                continue
            yield _record(path, number, raw, names)


def _open(path: Path) -> io.BufferedIOBase:
    if path.suffix.lower() == ".gz":
        return gzip.GzipFile(path, "rb")
    return path.open("rb")


def _lines(handle: io.BufferedIOBase, limit: int) -> Iterator[bytes]:
    """Lines without their CR/LF; an over-long line yields its first ``limit`` bytes only."""
    while True:
        line = handle.readline(limit)
        if not line:
            return
        if not line.endswith(b"\n") and len(line) >= limit:
            while True:  # drop the rest of the over-long line
                rest = handle.readline(limit)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line.rstrip(b"\r\n")


def _record(path: Path, number: int, raw: bytes, names: list[str]) -> W3CRecord:
    # bytes.split() splits on ASCII white space only: a non-ASCII space inside a value stays in it.
    values = [value.decode("utf-8", "replace") for value in raw.split()]
    if len(values) != len(names):
        problem = f"{len(values)} values for {len(names)} fields"
        return W3CRecord(path, number, raw, None, problem)
    return W3CRecord(path, number, raw, dict(zip(names, values, strict=True)))


def record_to_event(record: W3CRecord) -> HttpRequestEvent | None:
    """The ``http.request`` event a W3C line describes (what the log holds; nothing else is invented).
    None when the line has no usable date and time."""
    fields = record.fields
    if fields is None:
        return None
    moment = _timestamp(fields.get("date"), fields.get("time"))
    if moment is None:
        return None
    value = {name: read_value(name, text) for name, text in fields.items()}
    path = value.get("cs-uri-stem") or "/"
    query = value.get("cs-uri-query")
    target = path + (f"?{query}" if query else "")
    headers = [(header, str(value[name])) for name, header in _HEADER_FIELDS if value.get(name)]
    agent = value.get("cs(user-agent)")
    user = value.get("cs-username")
    return HttpRequestEvent(
        timestamp=moment,
        event=EventMeta(id=new_event_id(int(moment.timestamp() * 1000)), dataset="honeyscope.iis_import",
                        duration=_duration_ns(value.get("time-taken"))),
        observer=Observer(name=OBSERVER_NAME, hostname=value.get("s-computername")),
        source=Endpoint(ip=value.get("c-ip") or "0.0.0.0", port=_int(value.get("c-port"))),
        destination=Endpoint(ip=value.get("s-ip") or "0.0.0.0", port=_int(value.get("s-port"))),
        http=Http(version=(value.get("cs-version") or "").removeprefix("HTTP/") or None,
                  request=HttpRequestMeta(method=value.get("cs-method")),
                  response=HttpResponseMeta(status_code=_int(value.get("sc-status")) or None)),
        url=Url(original=target, path=path, query=query, domain=value.get("cs-host")),
        user_agent=UserAgent(original=agent) if agent else None,
        honeyscope=Honeyscope(
            persona="iis",
            connection=HsConnection(id=record.location),
            request=HsRequest(target=target, headers=headers),
            credentials=[Credential(scheme="iis", username=user)] if user else [],
            tags=[f"iis.{name}={value[name]}" for name in ("sc-substatus", "sc-win32-status") if value.get(name)],
        ),
    )


def _timestamp(date: str | None, time: str | None) -> datetime | None:
    if not date or not time:
        return None
    try:
        return datetime.fromisoformat(f"{date}T{time}").replace(tzinfo=UTC)
    except ValueError:
        return None


def _int(text: str | None) -> int:
    try:
        return int(text) if text else 0
    except ValueError:
        return 0


def _duration_ns(milliseconds: str | None) -> int | None:
    return _int(milliseconds) * 1_000_000 if milliseconds and milliseconds.isdigit() else None
