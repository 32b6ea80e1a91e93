"""The store contract: one logical schema on DuckDB (embedded default) and PostgreSQL (shared).

Writes are idempotent on ``event.id`` (the primary key): writing a batch twice stores it once. The
methods are synchronous; the collector calls them from a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal, Protocol

from honeyscope.events import Event

#: Dimensions the daily roll-ups are grouped by.
Dimension = Literal["country", "asn", "persona", "cve", "sensor", "type"]


class StoreUnavailableError(ConnectionError):
    """The store cannot be reached or refused the write; nothing of the batch was committed."""


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


class EventStore(Protocol):
    #: ``duckdb`` or ``postgres``.
    backend: str

    def migrate(self) -> None:
        """Bring the schema to the current version (versioned migrations; safe to run every start)."""
        ...

    def write(self, events: Sequence[Event]) -> int:
        """Store a batch in one transaction, skipping ids already stored; return how many were new."""
        ...

    def count(self) -> int:
        """Events stored."""
        ...

    def event_ids(self) -> set[str]:
        """Every stored event id (acceptance tests compare id sets; fine up to a few million)."""
        ...

    def events(self, query: EventQuery) -> list[Event]:
        """Events matching the query, ordered by time."""
        ...

    def daily_counts(self, dimension: Dimension, start: datetime | None = None,
                     end: datetime | None = None) -> list[DailyCount]:
        """Events per UTC day and dimension value (``cve`` counts an event once per CVE detected)."""
        ...

    def size_bytes(self) -> int:
        """Bytes the store occupies (the file for DuckDB, the database for PostgreSQL)."""
        ...

    def export_parquet(self, directory: Path) -> list[Path]:
        """Write events as Parquet partitioned by UTC day (``day=YYYY-MM-DD/``); return the files."""
        ...

    def close(self) -> None: ...
