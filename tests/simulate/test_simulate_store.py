"""Store mode: what a seeded simulation puts in the store, and that its ground truth describes it."""

from __future__ import annotations

import ipaddress
from datetime import date, timedelta
from pathlib import Path

import pytest

from honeyscope.collector.wiring import open_store_for
from honeyscope.config import EnrichSettings
from honeyscope.enrich import Enricher
from honeyscope.events.schema import HttpRequestEvent
from honeyscope.simulate import parse_scenario, simulate
from honeyscope.simulate.run import node_settings_for
from honeyscope.store.base import EventQuery, EventStore

from .conftest import SMALL, Run

TINY = """
[simulation]
start = 2021-03-01
days = 3
sensors = 2
[noise]
daily_events = 60.0
addresses_per_country = 10
countries = { US = 1, CN = 1 }
[[campaign]]
id = "hafnium"
actor = "hafnium"
start = 2021-03-01
daily_sessions = 2.0
addresses = ["104.140.114.110"]
shell_names = ["OutlookZH.aspx"]
shell_key = "k1"
"""

#: The addresses Volexity published (hafnium.yaml), as the small scenario lists them.
PUBLISHED = {"104.140.114.110", "108.61.246.56", "149.28.14.163", "157.230.221.198", "203.160.69.66"}


def open_run_store(data: Path) -> EventStore:
    return open_store_for(node_settings_for(data, None).store)


def requests(store: EventStore, **query: str) -> list[HttpRequestEvent]:
    found = store.events(EventQuery(limit=1_000_000, event_type="http.request", **query))  # type: ignore[arg-type]
    return [event for event in found if isinstance(event, HttpRequestEvent)]


def fingerprint(data: Path) -> list[tuple[str, str, str, str, str]]:
    store = open_run_store(data)
    try:
        return [(e.event.id, e.timestamp.isoformat(), e.source.ip, e.observer.name, e.url.path)
                for e in requests(store)]
    finally:
        store.close()


def test_the_same_seed_gives_the_same_events(tmp_path: Path) -> None:
    scenario = parse_scenario(TINY, "tiny")
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        simulate(tmp_path / name, scenario, seed=seed, scenario_text=TINY)
    first, again, other = (fingerprint(tmp_path / name) for name in "abc")
    assert first == again and len(first) > 150
    assert not {row[0] for row in first} & {row[0] for row in other}
    # Ids are UUIDv7 stamped with the simulated time.
    event_id, stamp = first[0][0], first[0][1]
    assert event_id[14] == "7" and event_id[19] in "89ab"
    assert stamp.startswith("2021-03-0")


def test_noise_volume_follows_the_design(small_run: Run) -> None:
    scenario = parse_scenario(SMALL, "test")
    weekday = scenario.noise.weekday
    expected = sum(scenario.noise.daily_events * weekday[day.weekday()] * len(scenario.active_sensors(day)) / 3
                   for day in scenario.days)
    assert 0.85 * expected < small_run.truth.noise_events < 1.15 * expected
    assert set(small_run.truth.noise_countries) == {"US", "CN", "DE", "BR", "VN"}
    us, vn = small_run.truth.noise_countries["US"], small_run.truth.noise_countries["VN"]
    assert 2.5 < us / vn < 6.5  # shares 4 : 1


def test_sensor_outage_shows_in_the_store(small_run: Run) -> None:
    store = open_run_store(small_run.data)
    try:
        active = {(row.day, row.key) for row in store.daily_counts("sensor") if row.count}
    finally:
        store.close()
    for offset in range(30):
        day = date(2021, 2, 15) + timedelta(days=offset)
        down = date(2021, 2, 20) <= day <= date(2021, 2, 22)
        assert ((day, "decoy-03") in active) is not down
        assert (day, "decoy-01") in active
    assert small_run.truth.exposure[date(2021, 2, 21)] == 2


