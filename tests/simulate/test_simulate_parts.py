"""The pieces: seeded ids, addresses that enrichment places, probes that detection tags as designed."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from honeyscope.collector.wiring import build_stages
from honeyscope.config import EnrichSettings, Settings
from honeyscope.enrich import Enricher
from honeyscope.events.ids import event_id_time_ms
from honeyscope.sensor.personas.exchange.persona import ExchangePersona
from honeyscope.simulate.addresses import AddressBook
from honeyscope.simulate.catalogue import PROBES
from honeyscope.simulate.ids import SeededIds
from honeyscope.simulate.plan import _single
from honeyscope.simulate.record import TemplateStore
from honeyscope.simulate.templates import Chain


def test_seeded_ids_are_uuid7_at_the_simulated_time() -> None:
    moment = datetime(2021, 3, 3, 12, 0, 1, 250000, tzinfo=UTC)
    first, second = SeededIds(1), SeededIds(1)
    ids = [first.event_id(moment) for _ in range(100)]
    assert ids == [second.event_id(moment) for _ in range(100)]
    assert len(set(ids)) == 100
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert event_id_time_ms(ids[0]) == int(moment.timestamp() * 1000)
    assert ids[0] != SeededIds(2).event_id(moment)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_settings(EnrichSettings())


def test_addresses_resolve_to_the_wanted_countries(enricher: Enricher) -> None:
    book = AddressBook(enricher, seed=3)
    drawn = {code: book.draw(code, 20) for code in ("CN", "US", "VN", "BR")}
    for code, addresses in drawn.items():
        assert len(set(addresses)) == 20
        assert {enricher.lookup(ip).geo.country_iso_code for ip in addresses} == {code}  # type: ignore[union-attr]
        assert all(enricher.lookup(ip).network == "public" and enricher.lookup(ip).scanner is None
                   for ip in addresses)
    everything = [ip for addresses in drawn.values() for ip in addresses]
    assert len(everything) == len(set(everything))
    block = book.block("CN", 4)
    assert len({ipaddress.ip_network(f"{ip}/24", strict=False) for ip in block}) == 1
    assert not set(block) & set(everything)
    again = AddressBook(enricher, seed=3)
    assert again.draw("CN", 20) == drawn["CN"]


def test_scanner_addresses_come_from_their_published_ranges(enricher: Enricher) -> None:
    censys = next(entry for entry in enricher.scanners.entries if entry.name == "Censys")
    found = AddressBook(enricher, seed=1).scanner_addresses(censys.label, censys.ranges, 6)
    assert len(found) == 6 and {enricher.lookup(ip).scanner for ip in found} == {"Censys"}


def test_probes_carry_the_cves_detection_tags(tmp_path: Path) -> None:
    """The trend ground truth counts on each probe's CVEs: detection must tag exactly those."""
    settings = Settings()
    stages = build_stages(settings, artifact_root=tmp_path / "artifacts")
    store = TemplateStore(ExchangePersona(), tmp_path, host="mail.contoso.com",
                          when=datetime(2021, 3, 3, tzinfo=UTC))
    try:
        for probe in PROBES:
            events = list(store.events(_single(probe, "curl/7.68.0"), tls=False))
            for _, stage in stages:
                stage(events)  # type: ignore[arg-type]
            tagged = {cve for event in events for d in event.honeyscope.detections for cve in d.cves}
            assert tagged == set(probe.cves), probe.name
        check = list(store.events(Chain("proxylogon-check", tool="css-nse"), tls=True))
        for _, stage in stages:
            stage(check)  # type: ignore[arg-type]
        assert {cve for e in check for d in e.honeyscope.detections for cve in d.cves} == {"CVE-2021-26855"}
    finally:
        store.close()
