"""MISP export: the event JSON loads back into pymisp with its attributes, objects and tags; TLP and galaxy tags;
attribution with estimative language; reproducible uuids; hostile strings kept valid."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from honeyscope.cli.main import main
from honeyscope.share.misp import MispOptions, MispStats, write_misp
from honeyscope.share.stix.synthetic import HAFNIUM_ADDRESS, hostile_events
from honeyscope.testing.store import data_dir_holding


def export(events: list[Any], clusters: list[Any] | None = None, **options: Any) -> tuple[bytes, MispStats]:
    buffer = io.BytesIO()
    stats = write_misp(events, buffer, options=MispOptions(**options), clusters=clusters or [],
                       event_key=("test",))
    return buffer.getvalue(), stats


def load(data: bytes) -> Any:
    from pymisp import MISPEvent

    event = MISPEvent()
    event.load(data.decode("utf-8"))
    return event


def test_event_loads_back_into_pymisp_with_its_attributes(misp_campaign):
    data, stats = export(misp_campaign)
    event = load(data)
    written = json.loads(data)["Event"]
    assert {(a.type, a.value) for a in event.attributes} == {(a["type"], a["value"]) for a in written["Attribute"]}
    kinds = {a.type for a in event.attributes}
    assert kinds == {"ip-src", "uri", "user-agent", "vulnerability", "sha256"}
    assert {a.value for a in event.attributes if a.type == "ip-src"} == {e.source.ip for e in misp_campaign}
    assert {a.value for a in event.attributes if a.type == "vulnerability"} == {"CVE-2021-26855", "CVE-2021-27065"}
    assert {a.value for a in event.attributes if a.type == "uri"} == {"/ecp/y.js", "/ecp/DDI/DDIService.svc/SetObject"}
    assert stats.attributes == len(event.attributes) + sum(len(o.attributes) for o in event.objects)
    request = next(o for o in event.objects if o.name == "http-request")
    relations = {a.object_relation: a.value for a in request.attributes}
    assert relations["method"] == "POST" and relations["uri"].startswith("/ecp/")
    assert event.Orgc.name == "honeyscope sensor network" and event.info.startswith("honeyscope sensor network:")


def test_attributes_say_when_and_how_often_and_which_to_use_for_detection(misp_campaign):
    event = load(export(misp_campaign)[0])
    by_value = {a.value: a for a in event.attributes}
    exploiter, prober = by_value["198.18.0.0"], by_value["198.18.0.1"]
    assert exploiter.to_ids and not prober.to_ids  # only addresses that sent exploit attempts are for blocking
    assert exploiter.first_seen.date().isoformat() == "2021-03-03" and exploiter.last_seen.day == 4
    assert exploiter.comment.startswith("6 requests to decoys, exploit attempts among them; country CN, AS4134")
    assert by_value["/ecp/y.js"].to_ids and not by_value["CVE-2021-26855"].to_ids
    tags = {t.name for t in by_value["/ecp/y.js"].tags}
    assert tags == {'misp-galaxy:mitre-attack-pattern="Exploit Public-Facing Application - T1190"'}


@pytest.mark.parametrize(("tlp", "distribution"), [("clear", 3), ("green", 1), ("amber", 0), ("amber+strict", 0),
                                                   ("red", 0)])
def test_tlp_becomes_the_tlp_tag_and_the_distribution(misp_campaign, tlp, distribution):
    event = load(export(misp_campaign[:3], tlp=tlp)[0])
    assert f"tlp:{tlp}" in {t.name for t in event.tags}
    assert int(event.distribution) == distribution


def test_hafnium_attribution_carries_galaxy_and_estimative_language_tags(misp_hafnium):
    events, clusters = misp_hafnium
    event = load(export(events, clusters)[0])
    event_tags = {t.name for t in event.tags}
    assert 'misp-galaxy:threat-actor="HAFNIUM"' in event_tags
    assert 'misp-galaxy:mitre-attack-pattern="Web Shell - T1505.003"' in event_tags
    [actor] = [a for a in event.attributes if a.type == "threat-actor"]
    assert actor.value == "HAFNIUM" and actor.category == "Attribution"
    assert f"ip {HAFNIUM_ADDRESS}" in actor.comment and "High confidence" in actor.comment
    tags = {t.name for t in actor.tags}
    assert 'estimative-language:confidence-in-analytic-judgment="high"' in tags
    assert any(t.startswith("estimative-language:likelihood-probability=") for t in tags)
    shells = [a for a in event.attributes if a.type == "sha256"]
    assert shells and all(a.to_ids and "webshell artifact" in a.comment for a in shells)


def test_the_same_events_give_the_same_event_json(misp_campaign, misp_hafnium):
    events, clusters = misp_hafnium
    first, _ = export([*misp_campaign, *events], clusters)
    second, _ = export([*misp_campaign, *events], clusters)
    assert first == second


def test_hostile_strings_stay_valid_and_cut(misp_campaign):
    data, _ = export(hostile_events())
    strings = _strings(json.loads(data.decode("utf-8")))
    assert max(len(s) for s in strings) < 2048 + 100
    assert not [s for s in strings if any((ord(c) < 0x20 and c not in "\t\n\r") or c == "\x7f" for c in s)]
    event = load(data)
    agents = {a.value for a in event.attributes if a.type == "user-agent"}
    assert "=cmd|' /C calc'!A0\\x1b[2J\\x1b[31mPWNED\\x1b[0m" in agents
    paths = {a.value: a for a in event.attributes if a.type == "uri"}
    assert not paths["/ecp/\\x00lone.js"].to_ids  # escaped: it would match no request
    assert any(p.startswith("/AAAA") and p.endswith("more characters]") and not a.to_ids for p, a in paths.items())


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def test_honeyscope_attribute_can_import_the_event(misp_campaign, tmp_path: Path):
    from honeyscope.analysis.knowledge import import_misp_event

    path = tmp_path / "event.json"
    path.write_bytes(export(misp_campaign)[0])
    imported = import_misp_event(path, "hafnium")
    values = {i.value for i in imported.content.indicators}
    assert {"198.18.0.0", "ExchangeServicesClient/0.0.0.0"} <= values


def test_cli_exports_the_store_as_a_misp_event(tmp_path: Path, misp_campaign, capsys):
    data_dir_holding(tmp_path, misp_campaign)
    output = tmp_path / "event.json"
    assert main(["export", "misp", "--data", str(tmp_path), "--tlp", "clear", "--only-detected",
                 "--output", str(output)]) == 0
    event = load(output.read_bytes())
    assert "tlp:clear" in {t.name for t in event.tags}
    assert {a.value for a in event.attributes if a.type == "ip-src"} == {"198.18.0.0", "198.18.0.3", "198.18.0.5"}
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("8 events → MISP event with ")
