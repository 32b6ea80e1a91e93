"""Attribution: HAFNIUM-like activity is attributed with evidence; noise and geography are not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from honeyscope.analysis.attribution import AttributionModel, attribute, dni_words, stix_level
from honeyscope.analysis.clusters import build_clusters
from honeyscope.analysis.knowledge import load_knowledge
from honeyscope.analysis.sessions import SessionSummary, build_sessions
from honeyscope.detect import Detector, builtin_rule_paths, load_rules
from honeyscope.events.schema import Detection
from honeyscope.sensor.personas.exchange import ExchangePersona
from honeyscope.testing.record import InProcessRecorder, proxylogon_in_the_wild

PRE_PATCH = datetime(2021, 2, 27, 10, 0, tzinfo=UTC)
AFTER_PATCH = datetime(2021, 3, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge()


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_rules(builtin_rule_paths()))


def bare(name: str, ip: str, at: datetime, **fields: Any) -> SessionSummary:
    return SessionSummary(id=f"s-{name}", source_ip=ip, first_seen=at, last_seen=at + timedelta(minutes=2),
                          events=5, **fields)


def verdicts(sessions: list[SessionSummary], knowledge, model: AttributionModel | None = None):
    return attribute(build_clusters(sessions), knowledge, model).clusters


def test_hafnium_chain_from_published_infrastructure_is_attributed_to_hafnium(tmp_path: Path, knowledge, detector):
    recorder = InProcessRecorder(ExchangePersona(), tmp_path / "spool", source_ip="104.140.114.110",
                                 start=PRE_PATCH)
    proxylogon_in_the_wild(recorder, shell="OutlookZH.aspx")
    recorder.close()
    detector.detect_batch(recorder.events)
    [result] = attribute(build_clusters(build_sessions(recorder.events)), knowledge).clusters
    assert result.actor == "hafnium" and result.actor_name == "HAFNIUM"
    assert result.confidence is not None and result.confidence >= 70
    assert result.level == "High" and result.words == dni_words(result.confidence)
    assert result.best is not None
    kinds = {e.kind: e for e in result.best.evidence}
    assert kinds["ip"].value == "104.140.114.110" and "Volexity" in kinds["ip"].source
    assert kinds["ip"].url.startswith("https://github.com/volexity/")
    assert {"user_agent", "request_path", "webshell_path", "window", "chain"} <= set(kinds)
    assert kinds["webshell_path"].weight < kinds["ip"].weight  # a shared list weighs less than own infrastructure
    assert all(a.confidence < result.confidence for a in result.alternatives)


def test_one_published_address_alone_is_moderate_not_high(knowledge):
    [result] = verdicts([bare("a", "149.28.14.163", AFTER_PATCH)], knowledge)
    assert result.actor == "hafnium" and result.level == "Med" and result.confidence == 50


def test_chinese_scanners_without_hafnium_evidence_are_not_attributed_to_hafnium(knowledge):
    probe = Detection(rule_id="r1", title="ProxyLogon SSRF probe", cves=["CVE-2021-26855"], techniques=["T1190"],
                      stage="proxylogon.ssrf_probe")
    sessions = [bare(f"n{i}", f"61.{i // 200}.{i % 200}.9", AFTER_PATCH + timedelta(minutes=7 * i), country="CN",
                     asn=4134, as_org="Chinanet", cves=probe.cves, techniques=probe.techniques,
                     stages=["recon.exchange_version", "proxylogon.ssrf_probe"], personas=["exchange"],
                     paths=["/owa/auth/x.js", "/owa/auth/logon.aspx", "/autodiscover/autodiscover.xml"],
                     user_agents=["Mozilla/5.0 zgrab/0.x"], tools=["zgrab"], header_orders=["h1"])
                for i in range(300)]
    results = verdicts(sessions, knowledge)
    assert results and all(r.actor is None for r in results)
    assert all(r.best is None or r.best.actor != "hafnium" or r.best.confidence < 30 for r in results)


def test_geography_alone_never_attributes_whatever_the_weights(knowledge):
    greedy = AttributionModel(min_confidence=0, weights={**AttributionModel().weights, "geography": 9.0},
                              caps={"indicator": 4.0, "tool": 1.0, "context": 9.0})
    sessions = [bare("cn", "61.1.1.1", PRE_PATCH, country="CN", asn=4134)]
    [result] = verdicts(sessions, knowledge, greedy)
    assert result.actor is None and result.best is None
    assert "geography" in result.reason


def test_tool_and_ttp_overlap_without_indicators_is_a_lead_not_an_attribution(knowledge):
    stages = ["proxylogon.autodiscover", "proxylogon.sid_leak", "proxylogon.ecp_logon", "proxylogon.oab_getobject",
              "proxylogon.oab_setobject_externalurl", "proxylogon.oab_reset_write", "webshell.command"]
    session = bare("t", "198.51.100.77", PRE_PATCH, cves=["CVE-2021-26855", "CVE-2021-27065"], stages=stages,
                   user_agents=["python-requests/2.25.1", "ExchangeServicesClient/0.0.0.0"], paths=["/ecp/y.js"],
                   country="CN")
    [result] = verdicts([session], knowledge)
    assert result.actor is None
    assert result.best is not None and result.best.actor == "hafnium" and result.best.level == "Low"
    assert "no exact indicator" in result.reason
    assert {e.category for e in result.best.evidence} == {"tool", "context"}


def test_a_shared_campaign_web_shell_alone_does_not_name_an_actor(knowledge):
    [result] = verdicts([bare("w", "198.51.100.78", AFTER_PATCH, webshells=["/owa/auth/OutlookZH.aspx"])], knowledge)
    assert result.actor is None
    assert result.best is not None and result.best.confidence < 30


def test_eset_indicators_name_the_group(knowledge):
    session = bare("t", "198.51.100.79", datetime(2021, 3, 4, tzinfo=UTC), webshells=["/aspnet_client/dukybySSSS.aspx"],
                   callbacks=["lab.symantecsafe.org"])
    [result] = verdicts([session], knowledge)
    assert result.actor == "tonto" and result.level == "High"
    assert {e.kind for e in result.best.evidence} >= {"domain", "webshell_name", "window"}


def test_sweeping_a_list_of_known_shells_is_not_evidence(knowledge):
    probes = ["/aspnet_client/dukybySSSS.aspx", "/aspnet_client/caches.aspx", "/aspnet_client/client.aspx",
              "/aspnet_client/aspnet.aspx", "/owa/auth/OutlookZH.aspx"]
    [result] = verdicts([bare("sweep", "198.51.100.80", AFTER_PATCH, webshell_probes=probes)], knowledge)
    assert result.best is None and result.actor is None


def test_clusters_carry_evidence_from_every_member(knowledge):
    a = bare("a", "104.140.114.110", PRE_PATCH, shell_keys=["q1w2e3r4"])
    b = bare("b", "198.51.100.81", PRE_PATCH + timedelta(hours=5), shell_keys=["q1w2e3r4"],
             webshells=["/owa/auth/OutlookZH.aspx"])
    [result] = verdicts([a, b], knowledge)
    assert result.sessions == 2 and result.actor == "hafnium"


def test_no_sessions_is_a_clear_result(knowledge):
    report = attribute([], knowledge)
    assert report.clusters == [] and report.sessions == 0
    assert report.message is not None and report.message.startswith("no sessions")


def test_results_are_deterministic(knowledge):
    sessions = [bare(str(i), f"198.51.100.{i}", AFTER_PATCH + timedelta(hours=i),
                     callbacks=["p.estonine.com"] if i % 2 else []) for i in range(10)]
    first = msgspec.json.encode(verdicts(sessions, knowledge))
    assert msgspec.json.encode(verdicts(list(reversed(sessions)), knowledge)) == first


@pytest.mark.parametrize(("value", "level", "words"), [
    (0, "None", "Almost No Chance / Remote"), (1, "Low", "Almost No Chance / Remote"),
    (29, "Low", "Unlikely / Improbable"), (30, "Med", "Unlikely / Improbable"),
    (50, "Med", "Roughly Even Chance / Roughly Even Odds"), (69, "Med", "Likely / Probable"),
    (70, "High", "Likely / Probable"), (85, "High", "Very Likely / Highly Probable"),
    (100, "High", "Almost Certain / Nearly Certain"),
])
def test_confidence_words_follow_the_stix_appendix(value, level, words):
    assert stix_level(value) == level and dni_words(value) == words


def test_confidence_out_of_range_is_rejected():
    with pytest.raises(ValueError):
        stix_level(101)