def test_noise_sources_resolve_to_their_countries(small_run: Run) -> None:
    store = open_run_store(small_run.data)
    try:
        events = requests(store)
    finally:
        store.close()
    campaign_ips = set(small_run.truth.campaign_of())
    scanner_ips = {ip for scanner in small_run.truth.scanners for ip in scanner.source_ips}
    noise = [e for e in events if e.source.ip not in campaign_ips | scanner_ips]
    countries = {e.source.geo.country_iso_code for e in noise if e.source.geo}
    assert countries == {"US", "CN", "DE", "BR", "VN"}
    scanners = {e.honeyscope.enrichment.scanner for e in events if e.source.ip in scanner_ips and
                e.honeyscope.enrichment}
    assert scanners == {"Censys", "Shadowserver"}


def test_the_cn_noisy_scanner_sits_in_one_chinese_block(small_run: Run) -> None:
    scanner = next(c for c in small_run.truth.campaigns if c.id == "cn-noisy-scanner")
    enricher = Enricher.from_settings(EnrichSettings())
    try:
        countries = {enricher.lookup(ip).geo.country_iso_code for ip in scanner.source_ips}  # type: ignore[union-attr]
    finally:
        enricher.close()
    assert countries == {"CN"} and len(scanner.source_ips) == 3
    assert len({ipaddress.ip_network(f"{ip}/24", strict=False) for ip in scanner.source_ips}) == 1
    assert scanner.actor is None and scanner.events > 100


def test_hafnium_events_come_from_published_addresses_with_proxylogon_detections(small_run: Run) -> None:
    hafnium = next(c for c in small_run.truth.campaigns if c.id == "hafnium-proxylogon")
    assert hafnium.actor == "hafnium" and hafnium.events > 20
    store = open_run_store(small_run.data)
    try:
        events = [e for ip in hafnium.source_ips for e in requests(store, source_ip=ip)]
    finally:
        store.close()
    assert {e.source.ip for e in events} <= PUBLISHED
    assert len(events) == hafnium.events
    cves = [{cve for d in e.honeyscope.detections for cve in d.cves} for e in events]
    assert sum("CVE-2021-26855" in found for found in cves) >= len(events) * 0.6
    assert any("CVE-2021-27065" in found for found in cves)
    assert any(e.honeyscope.stage == "webshell.command" for e in events)
    assert max(e.timestamp.date() for e in events) <= date(2021, 3, 4)


def test_ground_truth_matches_the_store(small_run: Run) -> None:
    truth = small_run.truth
    store = open_run_store(small_run.data)
    try:
        assert store.count() == truth.events
        stored = store.event_ids()
        for campaign in truth.campaigns:
            assert set(campaign.event_ids) <= stored
            assert len(campaign.event_ids) == campaign.events
            from_sources = sum(len(requests(store, source_ip=ip)) for ip in campaign.source_ips)
            assert from_sources == campaign.events
    finally:
        store.close()
    owners = [ip for campaign in truth.campaigns for ip in campaign.source_ips]
    assert len(owners) == len(set(owners))  # no address serves two campaigns
    assert (small_run.data / "simulation" / "scenario.toml").read_text() == SMALL
    onsets = {(tuple(t.key), t.onset) for t in truth.trends}
    assert (("CN", "CVE-2021-26855"), date(2021, 3, 3)) in onsets


@pytest.mark.parametrize("text, message", [
    ("[noise]\ncountries = { China = 1 }\n", "not an ISO 3166 country code"),
    ("[simulaton]\ndays = 3\n", "unknown key 'simulaton'"),
    ("[[campaign]]\nid = 'x'\n", "give either addresses"),
    ("[[campaign]]\nid = 'x'\naddresses = ['1.2.3.4']\nstart = 2021-03-02\nend = 2021-03-01\n", "before start"),
    ("[[campaign]]\nid = 'x'\naddresses = ['1.2.3.4']\nkind = 'proxylogon-check'\ntools = ['zap']\n", "unknown tools"),
])
def test_bad_scenarios_are_one_clear_line(text: str, message: str) -> None:
    from honeyscope.config import ConfigError

    with pytest.raises(ConfigError, match=message) as caught:
        parse_scenario(text, "bad.toml")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("bad.toml")
