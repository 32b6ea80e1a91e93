"""The knowledge base: galaxy actors, our intel files, bad files, and imports from MISP and STIX."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from honeyscope.analysis.knowledge import (
    IntelError,
    builtin_intel_dir,
    import_misp_event,
    import_stix_bundle,
    load_knowledge,
    write_indicators_file,
)

GOOD = """\
type: actor
id: example-actor
name: Example Actor
sources:
  blog:
    url: https://example.com/report
    publication: Example Research, "A report", 2024-01-01
indicators:
  - {kind: ip, value: "192.0.2.10", source: blog}
  - {kind: domain, value: "c2.example[.]net", source: blog}
"""


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge()


def test_galaxy_and_curated_profiles_load(knowledge):
    # 877 galaxy actors (threat-actor v336 merged with mitre-intrusion-set v38); 6 of them are taken over by
    # our curated files, which add 11 profiles.
    assert len(knowledge.actors) == 882
    assert sum(profile.curated for profile in knowledge.actors.values()) == 11
    assert len(knowledge.files) == 12
    assert knowledge.galaxy_version == "threat-actor v336, mitre-intrusion-set v38"


def test_hafnium_profile_joins_galaxy_names_techniques_and_cited_indicators(knowledge):
    hafnium = knowledge.find("Silk Typhoon")
    assert hafnium is not None and hafnium.id == "hafnium"
    assert {"Silk Typhoon", "Operation Exchange Marauder", "G0125"} <= set(hafnium.synonyms)
    assert hafnium.country == "CN"
    assert {"T1190", "T1505.003", "T1003.001"} <= {t.value for t in hafnium.techniques}
    ips = {i.value for i in hafnium.indicators if i.kind == "ip"}
    assert {"104.140.114.110", "165.232.154.116"} & ips == {"104.140.114.110"}  # community add-on left out
    assert len(ips) == 15
    assert all(i.source.url.startswith("https://") and i.source.publication for i in hafnium.indicators)
    assert [c.value for c in hafnium.cves] == ["CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858",
                                                "CVE-2021-27065"]


def test_campaign_indicators_are_shared_and_marked(knowledge):
    tonto = knowledge.actors["tonto"]
    shared = [i for i in tonto.indicators if i.campaign == "exchange-2021-03"]
    own = [i for i in tonto.indicators if i.campaign is None]
    assert any(i.value == "/owa/auth/outlookzh.aspx" for i in shared)
    assert {i.value for i in own} >= {"77.83.159.15", "lab.symantecsafe.org", "dukybyssss.aspx"}


def test_every_curated_indicator_cites_a_source(knowledge):
    for profile in knowledge.actors.values():
        for indicator in profile.indicators:
            assert indicator.source.url and indicator.source.publication, (profile.id, indicator.value)


def test_user_intel_files_add_profiles(tmp_path):
    (tmp_path / "example.yaml").write_text(GOOD)
    kb = load_knowledge([tmp_path], galaxy=False)
    actor = kb.actors["example-actor"]
    assert [i.value for i in actor.indicators] == ["192.0.2.10", "c2.example.net"]


@pytest.mark.parametrize(("text", "expected"), [
    (GOOD.replace("kind: ip", "kind: ipv9"), ["bad.yaml:9", "indicators[0].kind", "kinds: ip, cidr"]),
    (GOOD.replace('"192.0.2.10"', '"192.0.2.300"'), ["bad.yaml:9", "indicators[0].value", "ip"]),
    (GOOD.replace("source: blog}\n  - {kind: domain", "source: blgo}\n  - {kind: domain"),
     ["bad.yaml:9", "source 'blgo' is not defined", "add it there"]),
    (GOOD.replace("type: actor", "type: villain"), ["bad.yaml", "type"]),
    (GOOD.replace("name: Example Actor\n", "name: Example Actor\ncolour: red\n"), ["bad.yaml", "colour"]),
    (GOOD + "  - {kind: ip, value: 1\n", ["bad.yaml:", "not valid YAML"]),
    (GOOD.replace("id: example-actor", "id: Example Actor"), ["bad.yaml:2", "lower-case"]),
    ("- just\n- a list\n", ["bad.yaml", "expected a mapping"]),
])
def test_bad_intel_files_fail_with_one_clear_line(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(IntelError) as caught:
        load_knowledge([path], builtin=False, galaxy=False)
    message = str(caught.value)
    assert "\n" not in message and " — " in message
    for part in expected:
        assert part in message


def test_unknown_galaxy_actor_and_duplicate_ids_are_errors(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD.replace("name: Example Actor", "name: Example Actor\ngalaxy: HAFNUIM"))
    with pytest.raises(IntelError, match=r"a.yaml:\d+: galaxy: 'HAFNUIM' is not a threat actor"):
        load_knowledge([tmp_path], builtin=False)
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(IntelError, match="also defined in"):
        load_knowledge([tmp_path], builtin=False, galaxy=False)


def test_two_profiles_cannot_extend_one_galaxy_actor(tmp_path):
    (tmp_path / "mine.yaml").write_text(GOOD.replace("name: Example Actor", "name: Example Actor\ngalaxy: HAFNIUM"))
    with pytest.raises(IntelError, match=r"'HAFNIUM' is already extended by .*hafnium\.yaml"):
        load_knowledge([tmp_path])


def test_campaign_naming_an_unknown_actor_is_an_error(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "type: campaign\nid: wave\nname: A wave\nactors: [hafnium, tik]\nsources:\n  s: {url: https://e.com, "
        "publication: P}\nindicators:\n  - {kind: ip, value: '192.0.2.1', source: s}\n")
    with pytest.raises(IntelError, match=r"c.yaml:4: 'tik' is not the id of any actor profile"):
        load_knowledge([tmp_path])


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(IntelError, match="no such intel file"):
        load_knowledge([tmp_path / "nope"])


def test_shipped_intel_files_all_validate():
    files = sorted(builtin_intel_dir().rglob("*.yaml"))
    assert len(files) == 12  # 11 actor files and one campaign
    load_knowledge(galaxy=False)


MISP_EVENT = {"Event": {
    "uuid": "5f1c7f3e-0000-4000-8000-000000000001", "info": "Test event (inert data)", "date": "2021-03-05",
    "Orgc": {"name": "Example CERT"},
    "Attribute": [
        {"type": "ip-dst", "value": "192.0.2.44"},
        {"type": "domain|ip", "value": "bad.example.org|198.51.100.44"},
        {"type": "sha256", "value": "a" * 64},
        {"type": "user-agent", "value": "EvilBot/1.0"},
        {"type": "comment", "value": "not an indicator"},
        {"type": "ip-src", "value": "not-an-address"},
    ],
    "Object": [{"name": "file", "Attribute": [{"type": "md5", "value": "b" * 32}]}],
}}

STIX_BUNDLE = {"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000002", "objects": [
    {"type": "identity", "id": "identity--1", "name": "Example"},
    {"type": "indicator", "id": "indicator--1", "pattern_type": "stix",
     "pattern": "[ipv4-addr:value = '192.0.2.55'] OR [domain-name:value = 'stix.example.com']",
     "external_references": [{"source_name": "report", "url": "https://example.com/stix-report"}]},
    {"type": "indicator", "id": "indicator--2", "pattern_type": "stix",
     "pattern": "[file:hashes.'SHA-256' = '" + "c" * 64 + "']"},
    {"type": "indicator", "id": "indicator--3", "pattern_type": "stix",
     "pattern": "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'StixBot/2']"},
    {"type": "url", "id": "url--1", "value": "http://dl.example.net/x.exe"},
    {"type": "indicator", "id": "indicator--4", "pattern_type": "sigma", "pattern": "title: x"},
]}


def test_misp_event_import_becomes_a_valid_intel_file(tmp_path):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(MISP_EVENT))
    result = import_misp_event(path, "hafnium")
    kinds = sorted((e.kind, e.value) for e in result.content.indicators)
    assert kinds == [("domain", "bad.example.org"), ("ip", "192.0.2.44"), ("ip", "198.51.100.44"),
                     ("md5", "b" * 32), ("sha256", "a" * 64), ("user_agent", "EvilBot/1.0")]
    assert result.skipped == 2
    written = write_indicators_file(result, tmp_path / "intel", "hafnium-event")
    kb = load_knowledge([written])
    added = [i for i in kb.actors["hafnium"].indicators if i.value == "192.0.2.44"]
    assert added and added[0].source.publication.startswith("MISP event 5f1c7f3e")


def test_stix_bundle_import_reads_patterns_and_observables(tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(STIX_BUNDLE))
    result = import_stix_bundle(path, "tonto")
    assert sorted((e.kind, e.value) for e in result.content.indicators) == [
        ("domain", "stix.example.com"), ("ip", "192.0.2.55"), ("sha256", "c" * 64),
        ("url", "http://dl.example.net/x.exe"), ("user_agent", "StixBot/2")]
    assert result.content.sources["imported"].url == "https://example.com/stix-report"
    assert result.skipped == 1


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ('{"type": "bundle"}', "not a STIX 2.1 bundle"),
    ('{"type": "bundle", "objects": []}', "no usable indicators"),
])
def test_bad_import_files_fail_clearly(tmp_path, content, message):
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(IntelError, match=message):
        import_stix_bundle(path, "hafnium")
    with pytest.raises(IntelError):
        import_misp_event(path, "hafnium")


def test_shipped_files_live_under_the_package():
    assert (builtin_intel_dir() / "actors" / "hafnium.yaml").is_file()
    assert isinstance(builtin_intel_dir(), Path)
