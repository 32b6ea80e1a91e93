"""(De)serialisation of events: JSON via msgspec, one encoder/decoder per process (they are costly to
build and cheap to reuse)."""

from __future__ import annotations

from typing import Final

import msgspec

from honeyscope.events.schema import SCHEMA_VERSION, Event

_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(Event)


class _VersionProbe(msgspec.Struct):
    schema_version: int = 0
    type: str = ""


_PROBE: Final = msgspec.json.Decoder(_VersionProbe)


class UnknownSchemaVersionError(ValueError):
    """An event written by a newer (or unknown) schema: leave it in place, upgrade the reader."""


def encode_event(event: Event) -> bytes:
    """JSON bytes of an event."""
    return _ENCODER.encode(event)


def encode_event_into(event: Event, buffer: bytearray) -> None:
    """Append the JSON bytes of an event (exactly ``encode_event``'s) to ``buffer``: a batch of events
    encoded into one buffer costs no bytes object per event (the DuckDB store's ingest)."""
    _ENCODER.encode_into(event, buffer, -1)


def decode_event(data: bytes) -> Event:
    """Parse JSON bytes into the typed event; refuses unknown schema versions with a clear error."""
    try:
        event: Event = _DECODER.decode(data)
    except msgspec.ValidationError:
        probe = _PROBE.decode(data)
        if probe.schema_version != SCHEMA_VERSION:
            raise _unknown_version(probe.schema_version, probe.type) from None
        raise
    if event.schema_version != SCHEMA_VERSION:
        raise _unknown_version(event.schema_version, type(event).__name__)
    return event


def _unknown_version(version: int, kind: str) -> UnknownSchemaVersionError:
    return UnknownSchemaVersionError(
        f"event schema version {version} (type {kind!r}) is not supported by this honeyscope "
        f"(schema {SCHEMA_VERSION}); upgrade honeyscope to read it"
    )
