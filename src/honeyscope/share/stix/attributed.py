"""The attribution the sharing exports carry: the attributed clusters of a period of the store.

``honeyscope export stix``/``misp`` and the dashboard's TAXII collection call ``attribute_store`` so
partners get one judgement whichever way they receive it: every event type of ``[start, end)`` (sessions
need more than HTTP requests), read a page at a time, through ``attribute_events`` (sessions → clusters →
attribution against the built-in intel, the MISP galaxy and ``intel``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from honeyscope.share.stix.actors import AttributedCluster, attribute_events
from honeyscope.share.stix.reading import read_store
from honeyscope.store.base import EventStore

__all__ = ["attribute_store", "intel_paths"]


def intel_paths(data: Path | None, extra: Sequence[Path] = ()) -> list[Path]:
    """The intel read for attribution: the data directory's ``intel/`` when it exists, then ``extra``."""
    local = data.resolve() / "intel" if data is not None else None
    return [*([local] if local is not None and local.is_dir() else []), *extra]


def attribute_store(store: EventStore, start: datetime | None, end: datetime | None, *,
                    intel: Sequence[Path] = ()) -> list[AttributedCluster]:
    """The attributed clusters of the store's events in ``[start, end)`` (none for a store never written).
    Raises ``honeyscope.analysis.knowledge.IntelError`` for a broken intel file."""
    if store.schema_version() == 0:
        return []
    return attribute_events(read_store(store, start, end, event_type=None), intel=intel)
