"""STIX 2.1 export: what a partner receives — valid STIX, sightings of indicators by the sensor network,
ATT&CK and CVE context, attribution with confidence, TLP 2.0 markings, stable ids, no decoy addresses."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import timedelta
from typing import Any

import msgspec
import pytest
import stix2
from stix2patterns.validator import run_validator

from honeyscope.config import ConfigError
from honeyscope.share.stix import StixOptions, stix_objects, write_stix
from honeyscope.share.stix.synthetic import HAFNIUM_ADDRESS, campaign_events, request
from honeyscope.share.tlp import TLP_MARKING_IDS, marking_definition, parse_tlp

OFFICIAL_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"


def test_campaign_with_attribution_passes_stix2_validator_and_parses_with_stix2(campaign, hafnium, stix):
    events, clusters = hafnium
    bundle = stix.export([*campaign, *events], clusters)
    result = stix.validate(bundle)
    assert result.is_valid, [str(e) for e in result.errors]
    parsed = stix2.parse(json.dumps(bundle), allow_custom=False)
    assert len(parsed.objects) == len(bundle["objects"])
    ids = [o["id"] for o in bundle["objects"]]
    assert len(ids) == len(set(ids))
    kinds = Counter(o["type"] for o in bundle["objects"])
    for kind in ("identity", "marking-definition", "observed-data", "ipv4-addr", "network-traffic", "indicator",
                 "sighting", "attack-pattern", "vulnerability", "campaign", "intrusion-set", "relationship",
                 "autonomous-system", "file"):
        assert kinds[kind] > 0, kind


def test_every_reference_points_to_an_object_written_before_it(campaign, hafnium, stix):
    events, clusters = hafnium
    seen: set[str] = set()
    for obj in stix.export([*campaign, *events], clusters)["objects"]:
        refs = [v for k, v in obj.items() if k.endswith("_ref")] + [
            r for k, v in obj.items() if k.endswith("_refs") for r in v]
        assert all(ref in seen for ref in refs), (obj["id"], [r for r in refs if r not in seen])
        seen.add(obj["id"])


def test_a_sighting_per_source_and_day_counts_its_requests_seen_by_the_sensor_network(campaign, stix):
    bundle = stix.export(campaign)
    [identity] = stix.of_type(bundle, "identity")
    assert identity["name"] == "honeyscope sensor network"
    indicators = {o["id"]: o for o in stix.of_type(bundle, "indicator")}
    observed = {o["id"]: o for o in stix.of_type(bundle, "observed-data")}
    ip_of = {o["id"]: o["pattern"].split("'")[1] for o in indicators.values() if o["pattern"].startswith("[ipv4")}
    per_source_day = Counter((e.source.ip, e.timestamp.date().isoformat()) for e in campaign)
    sightings = [s for s in stix.of_type(bundle, "sighting") if s["sighting_of_ref"] in ip_of]
    assert len(sightings) == len(per_source_day) == 12
    for sighting in sightings:
        key = (ip_of[sighting["sighting_of_ref"]], sighting["first_seen"][:10])
        assert sighting["count"] == per_source_day[key]
        assert sighting["where_sighted_refs"] == [identity["id"]]
        assert sighting["first_seen"] <= sighting["last_seen"] and sighting["last_seen"][:10] == key[1]
        samples = [observed[ref] for ref in sighting["observed_data_refs"]]
        assert sum(o["number_observed"] for o in samples) == sighting["count"]


def test_an_observed_request_carries_method_path_and_headers_as_lists(campaign, stix):
    bundle = stix.export(campaign)
    exploit = next(o for o in stix.of_type(bundle, "network-traffic")
                   if o["extensions"]["http-request-ext"]["request_value"] == "/ecp/y.js")
    request_ext = exploit["extensions"]["http-request-ext"]
    assert request_ext["request_method"] == "post" and request_ext["request_version"] == "http/1.1"
    assert request_ext["request_header"]["User-Agent"] == ["ExchangeServicesClient/0.0.0.0"]
    assert request_ext["request_header"]["Cookie"] == ["X-BEResource=localhost~1942062522"]
    assert exploit["protocols"] == ["ipv4", "tcp", "https"] and exploit["dst_port"] == 443
    address = next(o for o in stix.of_type(bundle, "ipv4-addr") if o["id"] == exploit["src_ref"])
    [autonomous] = [o for o in stix.of_type(bundle, "autonomous-system") if o["id"] in address["belongs_to_refs"]]
    assert autonomous["number"] == 4134 and autonomous["name"] == "CHINANET-BACKBONE"


def test_exploit_paths_and_web_shells_become_indicators_with_attack_patterns_and_cves(campaign, stix):
    bundle = stix.export(campaign)
    indicators = {o["name"].split(": ", 1)[1]: o for o in stix.of_type(bundle, "indicator")}
    path = indicators["/ecp/y.js"]
    assert path["pattern"] == r"[network-traffic:extensions.'http-request-ext'.request_value MATCHES " \
                              r"'^/ecp/y\\.js(\\?|$)']"
    assert path["indicator_types"] == ["malicious-activity"] and "CVE-2021-26855" in path["description"]
    assert run_validator(path["pattern"], stix_version="2.1") == []
    shells = [o for o in stix.of_type(bundle, "indicator") if o["pattern"].startswith("[file:hashes.'SHA-256'")]
    assert len(shells) == 2  # two different shells in the campaign
    patterns = {o["external_references"][0]["external_id"]: o for o in stix.of_type(bundle, "attack-pattern")}
    assert patterns["T1190"]["name"] == "Exploit Public-Facing Application"
    assert patterns["T1190"]["kill_chain_phases"] == [{"kill_chain_name": "mitre-attack",
                                                       "phase_name": "initial-access"}]
    assert patterns["T1505.003"]["external_references"][0]["url"] == "https://attack.mitre.org/techniques/T1505/003/"
    cves = {o["name"]: o for o in stix.of_type(bundle, "vulnerability")}
    assert cves["CVE-2021-26855"]["external_references"][0] == {
        "source_name": "cve", "external_id": "CVE-2021-26855", "url": "https://www.cve.org/CVERecord?id=CVE-2021-26855"}
    links = {(o["source_ref"], o["relationship_type"], o["target_ref"]) for o in stix.of_type(bundle, "relationship")}
    assert (path["id"], "indicates", patterns["T1190"]["id"]) in links
    assert (patterns["T1190"]["id"], "targets", cves["CVE-2021-26855"]["id"]) in links
    probe_only = next(o for o in stix.of_type(bundle, "indicator")
                      if o["pattern"] == "[ipv4-addr:value = '198.18.0.1']")
    assert probe_only["indicator_types"] == ["anomalous-activity"]  # probed OWA, matched no rule


def test_hafnium_cluster_is_a_campaign_attributed_to_the_intrusion_set_with_confidence(hafnium, stix):
    events, clusters = hafnium
    bundle = stix.export(events, clusters)
    [actor] = stix.of_type(bundle, "intrusion-set")
    assert actor["name"] == "HAFNIUM" and "Silk Typhoon" in actor["aliases"]
    assert actor["external_references"][0]["external_id"] == "G0125"
    [campaign] = stix.of_type(bundle, "campaign")
    [attributed] = [o for o in stix.of_type(bundle, "relationship") if o["relationship_type"] == "attributed-to"]
    assert (attributed["source_ref"], attributed["target_ref"]) == (campaign["id"], actor["id"])
    assert attributed["confidence"] == clusters[0].confidence >= 70
    assert attributed["description"].startswith(f"HAFNIUM: High confidence ({attributed['confidence']}, ")
    assert f"ip {HAFNIUM_ADDRESS}" in attributed["description"]
    assert any("volexity" in r["url"] for r in attributed["external_references"])
    [address_indicator] = [o for o in stix.of_type(bundle, "indicator") if HAFNIUM_ADDRESS in o["pattern"]]
    indicates = {(o["source_ref"], o["target_ref"]) for o in stix.of_type(bundle, "relationship")
                 if o["relationship_type"] == "indicates"}
    assert (address_indicator["id"], campaign["id"]) in indicates


def test_every_object_is_marked_with_the_official_tlp_2_marking(campaign, stix):
    bundle = stix.export(campaign, tlp="amber")
    [marking] = stix.of_type(bundle, "marking-definition")
    assert marking == marking_definition("amber") and marking["id"] == OFFICIAL_AMBER
    assert all(o["object_marking_refs"] == [OFFICIAL_AMBER] for o in bundle["objects"] if o is not marking)
    red = stix.export(campaign[:3], tlp="red")
    assert {o["id"] for o in stix.of_type(red, "marking-definition")} == {TLP_MARKING_IDS["red"]}
    assert stix.validate(red).is_valid


@pytest.mark.parametrize(("text", "level"), [("amber+strict", "amber+strict"), ("TLP:CLEAR", "clear"),
                                             ("white", "clear"), (" Green ", "green"), ("tlp:amber_strict",
                                                                                        "amber+strict")])
def test_tlp_levels_are_read_in_their_usual_spellings(text, level):
    assert parse_tlp(text) == level


def test_an_unknown_tlp_level_is_one_clear_error():
    with pytest.raises(ConfigError, match=re.escape("'orange' is not TLP 2.0 — use one of clear, green, amber")):
        parse_tlp("orange")


def test_re_exporting_gives_the_same_bytes_and_overlapping_periods_share_ids(campaign, stix):
    first, second = io.BytesIO(), io.BytesIO()
    write_stix(campaign, first)
    write_stix(campaign, second)
    assert first.getvalue() == second.getvalue()
    day_one = [e for e in campaign if e.timestamp.day == 3]
    whole = {o["id"]: o for o in stix.export(campaign)["objects"]}
    part = stix.export(day_one)["objects"]
    assert all(o["id"] in whole for o in part)  # same observables, indicators and day-one sightings
    assert all(o == whole[o["id"]] for o in part if o["type"] == "sighting")


def test_observable_ids_are_the_ones_the_stix_spec_and_stix2_compute(campaign, stix):
    bundle = stix.export([*campaign, *_hostile()], include_non_public=True, reveal_decoys=True)
    classes = {"ipv4-addr": stix2.v21.IPv4Address, "network-traffic": stix2.v21.NetworkTraffic,
               "file": stix2.v21.File, "autonomous-system": stix2.v21.AutonomousSystem, "url": stix2.v21.URL}
    checked = 0
    for obj in bundle["objects"]:
        if obj["type"] in classes:
            rebuilt = classes[obj["type"]](**{k: v for k, v in obj.items() if k not in ("id", "type")})
            assert rebuilt.id == obj["id"]
            checked += 1
    assert checked > 20


def test_decoy_addresses_and_host_names_are_left_out_unless_revealed(campaign, stix):
    hidden = json.dumps(stix.export(campaign))
    assert "10.0.0.5" not in hidden and "mail.contoso.com" not in hidden and "decoy-1" not in hidden
    revealed = stix.export(campaign, reveal_decoys=True)
    traffic = stix.of_type(revealed, "network-traffic")[0]
    decoy = next(o for o in stix.of_type(revealed, "ipv4-addr") if o["id"] == traffic["dst_ref"])
    assert decoy["value"] == "10.0.0.5"
    assert traffic["extensions"]["http-request-ext"]["request_header"]["Host"] == ["mail.contoso.com"]
    urls = {o["value"] for o in stix.of_type(revealed, "url")}
    assert "https://mail.contoso.com/ecp/y.js" in urls
    assert stix.validate(revealed).is_valid


def test_research_scanners_non_public_sources_and_other_event_types_are_left_out(stix):
    from honeyscope.share.stix import ExportStats

    start = next(campaign_events(sources=1)).timestamp
    events = [request("198.18.0.9", start, number=1, scanner="Shodan"),
              request("10.1.2.3", start, number=2, public=False),
              request("198.18.0.10", start, number=3)]
    stats = ExportStats()
    bundle = {"objects": list(stix_objects(events, stats=stats))}
    assert [o["value"] for o in stix.of_type(bundle, "ipv4-addr")] == ["198.18.0.10"]
    assert stats.skipped == {"research scanner": 1, "non-public source": 1} and stats.exported == 1
    kept = list(stix_objects(events, options=StixOptions(include_scanners=True, include_non_public=True)))
    assert len([o for o in kept if o["type"] == "ipv4-addr"]) == 3
    only = list(stix_objects(events, options=StixOptions(only_detected=True)))
    assert [o["type"] for o in only] == ["marking-definition", "identity"]


def test_an_export_of_nothing_is_still_a_valid_bundle(stix):
    bundle = stix.export([])
    assert [o["type"] for o in bundle["objects"]] == ["marking-definition", "identity"]
    assert stix.validate(bundle).is_valid


def test_objects_stream_out_while_events_are_still_being_read():
    consumed = 0

    def events() -> Any:
        nonlocal consumed
        for event in campaign_events(sources=5, days=30):
            consumed += 1
            yield event

    stream = stix_objects(events())
    first_sighting = next(o for o in stream if o["type"] == "sighting")
    assert first_sighting["first_seen"].startswith("2021-03-03")
    assert consumed < 5 * 2 * 3  # day one is written once day three starts, long before day thirty


def test_events_far_out_of_order_open_a_second_part_of_their_day_with_its_own_ids(campaign, stix):
    later = [msgspec.structs.replace(e, timestamp=e.timestamp + timedelta(days=5)) for e in campaign]
    late = [e for e in campaign if e.timestamp.day == 3][:2]  # arrive after day 3 was written
    events = [*campaign, *later, *late]
    bundle = stix.export(events)
    ids = [o["id"] for o in bundle["objects"]]
    assert len(ids) == len(set(ids))
    address_sightings = [s for s in stix.of_type(bundle, "sighting") if "ipv4" in _indicator(bundle, s)]
    assert sum(s["count"] for s in address_sightings) == len(events)
    assert len(address_sightings) == 6 * 4 + len({e.source.ip for e in late})


def _indicator(bundle: dict[str, Any], sighting: dict[str, Any]) -> str:
    return str(next(o["pattern"] for o in bundle["objects"] if o["id"] == sighting["sighting_of_ref"]))


def _hostile() -> list[Any]:
    from honeyscope.share.stix.synthetic import hostile_events

    return hostile_events()


def test_path_patterns_match_the_request_they_came_from(stix):
    start = next(campaign_events(sources=1)).timestamp
    odd = ["/ecp/a+b(c)[d]{e}|f^g$h.aspx", "/owa/auth/it's \\here.js", "/ecp/ünïcode.js"]
    events = [request("198.18.0.7", start, number=i, target=p + "?x=1", detections=[_detection()])
              for i, p in enumerate(odd)]
    patterns = [o["pattern"] for o in stix.export(events)["objects"]
                if o["type"] == "indicator" and "request_value" in o["pattern"]]
    assert len(patterns) == 3
    for pattern, path in zip(patterns, odd, strict=True):
        assert run_validator(pattern, stix_version="2.1") == []
        literal = re.fullmatch(r".* MATCHES '(.*)'\]", pattern).group(1)  # type: ignore[union-attr]
        regex = re.sub(r"\\(.)", r"\1", literal)  # undo the STIX string escapes
        assert re.search(regex, path + "?x=1") and re.search(regex, path)
        assert not re.search(regex, path + "x") and not re.search(regex, "/prefix" + path)


def _detection() -> Any:
    from honeyscope.share.stix.synthetic import PROXYLOGON_SSRF

    return PROXYLOGON_SSRF
