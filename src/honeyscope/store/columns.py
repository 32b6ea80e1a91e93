"""Flatten typed events into the store's columns (one tuple per event): the ingest path of both backends
(PostgreSQL copies the tuples; DuckDB receives them as Arrow columns, ``ingest_tables``).

This loop runs for every stored event, so it is written for speed: plain attribute access, one
function per event type, no per-field helper calls. NUL characters cannot live in PostgreSQL text, so
flattened text columns carry U+FFFD in their place; the ``doc`` column keeps the exact JSON (where a
NUL is the escape ``\\u0000``). A doc without that escape has no NUL anywhere, which makes the check one
substring search per event instead of one per field.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import pyarrow as pa  # type: ignore[import-untyped]

from honeyscope.events import (
    Event,
    HttpRequestEvent,
    LimitEvent,
    SensorLifecycleEvent,
    TlsHandshakeEvent,
    encode_event,
)
from honeyscope.events.codec import encode_event_into
from honeyscope.events.schema import Detection, Endpoint, HsEnrichment
from honeyscope.store.base import uuid_key

#: Columns of one staged event, in tuple order (``day`` is derived from ``ts`` in SQL).
EVENT_COLUMNS: Final = (
    "id", "ts", "type", "sensor", "persona", "source_ip", "source_port", "destination_port", "country",
    "asn", "as_org", "network", "scanner", "method", "path", "query", "status", "user_agent", "route",
    "stage", "ja4", "connection_id", "session_id", "severity", "cves", "doc",
)
#: Columns of one staged detection (one row per rule that matched an event).
DETECTION_COLUMNS: Final = (
    "event_id", "ts", "ordinal", "rule_id", "title", "engine", "severity", "stage", "cves", "techniques",
)

_TEXT = pa.string()
_TEXT_LIST = pa.list_(pa.string())

#: Arrow types of the flattened columns, as exported to Parquet (``id`` as text, ``day`` left out).
EVENT_ARROW: Final = pa.schema([
    ("id", _TEXT), ("ts", pa.timestamp("us")), ("type", _TEXT), ("sensor", _TEXT), ("persona", _TEXT),
    ("source_ip", _TEXT), ("source_port", pa.int32()), ("destination_port", pa.int32()), ("country", _TEXT),
    ("asn", pa.int64()), ("as_org", _TEXT), ("network", _TEXT), ("scanner", _TEXT), ("method", _TEXT),
    ("path", _TEXT), ("query", _TEXT), ("status", pa.int32()), ("user_agent", _TEXT), ("route", _TEXT),
    ("stage", _TEXT), ("ja4", _TEXT), ("connection_id", _TEXT), ("session_id", _TEXT), ("severity", _TEXT),
    ("cves", _TEXT_LIST), ("doc", pa.binary()),
])
#: What DuckDB's ingest receives: as ``EVENT_ARROW`` but ``doc`` may exceed 2 GB per batch.
INGEST_ARROW: Final = EVENT_ARROW.set(EVENT_ARROW.get_field_index("doc"), pa.field("doc", pa.large_binary()))
#: Arrow types of the staged detection rows (``DETECTION_COLUMNS``).
DETECTION_ARROW: Final = pa.schema([
    ("event_id", _TEXT), ("ts", pa.timestamp("us")), ("ordinal", pa.int32()), ("rule_id", _TEXT), ("title", _TEXT),
    ("engine", _TEXT), ("severity", _TEXT), ("stage", _TEXT), ("cves", _TEXT_LIST), ("techniques", _TEXT_LIST),
])
#: Arrow types of every ``events`` column, for ``EventStore.scan`` (``day`` included).
TABLE_ARROW: Final = pa.schema([EVENT_ARROW.field("id"), EVENT_ARROW.field("ts"), ("day", pa.date32()),
                                *[EVENT_ARROW.field(name) for name in EVENT_ARROW.names[2:]]])


def scan_schema(columns: Sequence[str]) -> pa.Schema:
    """The Arrow schema of a ``scan``; refuses names that are not ``events`` columns."""
    unknown = [name for name in columns if name not in TABLE_ARROW.names]
    if unknown or not columns:
        raise ValueError(f"unknown events column(s) {unknown or '(none given)'} — choose from "
                         f"{', '.join(TABLE_ARROW.names)}")
    return pa.schema([TABLE_ARROW.field(name) for name in columns])


#: Sigma levels, lowest first; a level not in this list is ignored when picking the highest.
SEVERITY_ORDER: Final = ("informational", "low", "medium", "high", "critical")
_RANK: Final = {level: rank for rank, level in enumerate(SEVERITY_ORDER, start=1)}

#: What replaces NUL in flattened text columns (the doc column keeps the original).
NUL_REPLACEMENT: Final = "\ufffd"
_NUL_ESCAPE: Final = b"\\u0000"

Row = tuple[Any, ...]


class StagedBatch:
    """A batch flattened for the database: event rows and detection rows, duplicates ids removed."""

    __slots__ = ("detections", "events")

    def __init__(self, events: list[Row], detections: list[Row]) -> None:
        self.events = events
        self.detections = detections


def stage(events: Sequence[Event]) -> StagedBatch:
    """Flatten a batch; an id seen twice in the batch is kept once (the first)."""
    rows: list[Row] = []
    detections: list[Row] = []
    for event in first_of_each_id(events):
        doc = encode_event(event)
        row, found = _FLATTEN[type(event)](event, doc)
        if row[1].tzinfo is None:  # a naive time is UTC already (as the JSON says)
            row = (row[0], row[1].replace(tzinfo=UTC), *row[2:])
        nul = _NUL_ESCAPE in doc
        if nul:
            row = _clean(row)
        rows.append(row)
        if found:
            detections.extend(_detection_rows(event.event.id, event.timestamp, found, nul))
    return StagedBatch(rows, detections)


def first_of_each_id(events: Sequence[Event]) -> Iterator[Event]:
    """The events in order, each id once (its first event): one id in two spellings (``uuid_key``) is one
    event, stored and counted in the roll-up once."""
    seen: set[str] = set()
    for event in events:
        key = uuid_key(event.event.id)
        if key not in seen:
            seen.add(key)
            yield event


def ingest_tables(events: Sequence[Event]) -> tuple[pa.Table, pa.Table]:
    """A batch as two Arrow tables (events, detections) for DuckDB; an id seen twice is kept once (the
    first). The same columns as ``stage``, built for speed: every doc is encoded into one buffer that
    becomes the Arrow ``doc`` column without a copy. Times go in as UTC without zone (pyarrow converts
    zone-aware datetimes to UTC; naive ones are UTC already)."""
    rows: list[Row] = []
    detections: list[Row] = []
    docs = bytearray()
    ends = array("q", [0])
    flatten = _FLATTEN
    for event in first_of_each_id(events):
        start = len(docs)
        encode_event_into(event, docs)
        ends.append(len(docs))
        row, found = flatten[type(event)](event, b"")
        nul = docs.find(_NUL_ESCAPE, start) >= 0
        if nul:
            row = _clean(row)
        rows.append(row)
        if found:
            detections.extend(_detection_rows(event.event.id, event.timestamp, found, nul))
    doc = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(rows), [None, pa.py_buffer(ends),
                                                                          pa.py_buffer(docs)])
    columns = list(zip(*rows, strict=True))[:-1] if rows else [() for _ in INGEST_ARROW.names[:-1]]
    arrays = [pa.array(column, type=f.type) for column, f in zip(columns, INGEST_ARROW, strict=False)]
    return (pa.Table.from_arrays([*arrays, doc], schema=INGEST_ARROW),
            rows_table(detections, DETECTION_ARROW))


def _http(event: Any, doc: bytes) -> tuple[Row, list[Detection]]:
    e: HttpRequestEvent = event
    hs = e.honeyscope
    source = e.source
    country, asn, as_org = _geo(source)
    network, scanner = _enrichment(hs.enrichment)
    agent = e.user_agent
    tls = hs.tls
    found = hs.detections
    severity, cves, stage_ = _summary(found) if found else (None, [], None)
    return (
        e.event.id, e.timestamp, "http.request", e.observer.name, hs.persona or None, source.ip, source.port,
        e.destination.port, country, asn, as_org, network, scanner, e.http.request.method, e.url.path or None,
        e.url.query, e.http.response.status_code, agent.original if agent is not None else None,
        hs.route or None, hs.stage or stage_, tls.ja4 if tls is not None else None, hs.connection.id,
        hs.session_id, severity, cves, doc,
    ), found


def _limit(event: Any, doc: bytes) -> tuple[Row, list[Detection]]:
    e: LimitEvent = event
    hs = e.honeyscope
    source = e.source
    country, asn, as_org = _geo(source) if source is not None else (None, None, None)
    network, scanner = _enrichment(hs.enrichment)
    return (
        e.event.id, e.timestamp, "sensor.limit", e.observer.name, hs.persona or None,
        source.ip if source is not None else None, source.port if source is not None else None,
        e.destination.port if e.destination is not None else None, country, asn, as_org, network, scanner,
        None, None, None, None, None, None, None, None, hs.limit.connection_id, None, None, [], doc,
    ), []


def _tls(event: Any, doc: bytes) -> tuple[Row, list[Detection]]:
    e: TlsHandshakeEvent = event
    hs = e.honeyscope
    source = e.source
    country, asn, as_org = _geo(source)
    network, scanner = _enrichment(hs.enrichment)
    return (
        e.event.id, e.timestamp, "tls.handshake", e.observer.name, hs.persona or None, source.ip, source.port,
        e.destination.port, country, asn, as_org, network, scanner, None, None, None, None, None, None, None,
        hs.tls.ja4, hs.connection.id, None, None, [], doc,
    ), []


def _lifecycle(event: Any, doc: bytes) -> tuple[Row, list[Detection]]:
    e: SensorLifecycleEvent = event
    return (
        e.event.id, e.timestamp, "sensor.lifecycle", e.observer.name, None, None, None, None, None, None, None,
        None, None, None, None, None, None, None, None, None, None, None, None, None, [], doc,
    ), []


_FLATTEN: Final[dict[type, Callable[[Any, bytes], tuple[Row, list[Detection]]]]] = {
    HttpRequestEvent: _http,
    LimitEvent: _limit,
    TlsHandshakeEvent: _tls,
    SensorLifecycleEvent: _lifecycle,
}


def _geo(source: Endpoint) -> tuple[str | None, int | None, str | None]:
    geo = source.geo
    system = source.as_
    return (geo.country_iso_code if geo is not None else None,
            system.number if system is not None else None,
            system.organization.name if system is not None else None)


def _enrichment(enrichment: HsEnrichment | None) -> tuple[str | None, str | None]:
    if enrichment is None:
        return None, None
    return enrichment.network, enrichment.scanner


def _summary(found: list[Detection]) -> tuple[str | None, list[str], str | None]:
    """Highest known severity, the CVEs (each once, sorted) and the first exploit-chain stage named."""
    known = [d.severity for d in found if d.severity in _RANK]
    severity = max(known, key=_RANK.__getitem__) if known else None
    cves = sorted({cve for d in found for cve in d.cves})
    stage_ = next((d.stage for d in found if d.stage), None)
    return severity, cves, stage_


def _detection_rows(event_id: str, ts: datetime, found: list[Detection], nul: bool) -> list[Row]:
    rows: list[Row] = [(event_id, ts, ordinal, d.rule_id, d.title, d.engine, d.severity, d.stage,
                        d.cves, d.techniques) for ordinal, d in enumerate(found)]
    return [_clean(row) for row in rows] if nul else rows


def _clean(row: Row) -> Row:
    return tuple(
        value.replace("\x00", NUL_REPLACEMENT) if isinstance(value, str)
        else [item.replace("\x00", NUL_REPLACEMENT) for item in value] if isinstance(value, list)
        else value
        for value in row
    )


def rows_table(rows: list[Row], schema: pa.Schema) -> pa.Table:
    """Row tuples → an Arrow table of ``schema`` (transposed in C by ``zip``)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema.names]
    return pa.Table.from_arrays([pa.array(column, type=f.type) for column, f in zip(columns, schema, strict=True)],
                                schema=schema)
