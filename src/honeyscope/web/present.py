"""Turn stored events (attacker-written, hostile) into what views show: rows, field lists, text and hex.

Nothing here produces HTML: templates autoescape everything. What this module adds is what escaping
does not cover — control characters and ANSI escapes made visible (``\\x1b``), bytes that are not text
shown as a hex dump, and sizes bounded so that a 100 KB header cannot blow up a page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec

from honeyscope.events import Event
from honeyscope.events.schema import HttpRequestEvent, LimitEvent, TlsHandshakeEvent
from honeyscope.store.columns import SEVERITY_ORDER
from honeyscope.web.models import EventRow

#: Characters of attacker text in a table cell.
MAX_CELL: Final = 160
#: Characters of one field value on the event page (longer values are cut, the page says how much).
MAX_FIELD: Final = 2048
#: Bytes of a request head or body shown as text or hex on the event page.
MAX_SHOWN_BYTES: Final = 64 * 1024
#: Bytes shown as hex when a body is binary (16 per line).
MAX_HEX_BYTES: Final = 8 * 1024

#: C0/C1 controls but tab/newline, DEL, and the Unicode format/separator characters that reorder or hide
#: text (bidi overrides, zero-width characters): all are shown as escapes.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")


def visible(text: str) -> str:
    """``text`` with control and invisible characters written as ``\\xNN``/``\\uNNNN`` escapes."""
    return _INVISIBLE.sub(lambda m: _escape_char(m.group(0)), text)


def _escape_char(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def cell(text: str | None, limit: int = MAX_CELL) -> str | None:
    """Attacker text for a table: visible, one line, cut to ``limit`` characters."""
    if text is None:
        return None
    shown = visible(text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t"))
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def event_row(event: Event) -> EventRow:
    """The list view of one event."""
    common: dict[str, Any] = {"id": event.event.id, "timestamp": event.timestamp, "type": _type(event),
                              "sensor": cell(event.observer.name, 64)}
    source = getattr(event, "source", None)
    if source is not None:
        common["source_ip"] = cell(source.ip, 64)
        if source.geo is not None:
            common["country"] = source.geo.country_iso_code
    if isinstance(event, HttpRequestEvent):
        detections = event.honeyscope.detections
        stages = [event.honeyscope.stage, *(d.stage for d in detections)]
        return EventRow(**common, method=cell(event.http.request.method, 24), path=cell(event.url.original or
                        event.url.path), status=event.http.response.status_code,
                        user_agent=cell(event.user_agent.original if event.user_agent else None),
                        stage=cell(next((s for s in stages if s), None), 64),
                        cves=sorted({c for d in detections for c in d.cves}), severity=_severity(event),
                        rules=[cell(d.title, 80) or "" for d in detections])
    if isinstance(event, LimitEvent):
        return EventRow(**common, stage=cell(f"limit: {event.honeyscope.limit.limit}", 64))
    if isinstance(event, TlsHandshakeEvent):
        return EventRow(**common, stage=cell(event.honeyscope.tls.error or "tls handshake", 64))
    return EventRow(**common, stage=cell(event.honeyscope.sensor.action, 64))


def _type(event: Event) -> str:
    return {HttpRequestEvent: "http.request", LimitEvent: "sensor.limit",
            TlsHandshakeEvent: "tls.handshake"}.get(type(event), "sensor.lifecycle")


def _severity(event: HttpRequestEvent) -> str | None:
    levels = [d.severity for d in event.honeyscope.detections if d.severity in SEVERITY_ORDER]
    return max(levels, key=SEVERITY_ORDER.index) if levels else None


@dataclass(frozen=True, slots=True)
class Field:
    """One leaf of an event: dotted name, value as text (visible, cut), and how much was cut."""

    name: str
    value: str
    cut: int = 0


def fields(event: Event) -> list[Field]:
    """Every field of the event as dotted names (``source.geo.country_iso_code``), in schema order.

    Byte fields (request head, body, initial TLS bytes) are left out here: the page shows them as text
    or hex separately."""
    data = msgspec.to_builtins(event, builtin_types=(bytes, datetime))
    return [_field(name, value) for name, value in _leaves(data, "") if not isinstance(value, bytes)]


def _leaves(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(item, dict | list) for item in value):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def _field(name: str, value: Any) -> Field:
    if isinstance(value, list) and value and all(isinstance(item, list | tuple) and len(item) == 2 for item in value):
        text = "\n".join(f"{item[0]}: {item[1]}" for item in value)  # the header list, one per line
    elif isinstance(value, list):
        text = ", ".join(str(item) for item in value)
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = "" if value is None else str(value)
    shown = "\n".join(visible(line) for line in text.split("\n"))
    if len(shown) > MAX_FIELD:
        return Field(name, shown[:MAX_FIELD], len(shown) - MAX_FIELD)
    return Field(name, shown)


@dataclass(frozen=True, slots=True)
class Payload:
    """Bytes prepared for display: ``text`` lines, or ``hex`` rows when they are not text."""

    title: str
    size: int
    kind: str
    lines: list[str]
    #: Bytes not shown because of the display limits.
    hidden: int = 0


def payload(title: str, data: bytes, *, limit: int = MAX_SHOWN_BYTES) -> Payload:
    """Text when the bytes are (mostly) printable in UTF-8 or Latin-1, else a hex dump."""
    if looks_textual(data[:limit]):
        shown = data[:limit]
        text = shown.decode("utf-8", "backslashreplace")
        lines = [visible(line) for line in text.replace("\r\n", "\n").split("\n")]
        return Payload(title, len(data), "text", lines, len(data) - len(shown))
    shown = data[:MAX_HEX_BYTES]
    return Payload(title, len(data), "hex", hex_dump(shown), len(data) - len(shown))


def looks_textual(data: bytes) -> bool:
    """True when at most 5% of the bytes are controls other than tab/CR/LF (ANSI escapes included)."""
    if not data:
        return True
    controls = sum(1 for byte in data if (byte < 0x20 and byte not in (9, 10, 13)) or byte == 0x7F)
    return controls * 20 <= len(data)


def hex_dump(data: bytes, width: int = 16) -> list[str]:
    """``offset  hex bytes  |ascii|`` rows, non-printables as ``.``."""
    rows = []
    for offset in range(0, len(data), width):
        chunk = data[offset:offset + width]
        hexes = " ".join(f"{byte:02x}" for byte in chunk)
        text = "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in chunk)
        rows.append(f"{offset:08x}  {hexes:<{width * 3 - 1}}  |{text}|")
    return rows


def payloads(event: Event) -> list[Payload]:
    """The byte fields of an event worth showing: request head, body, bytes of a failed TLS handshake."""
    shown: list[Payload] = []
    if isinstance(event, HttpRequestEvent):
        request = event.honeyscope.request
        shown.append(payload("Request head (as received)", request.head))
        if request.body:
            note = " (truncated when stored)" if request.body_truncated else ""
            shown.append(payload(f"Request body{note}", request.body))
        if event.honeyscope.tls is not None and event.honeyscope.tls.initial_bytes:
            shown.append(payload("Bytes before the TLS handshake failed", event.honeyscope.tls.initial_bytes))
    elif isinstance(event, TlsHandshakeEvent) and event.honeyscope.tls.initial_bytes:
        shown.append(payload("Bytes before the TLS handshake failed", event.honeyscope.tls.initial_bytes))
    return shown


#: A cell a spreadsheet would run as a formula: =, +, -, @, or a tab/CR that some importers strip first.
_FORMULA = re.compile(r"^[=+\-@\t\r]")


def csv_safe(value: object) -> str:
    """A CSV cell that spreadsheets show as text: formula-looking cells get a leading ``'`` (OWASP)."""
    text = "" if value is None else visible(str(value))
    return "'" + text if _FORMULA.match(text) else text
