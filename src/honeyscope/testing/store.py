"""A data directory as ``honeyscope up`` leaves it, for tests of the commands that read one (``--data``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from honeyscope.events import Event


def data_dir_holding(directory: Path, events: Sequence[Event]) -> Path:
    """Write ``events`` into the DuckDB store of data directory ``directory`` (migrated, closed again);
    returns ``directory``."""
    from honeyscope.config import StoreSettings
    from honeyscope.store import open_store

    store = open_store(StoreSettings().in_data_dir(directory))
    try:
        store.migrate()
        store.write(events)
    finally:
        store.close()
    return directory
