"""The event store: DuckDB (an embedded file, the default) or PostgreSQL (shared, multi-writer).

``open_store(settings)`` picks the backend from ``[store]``; call ``migrate()`` before the first write.
See docs/store.md for the schema, migrations, idempotency and the measured figures.
"""

from __future__ import annotations

from pathlib import Path

from honeyscope.config import ConfigError, StoreSettings
from honeyscope.store.base import (
    DIMENSIONS,
    DailyCount,
    DailyPairCount,
    Dimension,
    EventQuery,
    EventStore,
    InvalidEventError,
    KeyCount,
    SourceSummary,
    StoreSchemaError,
    StoreUnavailableError,
    storable_event_id,
)


def open_store(settings: StoreSettings) -> EventStore:
    """Open the configured store (not yet migrated). Backends are imported only when chosen."""
    if settings.kind == "postgres":
        if not settings.dsn:
            raise ConfigError("store.kind is \"postgres\" but store.dsn is missing — set [store] dsn = "
                              "\"postgresql://user@host:5432/honeyscope\" (or kind = \"duckdb\")")
        from honeyscope.store.postgres import PostgresStore

        return PostgresStore(settings.dsn)
    from honeyscope.store.duckdb import DuckDBStore

    return DuckDBStore(Path(settings.path), memory_limit=settings.memory_limit)


__all__ = [
    "DIMENSIONS",
    "DailyCount",
    "DailyPairCount",
    "Dimension",
    "EventQuery",
    "EventStore",
    "InvalidEventError",
    "KeyCount",
    "SourceSummary",
    "StoreSchemaError",
    "StoreUnavailableError",
    "open_store",
    "storable_event_id",
]
