"""The TAXII 2.1 server inside the dashboard: ``[web.taxii]`` made into ``share.taxii.taxii_app`` over the store.

One collection: the STIX 2.1 export (``share.stix``) of the last ``days`` whole UTC days up to the newest
event, marked with the configured TLP and produced by the ``network_name`` identity. The export reads the
store a page per call on the dashboard's store thread (``StoreGateway.blocking``), so dashboard views run
between its pages and the store is never read from a second thread; it is rebuilt at most every
``cache_seconds``. It carries the attribution ``honeyscope export stix`` adds (``share.stix.attributed``),
computed over the same window on a background thread (reading the store the same way) at most every
``attribution_minutes``: requests get the latest result meanwhile, and only the first export waits for it.
Authentication is the dashboard's own middleware (bearer token or HTTP Basic with the
token as password), so ``taxii_app`` gets no ``auth_check`` of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from starlette.applications import Starlette

from honeyscope.events import Event
from honeyscope.store.base import EventQuery, EventStore
from honeyscope.web.gateway import StoreGateway
from honeyscope.web.settings import TaxiiSettings


class _PagedEvents:
    """The one store method ``read_store`` calls, answered on the store thread one page at a time."""

    def __init__(self, gateway: StoreGateway) -> None:
        self._gateway = gateway

    def events(self, query: EventQuery) -> list[Event]:
        return self._gateway.blocking(lambda store: store.events(query))

    def schema_version(self) -> int:
        version: int = self._gateway.blocking(lambda store: store.schema_version())
        return version

    def newest(self) -> datetime:
        """The newest event's time (now when the store is empty): where the collection's window ends."""
        found = self._gateway.blocking(lambda store: store.events(EventQuery(descending=True, limit=1)))
        return found[0].timestamp if found else datetime.now(UTC)


def build_taxii(gateway: StoreGateway, settings: TaxiiSettings) -> Starlette:
    """The TAXII app to mount at ``/taxii2``; raises ``ConfigError`` for a TLP level that is not TLP 2.0."""
    from honeyscope.share.stix import StixOptions
    from honeyscope.share.stix.actors import AttributedCluster
    from honeyscope.share.stix.attributed import attribute_store
    from honeyscope.share.stix.reading import read_store
    from honeyscope.share.taxii import BackgroundClusters, StoreSource, taxii_app
    from honeyscope.share.tlp import parse_tlp

    options = StixOptions(network_name=settings.network_name, tlp=parse_tlp(settings.tlp),
                          only_detected=settings.only_detected)
    pages = _PagedEvents(gateway)

    def read_events(start: datetime | None, end: datetime | None) -> Iterator[Event]:
        # read_store only calls ``events``; the pages come from the store thread.
        return read_store(cast(EventStore, pages), start, end)

    def attributed(start: datetime | None) -> Sequence[AttributedCluster]:
        # the clusters ``export stix --from start`` would include (read_store calls only the paged methods)
        return attribute_store(cast(EventStore, pages), start, None, intel=[Path(p) for p in settings.intel])

    clusters = (BackgroundClusters(attributed, interval=settings.attribution_minutes * 60)
                if settings.attribution_minutes > 0 else None)
    source = StoreSource(read_events, options=options, now=pages.newest, ttl=settings.cache_seconds,
                         clusters=clusters,
                         window=timedelta(days=settings.days) if settings.days > 0 else None)
    span = f"the {settings.days} days up to the newest event" if settings.days > 0 else "every stored event"
    return taxii_app(source, title=settings.network_name,
                     description=f"Attacks on the decoys of {settings.network_name} as STIX 2.1 ({span}), "
                                 f"TLP:{options.tlp.upper()}. Read-only.")
