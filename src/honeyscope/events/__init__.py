"""Typed, versioned events: the contract between every stage of honeyscope."""

from honeyscope.events.codec import UnknownSchemaVersionError, decode_event, encode_event
from honeyscope.events.ids import event_id_time_ms, new_event_id
from honeyscope.events.schema import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    AsOrganization,
    AutonomousSystem,
    Detection,
    Event,
    Geo,
    HsEnrichment,
    HttpRequestEvent,
    LimitEvent,
    SensorLifecycleEvent,
    TlsHandshakeEvent,
)

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "AsOrganization",
    "AutonomousSystem",
    "Detection",
    "Event",
    "Geo",
    "HsEnrichment",
    "HttpRequestEvent",
    "LimitEvent",
    "SensorLifecycleEvent",
    "TlsHandshakeEvent",
    "UnknownSchemaVersionError",
    "decode_event",
    "encode_event",
    "event_id_time_ms",
    "new_event_id",
]
