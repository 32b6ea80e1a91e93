"""Where the TAXII server's objects come from: collections of STIX objects, each with its ``date_added``.

``ObjectSource`` is all the server needs: the collections, and a collection's objects sorted by
(date_added, id), one version per id. ``MemorySource`` serves fixed objects (tests, static feeds);
``StoreSource`` exports the store's recent events with the STIX exporter and caches the result for a few
seconds, so a client paging through a collection reads one consistent export.

``date_added`` is the event time at which an object (in its current version) became known — a sighting's
last event, an indicator's first — not the wall-clock time of an export; a sighting that keeps growing
during its day is served again, with a later ``date_added``, as it changes. Events reach the store a few
seconds after they happen, so pollers should overlap ``added_after`` by a minute or two.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from honeyscope.events.schema import Event
from honeyscope.share.stix.actors import AttributedCluster
from honeyscope.share.stix.export import StixOptions, stix_records
from honeyscope.share.stix.ids import HONEYSCOPE_NAMESPACE
from honeyscope.share.stix.reading import read_store
from honeyscope.store.base import EventStore

__all__ = ["CollectionInfo", "MemorySource", "ObjectSource", "StoreSource", "StoredObject", "sort_records"]


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """A TAXII collection's description (all of ours are read-only)."""

    id: str
    title: str
    description: str = ""
    alias: str | None = None


class StoredObject(NamedTuple):
    """A STIX object and when the server added it."""

    obj: dict[str, Any]
    added: datetime


class ObjectSource(Protocol):
    """What ``taxii_app`` serves. Methods may block (they run in a worker thread)."""

    def collections(self) -> Sequence[CollectionInfo]:
        """Every collection, in the order listed."""
        ...

    def objects(self, collection_id: str) -> Sequence[StoredObject] | None:
        """The collection's objects sorted by (added, id), one version per id; ``None`` if no such collection."""
        ...


def sort_records(records: Iterable[StoredObject | tuple[dict[str, Any], datetime]]) -> list[StoredObject]:
    """One entry per id (the latest ``added`` wins), sorted by (added, id); ``added`` made UTC-aware."""
    latest: dict[str, StoredObject] = {}
    for obj, added in records:
        added = added.replace(tzinfo=UTC) if added.tzinfo is None else added.astimezone(UTC)
        known = latest.get(obj["id"])
        if known is None or added >= known.added:
            latest[obj["id"]] = StoredObject(obj, added)
    return sorted(latest.values(), key=lambda item: (item.added, item.obj["id"]))


class MemorySource:
    """Fixed collections of objects."""

    def __init__(self, collections: dict[CollectionInfo, Iterable[StoredObject | tuple[dict[str, Any], datetime]]]):
        self._collections = list(collections)
        self._objects = {info.id: sort_records(records) for info, records in collections.items()}

    def collections(self) -> Sequence[CollectionInfo]:
        return self._collections

    def objects(self, collection_id: str) -> Sequence[StoredObject] | None:
        return self._objects.get(collection_id)


class StoreSource:
    """One collection: the STIX export of the events of the last ``window`` (all events when ``None``).

    ``read_events(start, end)`` yields the events of a period (``read_store`` over an ``EventStore`` does);
    ``clusters()`` returns the attributed clusters to include. An export is reused for ``ttl`` seconds.
    Memory: the cached export, about 1 KB per object."""

    def __init__(self, read_events: Callable[[datetime | None, datetime | None], Iterable[Event]], *,
                 options: StixOptions | None = None,
                 clusters: Callable[[], Sequence[AttributedCluster]] | None = None,
                 window: timedelta | None = timedelta(days=30), ttl: float = 60.0,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.options = options or StixOptions()
        self._read_events = read_events
        self._clusters = clusters
        self._window = window
        self._ttl = ttl
        self._now = now
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, list[StoredObject]] | None = None
        name = self.options.network_name
        self.info = CollectionInfo(
            id=str(uuid.uuid5(HONEYSCOPE_NAMESPACE, f"taxii-collection\x1f{name}\x1f{self.options.tlp}")),
            title=f"{name}: observations (TLP:{self.options.tlp.upper()})", alias="honeyscope",
            description="Sightings, observed data and indicators of attacks on the decoys, attack patterns, "
                        "vulnerabilities" + (" and attribution" if clusters is not None else "")
                        + ", as STIX 2.1 objects." + (
                            f" Events of the last {window.days} days." if window is not None else ""))

    @classmethod
    def from_store(cls, store: EventStore, **kwargs: Any) -> StoreSource:
        """A source reading ``store`` (call it from one thread at a time, as the store requires)."""
        return cls(lambda start, end: read_store(store, start, end), **kwargs)

    def collections(self) -> Sequence[CollectionInfo]:
        return [self.info]

    def objects(self, collection_id: str) -> Sequence[StoredObject] | None:
        if collection_id != self.info.id:
            return None
        with self._lock:
            stamp = self._monotonic()
            if self._cached is None or stamp - self._cached[0] >= self._ttl:
                self._cached = (stamp, self._export())
            return self._cached[1]

    def _export(self) -> list[StoredObject]:
        start = None
        if self._window is not None:
            today = self._now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            start = today - self._window  # whole days, so a sighting always covers its whole day
        clusters = self._clusters() if self._clusters is not None else ()
        return sort_records(stix_records(self._read_events(start, None), options=self.options, clusters=clusters))
