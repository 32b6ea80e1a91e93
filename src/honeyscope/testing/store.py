"""A data directory as ``honeyscope up`` leaves it, for tests of the commands that read one (``--data``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from honeyscope.events import Event

#: The DuckDB file inside a data directory (what ``up``, ``web``, ``export`` … open under ``--data``).
DUCKDB_FILE = "honeyscope.duckdb"


def data_dir_holding(directory: Path, events: Sequence[Event]) -> Path:
    """Write ``events`` into ``directory``/honeyscope.duckdb (migrated, closed again); returns ``directory``."""
    from honeyscope.config import StoreSettings
    from honeyscope.store import open_store

    store = open_store(StoreSettings(kind="duckdb", path=str(directory / DUCKDB_FILE)))
    try:
        store.migrate()
        store.write(events)
    finally:
        store.close()
    return directory
