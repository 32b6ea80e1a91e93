"""The store contract: one logical schema on DuckDB (embedded default) and PostgreSQL (shared).

Writes are idempotent on ``event.id`` (the primary key): writing a batch twice stores it once. The
methods are synchronous; the collector calls them from a worker thread. docs/store.md describes the
schema, the backends and their concurrency rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Final, Literal, Protocol

import pyarrow as pa  # type: ignore[import-untyped]

from honeyscope.events import Event

#: Dimensions the daily roll-ups are grouped by.
Dimension = Literal["country", "asn", "persona", "cve", "sensor", "type"]

#: Every dimension, in the order the roll-up stores them.
DIMENSIONS: Final[tuple[Dimension, ...]] = ("country", "asn", "persona", "cve", "sensor", "type")

#: Event ids are stored as UUIDs (16 bytes, several times faster to index than text); any RFC 9562 text
#: form is accepted and read back in the canonical lower-case hyphenated form our sensors write.
_UUID: Final = re.compile(r"(?i)\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?")


class StoreUnavailableError(ConnectionError):
    """The store cannot be reached or refused the write; nothing of the batch was committed."""


class StoreSchemaError(RuntimeError):
    """The database's schema cannot be used by this code (e.g. written by a newer honeyscope)."""


class InvalidEventError(ValueError):
    """Some events of a batch can never be stored (their id is not a UUID); nothing was committed.

    ``event_ids`` names them, so the caller can set them aside (dead letters) and write the rest.
    """

    def __init__(self, message: str, event_ids: Sequence[str]) -> None:
        super().__init__(message)
        self.event_ids = list(event_ids)


def storable_event_id(event_id: str) -> bool:
    """Whether the store accepts this ``event.id`` (a UUID in any RFC 9562 text form)."""
    return _UUID.fullmatch(event_id) is not None


def uuid_key(event_id: str) -> str:
    """One spelling per UUID (``{ABC…}``, ``abc-…`` and ``abc…`` are the same id to the store), for
    finding the same event twice in a batch before the database does."""
    return event_id.strip("{}").replace("-", "").lower()


def check_event_ids(events: Sequence[Event]) -> None:
    """Raise ``InvalidEventError`` naming the ids the store cannot take, exactly as the events carry them
    (the collector sets aside the events with those ids), before anything of the batch is written."""
    bad = [event.event.id for event in events if _UUID.fullmatch(event.event.id) is None]
    if bad:
        raise InvalidEventError(f"event id {bad[0]!r} is not a UUID ({len(bad)} such in the batch) — set these "
                                "events aside; nothing of the batch was stored", bad)


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters for ``EventStore.events``; ``None`` means any. Times are UTC, ``start`` inclusive."""

    start: datetime | None = None
    end: datetime | None = None
    source_ip: str | None = None
    country: str | None = None
    persona: str | None = None
    session_id: str | None = None
    cve: str | None = None
    event_type: str | None = None
    limit: int = 1000
    #: Newest first when True.
    descending: bool = False


@dataclass(frozen=True, slots=True)
class DailyCount:
    day: date
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class DailyPairCount:
    """One row of ``EventStore.daily_pair_counts``: a UTC day, a pair of dimension values, its events."""

    day: date
    key: tuple[str, str]
    count: int


@dataclass(frozen=True, slots=True)
class KeyCount:
    """One row of ``EventStore.top``: a dimension value and its events in the period."""

    key: str
    count: int


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """One source address over a period: what a sighting or an attacker overview needs."""

    source_ip: str
    events: int
    first_seen: datetime
    last_seen: datetime
    country: str | None
    asn: int | None
    as_org: str | None
    #: Sensors that saw it, and the CVEs detected in its events (both sorted).
    sensors: list[str] = field(default_factory=list)
    cves: list[str] = field(default_factory=list)


class EventStore(Protocol):
    #: ``duckdb`` or ``postgres``.
    backend: str

    def migrate(self) -> None:
        """Bring the schema to the current version (versioned migrations; safe to run every start).

        Raises ``StoreSchemaError`` when the database was written by a newer honeyscope."""
        ...

    def schema_version(self) -> int:
        """The schema version the database is at (0 when it has never been migrated)."""
        ...

    def write(self, events: Sequence[Event]) -> int:
        """Store a batch in one transaction, skipping ids already stored; return how many were new.

        Raises ``StoreUnavailableError`` when the store cannot be reached and ``InvalidEventError`` when
        an event id is not a UUID; either way nothing of the batch is committed."""
        ...

    def count(self) -> int:
        """Events stored."""
        ...

    def event_ids(self) -> set[str]:
        """Every stored event id (acceptance tests compare id sets; fine up to a few million)."""
        ...

    def event(self, event_id: str) -> Event | None:
        """One event by id (the drill-down view), or ``None``."""
        ...

    def events(self, query: EventQuery) -> list[Event]:
        """Events matching the query, ordered by time (then id)."""
        ...

    def daily_counts(self, dimension: Dimension, start: datetime | None = None,
                     end: datetime | None = None, *, event_type: str | None = None) -> list[DailyCount]:
        """Events per UTC day and dimension value (``cve`` counts an event once per CVE detected).

        Answered from a roll-up kept in the write transaction, so its cost does not grow with the
        number of events. ``start``/``end`` select whole UTC days: a day is included when any part of
        it lies in ``[start, end)``. Events without a value for the dimension (no country, no CVE) are
        not counted; ``type`` counts every event. ``event_type`` restricts to one event type."""
        ...

    def daily_pair_counts(self, first: Dimension, second: Dimension, start: datetime | None = None,
                          end: datetime | None = None, *, event_type: str | None = None) -> list[DailyPairCount]:
        """Events per UTC day and pair of values of two different dimensions (``country`` × ``cve``), in
        order of day, then first value, then second.

        Keys, days and ``event_type`` are as in ``daily_counts``: an event with two CVEs counts once in
        each of its pairs, and an event without a value for either dimension (no country, no CVE) is in no
        pair. Unlike ``daily_counts`` this reads ``events`` (one grouped scan of the selected days, since
        the roll-up keeps no pairs), so its cost grows with the events in the period. Raises
        ``ValueError`` when both dimensions are the same."""
        ...

    def top(self, dimension: Dimension, start: datetime | None = None, end: datetime | None = None,
            *, limit: int = 10, event_type: str | None = None) -> list[KeyCount]:
        """The dimension values with most events over the days selected as in ``daily_counts``."""
        ...

    def sources(self, start: datetime | None = None, end: datetime | None = None, *,
                limit: int = 100) -> list[SourceSummary]:
        """The most active source addresses in ``[start, end)``, most events first."""
        ...

    def scan(self, columns: Sequence[str], start: datetime | None = None, end: datetime | None = None, *,
             event_type: str | None = None) -> pa.Table:
        """Columns of the events in ``[start, end)`` as an Arrow table, in time order — the bulk read
        for analysis (sessions, clusters). Names are ``events`` columns (see docs/store.md); ``id`` is
        text, ``ts`` a UTC timestamp without zone. Raises ``ValueError`` for an unknown column."""
        ...

    def size_bytes(self) -> int:
        """Bytes the store occupies (the file for DuckDB, the database for PostgreSQL)."""
        ...

    def export_parquet(self, directory: Path, start: datetime | None = None,
                       end: datetime | None = None) -> list[Path]:
        """Write events as Parquet partitioned by UTC day (``day=YYYY-MM-DD/``); return the files.

        ``directory`` must be empty or absent. Files hold every column of ``events`` but ``day`` (it
        is the directory name, hive style)."""
        ...

    def close(self) -> None: ...
