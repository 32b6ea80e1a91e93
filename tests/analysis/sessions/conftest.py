"""Events built as the sensor and collector build them, with controlled times, ids and addresses."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from honeyscope.events.schema import (
    AsOrganization,
    AutonomousSystem,
    Credential,
    Detection,
    Endpoint,
    EventMeta,
    Geo,
    Honeyscope,
    HsConnection,
    HsRequest,
    HsTls,
    HsTlsHandshake,
    Http,
    HttpBody,
    HttpRequestEvent,
    HttpRequestMeta,
    Observer,
    Tls,
    TlsHandshakeEvent,
    Url,
    UserAgent,
)

T0 = datetime(2021, 3, 3, 12, 0, tzinfo=UTC)


class EventFactory:
    """Numbered event ids (valid UUIDs) so tests can name them."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def next_id(self) -> str:
        return str(uuid.UUID(int=next(self._ids)))

    def http(self, ip: str, at: datetime = T0, *, path: str = "/owa/", method: str = "GET",
             user_agent: str | None = "python-requests/2.25.1", headers: Sequence[tuple[str, str]] | None = None,
             body: bytes = b"", stage: str | None = None, route: str = "owa", query: str | None = None,
             detections: Sequence[Detection] = (), credentials: Sequence[Credential] = (),
             callbacks: Sequence[str] = (), country: str | None = None, asn: int | None = None,
             event_id: str | None = None, sensor: str = "decoy-1") -> HttpRequestEvent:
        names = headers if headers is not None else [("Host", "mail.contoso.com"), ("User-Agent", user_agent or "")]
        source = Endpoint(ip=ip, port=50123, geo=Geo(country_iso_code=country) if country else None,
                          as_=AutonomousSystem(number=asn, organization=AsOrganization(name=f"AS{asn} org"))
                          if asn else None)
        return HttpRequestEvent(
            timestamp=at, event=EventMeta(id=event_id or self.next_id()), observer=Observer(name=sensor),
            source=source, destination=Endpoint(ip="10.0.0.5", port=443),
            http=Http(version="1.1", request=HttpRequestMeta(method=method, body=HttpBody(bytes=len(body)))),
            url=Url(original=path + (f"?{query}" if query else ""), path=path, query=query),
            user_agent=UserAgent(original=user_agent) if user_agent is not None else None,
            honeyscope=Honeyscope(
                persona="exchange", route=route, stage=stage, connection=HsConnection(id="c1", request_index=1),
                request=HsRequest(headers=list(names), body=body,
                                  body_sha256=hashlib.sha256(body).hexdigest() if body else ""),
                credentials=list(credentials), callbacks=list(callbacks), detections=list(detections),
                tls=HsTls(ja4="t13d1516h2_8daaf6152771_02713d6af862"),
            ),
        )

    def tls(self, ip: str, at: datetime = T0, *,
            ja4: str = "t13d1715h2_5b57614c22b0_3d5424432f57") -> TlsHandshakeEvent:
        return TlsHandshakeEvent(
            timestamp=at, event=EventMeta(id=self.next_id(), category=["network"]), observer=Observer(name="decoy-1"),
            source=Endpoint(ip=ip, port=50124), destination=Endpoint(ip="10.0.0.5", port=443),
            tls=Tls(established=True, version="1.3"),
            honeyscope=HsTlsHandshake(persona="exchange", connection=HsConnection(id="c2"), tls=HsTls(ja4=ja4)),
        )


@pytest.fixture
def events() -> EventFactory:
    return EventFactory()
