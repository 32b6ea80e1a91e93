"""The enrichment stage as the collector uses it: answers land in the event's ECS and honeyscope fields,
private addresses are labelled and not geolocated, the cache stays bounded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from honeyscope.config import ConfigError, EnrichSettings
from honeyscope.enrich import Enricher
from honeyscope.events import decode_event, encode_event
from honeyscope.events.schema import (
    Endpoint,
    EventMeta,
    HsConnection,
    HsLifecycle,
    HsLifecycleNs,
    HsLimit,
    HsLimitNs,
    HsTls,
    HsTlsHandshake,
    HttpRequestEvent,
    LimitEvent,
    Observer,
    SensorLifecycleEvent,
    Tls,
    TlsHandshakeEvent,
)

MakeRequest = Callable[..., HttpRequestEvent]
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def builtin() -> Enricher:
    return Enricher.from_settings(EnrichSettings())


@pytest.fixture
def mmdb(mmdb_dir: Path) -> Iterator[Enricher]:
    enricher = Enricher.from_settings(EnrichSettings(
        geo="mmdb", country_mmdb=str(mmdb_dir / "GeoLite2-Country.mmdb"),
        asn_mmdb=str(mmdb_dir / "GeoLite2-ASN.mmdb")))
    yield enricher
    enricher.close()


def test_mmdb_answers_land_in_the_event(mmdb: Enricher, make_request: MakeRequest) -> None:
    event = make_request("89.160.20.112")
    mmdb.enrich(event)
    doc = msgspec.json.decode(encode_event(event))
    assert doc["source"]["geo"] == {"country_iso_code": "SE", "country_name": "Sweden", "continent_code": "EU"}
    assert doc["source"]["as"] == {"number": 29518, "organization": {"name": "Bredband2 AB"}}
    assert doc["honeyscope"]["enrichment"]["geo_source"].startswith("GeoLite2-Country.mmdb ")
    decoded = decode_event(encode_event(event))
    assert decoded == event
    assert isinstance(decoded, HttpRequestEvent) and decoded.honeyscope.enrichment is not None
    assert decoded.honeyscope.enrichment.network == "public"  # the default, so omitted on the wire


def test_ipinfo_lite_answers_land_in_the_event(mmdb_dir: Path, make_request: MakeRequest) -> None:
    path = str(mmdb_dir / "ipinfo_lite.mmdb")
    enricher = Enricher.from_settings(EnrichSettings(geo="mmdb", country_mmdb=path, asn_mmdb=path))
    event = make_request("::ffff:223.5.5.5")
    enricher.enrich(event)
    assert event.source.geo is not None and event.source.geo.country_iso_code == "CN"
    assert event.source.as_ is not None and event.source.as_.number == 37963
    assert event.source.ip == "::ffff:223.5.5.5"  # the socket address is kept as seen
    enricher.close()


@pytest.mark.parametrize(("ip", "iso"), [("8.8.8.8", "US"), ("223.5.5.5", "CN"), ("77.88.8.8", "RU"),
                                         ("2001:4860:4860::8888", "US")])
def test_builtin_default_geolocates_public_addresses(builtin: Enricher, make_request: MakeRequest, ip: str,
                                                     iso: str) -> None:
    event = make_request(ip)
    builtin.enrich(event)
    assert event.source.geo is not None and event.source.geo.country_iso_code == iso
    assert event.source.as_ is not None and event.source.as_.organization.name
    assert event.honeyscope.enrichment is not None
    assert event.honeyscope.enrichment.geo_source == "geoip2fast 2024-06-18"


@pytest.mark.parametrize(("ip", "network"), [
    ("192.168.10.5", "private"), ("127.0.0.1", "loopback"), ("100.72.1.9", "shared"),
    ("fd12:3456::1", "private"), ("2001:db8::5", "documentation"), ("203.0.113.77", "documentation"),
    ("::1", "loopback"), ("fe80::2", "link_local"), ("::ffff:10.1.2.3", "private"), ("no-ip", "invalid"),
])
def test_non_public_addresses_are_labelled_not_geolocated(builtin: Enricher, make_request: MakeRequest,
                                                          ip: str, network: str) -> None:
    event = make_request(ip)
    builtin.enrich(event)
    assert event.source.geo is None and event.source.as_ is None
    assert event.honeyscope.enrichment is not None
    assert event.honeyscope.enrichment.network == network
    assert event.honeyscope.enrichment.geo_source is None


def test_scanner_by_range_beats_user_agent(builtin: Enricher, make_request: MakeRequest) -> None:
    event = make_request("162.142.125.40", "Mozilla/5.0 zgrab/0.x")
    builtin.enrich(event)
    assert event.honeyscope.enrichment is not None
    assert (event.honeyscope.enrichment.scanner, event.honeyscope.enrichment.scanner_evidence) == \
        ("Censys", "ip_range")


def test_scanner_by_user_agent(builtin: Enricher, make_request: MakeRequest) -> None:
    event = make_request("8.8.4.4", "l9explore/1.0.0")
    builtin.enrich(event)
    assert event.honeyscope.enrichment is not None
    assert (event.honeyscope.enrichment.scanner, event.honeyscope.enrichment.scanner_evidence) == \
        ("LeakIX (tool)", "user_agent")


def test_other_event_types(builtin: Enricher) -> None:
    meta, observer = EventMeta(id="e"), Observer(name="s1")
    tls = TlsHandshakeEvent(timestamp=NOW, event=meta, observer=observer,
                            source=Endpoint(ip="167.94.146.8", port=1), destination=Endpoint(ip="::1", port=443),
                            tls=Tls(), honeyscope=HsTlsHandshake(connection=HsConnection(id="c"), tls=HsTls()))
    limit = LimitEvent(timestamp=NOW, event=meta, observer=observer, source=Endpoint(ip="77.88.8.8", port=2),
                       honeyscope=HsLimitNs(limit=HsLimit(limit="max_head_bytes", configured=1.0)))
    sourceless = LimitEvent(timestamp=NOW, event=meta, observer=observer,
                            honeyscope=HsLimitNs(limit=HsLimit(limit="max_connections", configured=1.0)))
    lifecycle = SensorLifecycleEvent(timestamp=NOW, event=meta, observer=observer,
                                     honeyscope=HsLifecycleNs(sensor=HsLifecycle(action="start")))
    untouched = [encode_event(sourceless), encode_event(lifecycle)]
    builtin.enrich_batch([tls, limit, sourceless, lifecycle])
    assert tls.honeyscope.enrichment is not None and tls.honeyscope.enrichment.scanner == "Censys"
    assert limit.source is not None and limit.source.geo is not None
    assert limit.source.geo.country_iso_code == "RU"
    assert [encode_event(sourceless), encode_event(lifecycle)] == untouched


def test_enriching_twice_gives_the_same_event(builtin: Enricher, make_request: MakeRequest) -> None:
    event = make_request("77.88.8.8", "masscan/1.3")
    builtin.enrich(event)
    once = encode_event(event)
    builtin.enrich(event)
    assert encode_event(event) == once


def test_address_facts_are_label_scanner_and_geo_asked_one_by_one(builtin: Enricher) -> None:
    """The enricher's single parse and single search give what asking ``classify``, the scanner list and
    the geo source separately gives, for every kind of address."""
    import random

    from honeyscope.enrich import classify
    from honeyscope.enrich.networks import address_key_and_text

    rng = random.Random(5)
    addresses = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(3000)]
    addresses += [f"::ffff:{address}" for address in addresses[:300]]
    addresses += [":".join(f"{rng.randrange(0x10000):x}" for _ in range(8)) for _ in range(300)]
    addresses += [f"2a00:1450:{rng.randrange(0x10000):x}::{rng.randrange(0x10000):x}" for _ in range(300)]
    addresses += [f"{rng.choice(('162.142.125', '167.94.138', '71.6.199'))}.{rng.randrange(256)}"
                  for _ in range(200)]
    addresses += ["2602:80d:1006::5", "fe80::1%eth0", "127.1", "no-ip", "", "8.8.8.8 "]
    assert builtin.geo is not None
    kinds = set()
    for ip in addresses:
        facts = builtin._facts(ip)
        network = classify(ip)
        parsed = address_key_and_text(ip)
        scanner = builtin.scanners.by_address(parsed[0]) if parsed else None
        answer = builtin.geo.lookup(parsed[1]) if parsed and network == "public" else None
        assert (facts.network, facts.scanner, facts.geo) == (network, scanner, answer), ip
        kinds.add((network, scanner is not None, answer is not None))
    assert {("public", True, True), ("public", False, True), ("private", False, False),
            ("invalid", False, False), ("reserved", False, False)} <= kinds


def test_cache_is_bounded(make_request: MakeRequest) -> None:
    enricher = Enricher.from_settings(EnrichSettings(geo="none", cache_size=8))
    for i in range(200):
        enricher.enrich(make_request(f"81.2.{i // 250}.{i % 250 + 1}"))
        assert enricher.cache_size() <= 8
    assert enricher.cache_size() == 8


def test_geo_none_still_labels_and_finds_scanners(make_request: MakeRequest) -> None:
    enricher = Enricher.from_settings(EnrichSettings(geo="none"))
    event = make_request("71.6.199.23")
    enricher.enrich(event)
    assert event.source.geo is None and event.source.as_ is None
    assert event.honeyscope.enrichment is not None
    assert (event.honeyscope.enrichment.network, event.honeyscope.enrichment.scanner,
            event.honeyscope.enrichment.geo_source) == ("public", "Shodan", None)


def test_user_scanner_file_is_used(tmp_path: Path, make_request: MakeRequest) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[[scanner]]\nname = "Partner CERT"\nranges = ["81.2.69.0/28"]\n', encoding="utf-8")
    enricher = Enricher.from_settings(EnrichSettings(geo="none", scanner_files=[str(path)]))
    event = make_request("81.2.69.3")
    enricher.enrich(event)
    assert event.honeyscope.enrichment is not None and event.honeyscope.enrichment.scanner == "Partner CERT"


def test_negative_cache_size_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"enrich.cache_size = -1: must be 0 or more"):
        Enricher.from_settings(EnrichSettings(geo="none", cache_size=-1))


def test_bad_scanner_file_stops_startup(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[[scanner]]\nname = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml: Expected `str`, got `int`"):
        Enricher.from_settings(EnrichSettings(geo="none", scanner_files=[str(path)]))
