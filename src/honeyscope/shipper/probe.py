"""What the shipper needs from a spooled event without decoding all of it: its id and schema version.

A full decode costs tens of microseconds per event; this reads two fields (msgspec skips the rest), so
the shipper stays cheap beside a busy sensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

from honeyscope.events.schema import SCHEMA_VERSION


class _Meta(msgspec.Struct):
    id: str = ""


class _Probe(msgspec.Struct):
    # A missing version reads as the current one, as honeyscope.events.codec.decode_event does.
    schema_version: int = SCHEMA_VERSION
    event: _Meta | None = None


_DECODER: Final = msgspec.json.Decoder(_Probe)


@dataclass(frozen=True)
class Rejection:
    """Why a record is not published; ``version`` when it is a schema-version problem."""

    reason: str
    version: int | None = None


def event_id_of(payload: bytes) -> str | Rejection:
    """The event id of a spooled event, or why it cannot be shipped by this honeyscope."""
    try:
        probe = _DECODER.decode(payload)
    except msgspec.DecodeError as error:  # includes validation errors (e.g. a version that is not a number)
        return Rejection(f"not a honeyscope event: {error}")
    if probe.schema_version != SCHEMA_VERSION:
        return Rejection(f"event schema version {probe.schema_version} is not supported by this honeyscope "
                         f"(schema {SCHEMA_VERSION}); upgrade honeyscope to ship it", probe.schema_version)
    if probe.event is None or not probe.event.id:
        return Rejection("event has no event.id", probe.schema_version)
    return probe.event.id
