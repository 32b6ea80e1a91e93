"""Synthetic, realistic-looking events for bench/store.py (enriched, some with detections).

Sizes follow what the Exchange persona records: a browser-like head of ~500 bytes, its header list,
TLS facts on most requests, geo/AS enrichment, and Sigma detections with CVEs on about a third.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import msgspec

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

COUNTRIES = ["CN", "US", "RU", "NL", "DE", "KR", "BR", "IN", "VN", "FR", "GB", "SG", "HK", "TW", "IR"]
PATHS = ["/owa/auth/logon.aspx", "/ecp/default.flt", "/autodiscover/autodiscover.json", "/owa/auth/x.js",
         "/mapi/nspi/", "/ews/exchange.asmx", "/aspnet_client/system_web/shell.aspx", "/rpc/rpcproxy.dll", "/"]
AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
          "python-requests/2.31.0", "Mozilla/5.0 zgrab/0.x", "ExchangeServicesClient/0.0.0.0", "curl/8.4.0"]
RULES = [("proxylogon_ssrf", "ProxyLogon SSRF", ["CVE-2021-26855"], "high"),
         ("proxyshell_path", "ProxyShell path confusion", ["CVE-2021-34473", "CVE-2021-34523"], "critical"),
         ("owa_probe", "OWA version probe", [], "informational"),
         ("webshell_access", "China Chopper web shell access", ["CVE-2021-27065"], "critical")]


def synthetic_events(count: int, *, start: datetime = datetime(2021, 3, 1, tzinfo=UTC), days: int = 30,
                     seed: int = 1, sensors: int = 4, sources: int = 50_000) -> Iterator[Event]:
    """``count`` events spread evenly over ``days`` days from ``start``, in time order."""
    rng = random.Random(seed)
    ids = UuidV7()
    step = timedelta(days=days) / max(count, 1)
    for index in range(count):
        moment = start + step * index
        event_id = ids.new(int(moment.timestamp() * 1000))
        roll = rng.random()
        if roll < 0.95:
            yield _http(rng, event_id, moment, sensors, sources)
        elif roll < 0.98:
            yield _tls(rng, event_id, moment, sensors, sources)
        elif roll < 0.995:
            yield _limit(rng, event_id, moment, sensors, sources)
        else:
            yield SensorLifecycleEvent(timestamp=moment, event=EventMeta(id=event_id),
                                       observer=Observer(name=f"sensor-{rng.randrange(sensors)}"),
                                       honeyscope=HsLifecycleNs(sensor=HsLifecycle(action="health")))


def _source(rng: random.Random, sources: int) -> Endpoint:
    number = rng.randrange(sources)
    asn = 4134 + number % 700
    return Endpoint(ip=f"{1 + number % 223}.{number // 223 % 256}.{number % 97}.{number % 251}",
                    port=rng.randrange(1024, 65535),
                    geo=Geo(country_iso_code=COUNTRIES[number % len(COUNTRIES)]),
                    as_=AutonomousSystem(number=asn, organization=AsOrganization(name=f"AS {asn} Networks")))


def _http(rng: random.Random, event_id: str, moment: datetime, sensors: int, sources: int) -> HttpRequestEvent:
    path = rng.choice(PATHS)
    agent = rng.choice(AGENTS)
    headers = [("Host", "mail.contoso.com"), ("User-Agent", agent), ("Accept", "*/*"),
               ("Accept-Language", "en-US,en;q=0.9"), ("Accept-Encoding", "gzip, deflate"),
               ("Cookie", f"X-AnonResource=true; X-AnonResource-Backend=localhost/ecp/default.flt?~3; n={event_id}"),
               ("Connection", "keep-alive")]
    head = (f"GET {path}?q={rng.randrange(10**6)} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
            + "\r\n").encode("latin-1")
    found = []
    if rng.random() < 0.35:
        rule, title, cves, level = rng.choice(RULES)
        found.append(Detection(rule_id=rule, title=title, severity=level, cves=list(cves), techniques=["T1190"],
                               evidence=[f"cs-uri-stem: {path}"]))
    return HttpRequestEvent(
        timestamp=moment, event=EventMeta(id=event_id, duration=rng.randrange(10**5, 10**7)),
        observer=Observer(name=f"sensor-{rng.randrange(sensors)}", hostname="edge", version="0.1.0"),
        source=_source(rng, sources), destination=Endpoint(ip="192.0.2.10", port=443),
        http=Http(version="1.1", request=HttpRequestMeta(method="GET"), response=HttpResponseMeta(status_code=200)),
        url=Url(original=f"{path}?q=1", path=path, query="q=1", domain="mail.contoso.com"),
        user_agent=UserAgent(original=agent), tls=Tls(established=True, version="1.3", cipher="TLS_AES_256_GCM_SHA384"),
        honeyscope=Honeyscope(
            persona="exchange", route="owa.logon", connection=HsConnection(id=event_id[:18], request_index=1),
            request=HsRequest(head=head, target=f"{path}?q=1", headers=headers),
            tls=HsTls(ja4="t13d1516h2_8daaf6152771_e5627efa2ab1", alpn_offered=["h2", "http/1.1"]),
            enrichment=HsEnrichment(network="public", geo_source="geoip2fast 2024-06-18"), detections=found))


def _tls(rng: random.Random, event_id: str, moment: datetime, sensors: int, sources: int) -> TlsHandshakeEvent:
    return TlsHandshakeEvent(
        timestamp=moment, event=EventMeta(id=event_id), observer=Observer(name=f"sensor-{rng.randrange(sensors)}"),
        source=_source(rng, sources), destination=Endpoint(ip="192.0.2.10", port=443),
        tls=Tls(established=False, version="1.2"),
        honeyscope=HsTlsHandshake(persona="exchange", connection=HsConnection(id=event_id[:18]),
                                  tls=HsTls(ja4="t12d190700_5b57614c22b0_3d5424432f57", error="handshake_failure"),
                                  enrichment=HsEnrichment(network="public")))


def _limit(rng: random.Random, event_id: str, moment: datetime, sensors: int, sources: int) -> LimitEvent:
    return LimitEvent(
        timestamp=moment, event=EventMeta(id=event_id), observer=Observer(name=f"sensor-{rng.randrange(sensors)}"),
        source=_source(rng, sources), destination=Endpoint(ip="192.0.2.10", port=80),
        honeyscope=HsLimitNs(persona="exchange", limit=HsLimit(limit="header_timeout", configured=30.0, observed=31.0),
                             enrichment=HsEnrichment(network="public")))


def scaled_events(count: int, *, start: datetime = datetime(2021, 1, 1, tzinfo=UTC), days: int = 90,
                  seed: int = 1, templates: int = 20_000) -> Iterator[Event]:
    """``count`` events over ``days`` days, cheaply: copies of a pool of synthetic events with new ids and
    times (building each event from scratch would dominate a 10M-event run)."""
    pool = list(synthetic_events(min(templates, count), seed=seed))
    ids = UuidV7()
    step = timedelta(days=days) / max(count, 1)
    for index in range(count):
        template = pool[index % len(pool)]
        moment = start + step * index
        meta = msgspec.structs.replace(template.event, id=ids.new(int(moment.timestamp() * 1000)))
        yield msgspec.structs.replace(template, timestamp=moment, event=meta)
