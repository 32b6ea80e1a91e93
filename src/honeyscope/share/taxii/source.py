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

import logging
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

__all__ = ["BackgroundClusters", "CollectionInfo", "MemorySource", "ObjectSource", "StoreSource", "StoredObject",
           "sort_records"]

log = logging.getLogger("honeyscope.share.taxii")

#: Attributed clusters of the events since a start (``None``: every event).
ClusterSource = Callable[[datetime | None], Sequence[AttributedCluster]]


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
    ``clusters(start)`` returns the attributed clusters of the period from ``start`` to include (asked on
    every request: it must be cheap, as ``BackgroundClusters`` is). An export is reused for ``ttl`` seconds
    and while ``clusters`` returns the same sequence object. Memory: the cached export, about 1 KB per object."""

    def __init__(self, read_events: Callable[[datetime | None, datetime | None], Iterable[Event]], *,
                 options: StixOptions | None = None,
                 clusters: ClusterSource | None = None,
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
        #: (when exported, its window start, the clusters it included, its objects)
        self._cached: tuple[float, datetime | None, Sequence[AttributedCluster], list[StoredObject]] | None = None
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
            stamp, cached = self._monotonic(), self._cached
            if (cached is None or stamp - cached[0] >= self._ttl
                    or (self._clusters is not None and self._clusters(cached[1]) is not cached[2])):
                cached = self._cached = (stamp, *self._export())
            return cached[3]

    def _export(self) -> tuple[datetime | None, Sequence[AttributedCluster], list[StoredObject]]:
        start = None
        if self._window is not None:
            today = self._now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            start = today - self._window  # whole days, so a sighting always covers its whole day
        clusters = self._clusters(start) if self._clusters is not None else ()
        records = stix_records(self._read_events(start, None), options=self.options, clusters=clusters)
        return start, clusters, sort_records(records)


class BackgroundClusters:
    """``compute(start)`` (attribution: seconds of CPU) cached, and recomputed on a background thread at most
    every ``interval`` seconds or when ``start`` moves, while requests keep getting the previous result.

    Only the first call waits, for the first result. A failed computation is logged and leaves the previous
    result (none at first). The same list object is returned until a recomputation changes it, so a
    ``StoreSource`` rebuilds its export only then; unchanged clusters keep their STIX ids (they are derived
    from the clusters' member sessions), so ``added_after`` paging is unaffected."""

    def __init__(self, compute: ClusterSource, *, interval: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._compute = compute
        self._interval = interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._first = threading.Lock()
        #: (when computed, for which start, the clusters)
        self._value: tuple[float, datetime | None, list[AttributedCluster]] | None = None
        self._running = False

    def __call__(self, start: datetime | None) -> Sequence[AttributedCluster]:
        with self._first:  # the first caller computes; the callers behind it wait for that result
            if self._value is None:
                self._value = (self._monotonic(), start, self._run(start) or [])
        with self._lock:
            computed, at, clusters = self._value
            moved = start is not None and at is not None and start > at  # the window moved on a day
            if not self._running and (moved or self._monotonic() - computed >= self._interval):
                self._running = True
                threading.Thread(target=self._refresh, args=(start,), name="honeyscope-taxii-attribution",
                                 daemon=True).start()
            return clusters

    def _refresh(self, start: datetime | None) -> None:
        found = self._run(start)
        with self._lock:
            assert self._value is not None
            previous = self._value[2]
            # keep the same object when nothing changed: the export built on it stays valid
            self._value = (self._monotonic(), start, previous if found is None or found == previous else found)
            self._running = False

    def _run(self, start: datetime | None) -> list[AttributedCluster] | None:
        try:
            return list(self._compute(start))
        except Exception:
            log.exception("TAXII attribution failed; serving the previous attribution")
            return None
