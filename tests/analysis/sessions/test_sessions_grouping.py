"""Session grouping: gaps, order, ids, what a summary keeps, and hostile input."""

from __future__ import annotations

import random
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from honeyscope.analysis.sessions import (
    DEFAULT_GAP,
    MAX_TEXT,
    MAX_VALUES,
    SessionBuilder,
    build_sessions,
    header_order_hash,
    tool_of,
)
from honeyscope.events.schema import Credential, Detection
from honeyscope.sensor.personas.exchange import ExchangePersona
from honeyscope.testing.record import InProcessRecorder, proxylogon_in_the_wild

T0 = datetime(2021, 3, 3, 12, 0, tzinfo=UTC)


def test_an_event_exactly_one_gap_later_stays_in_the_session(events):
    first = events.http("203.0.113.7", T0)
    same = events.http("203.0.113.7", T0 + DEFAULT_GAP)
    sessions = build_sessions([first, same])
    assert len(sessions) == 1
    assert sessions[0].events == 2
    assert sessions[0].duration == DEFAULT_GAP


def test_an_event_just_over_the_gap_starts_a_new_session(events):
    first = events.http("203.0.113.7", T0)
    later = events.http("203.0.113.7", T0 + DEFAULT_GAP + timedelta(microseconds=1))
    sessions = build_sessions([first, later])
    assert [s.events for s in sessions] == [1, 1]
    assert sessions[0].id != sessions[1].id


def test_the_gap_is_configurable(events):
    batch = [events.http("203.0.113.7", T0 + timedelta(minutes=m)) for m in (0, 4, 8, 20)]
    assert [s.events for s in build_sessions(batch, gap=timedelta(minutes=5))] == [3, 1]
    assert [s.events for s in build_sessions(batch, gap=timedelta(minutes=15))] == [4]
    with pytest.raises(ValueError, match="positive"):
        SessionBuilder(timedelta(0))


def test_a_single_event_is_a_session_of_its_own(events):
    [session] = build_sessions([events.http("198.51.100.3", T0, path="/owa/auth/logon.aspx")])
    assert (session.events, session.requests, session.first_seen, session.last_seen) == (1, 1, T0, T0)
    assert session.paths == ["/owa/auth/logon.aspx"]


def test_input_order_does_not_change_sessions_or_their_ids(events):
    batch = [events.http(ip, T0 + timedelta(minutes=7 * i)) for i in range(40)
             for ip in ("203.0.113.7", "198.51.100.3")]
    expected = build_sessions(batch)
    shuffled = batch[:]
    random.Random(7).shuffle(shuffled)
    assert build_sessions(shuffled) == expected
    assert build_sessions(list(reversed(batch))) == expected


def test_ids_are_stable_across_runs_and_change_with_the_first_event(events):
    batch = [events.http("203.0.113.7", T0), events.http("203.0.113.7", T0 + timedelta(minutes=1))]
    assert build_sessions(batch)[0].id == build_sessions(list(batch))[0].id
    assert build_sessions(batch[1:])[0].id != build_sessions(batch)[0].id


def test_addresses_are_grouped_apart_and_tls_handshakes_bring_their_ja4(events):
    batch = [events.tls("203.0.113.7", T0, ja4="t13d1516h2_aaaaaaaaaaaa_bbbbbbbbbbbb"),
             events.http("203.0.113.7", T0 + timedelta(seconds=1)),
             events.http("198.51.100.3", T0 + timedelta(seconds=2))]
    first, second = build_sessions(batch)
    assert (first.source_ip, first.events, first.requests) == ("203.0.113.7", 2, 1)
    assert "t13d1516h2_aaaaaaaaaaaa_bbbbbbbbbbbb" in first.ja4
    assert second.source_ip == "198.51.100.3"


def test_streaming_keeps_only_active_sessions_open(events):
    builder = SessionBuilder(timedelta(minutes=30))
    ended = []
    for i in range(2000):
        ended += builder.add(events.http(f"10.1.{i // 250}.{i % 250}", T0 + timedelta(minutes=i)))
        assert builder.open_sessions <= 32
    ended += builder.finish()
    assert len(ended) == 2000 and builder.open_sessions == 0


def test_summary_reads_enrichment_detections_credentials_and_tools(events):
    detection = Detection(rule_id="r-ssrf", title="ProxyLogon SSRF", cves=["CVE-2021-26855"], techniques=["T1190"],
                          stage="proxylogon.ssrf_probe")
    batch = [
        events.http("203.0.113.7", T0, country="CN", asn=4134, detections=[detection], stage="proxylogon.ssrf_probe",
                    user_agent="Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"),
        events.http("203.0.113.7", T0 + timedelta(seconds=5), path="/owa/auth.owa", method="POST",
                    credentials=[Credential(scheme="form", username="administrator", password="Winter2021!"),
                                 Credential(scheme="form", username="administrator", password="Spring2021!"),
                                 Credential(scheme="form", username="admin", password="Winter2021!")]),
    ]
    [session] = build_sessions(batch)
    assert (session.country, session.asn, session.as_org) == ("CN", 4134, "AS4134 org")
    assert session.cves == ["CVE-2021-26855"] and session.techniques == ["T1190"]
    assert session.stages == ["proxylogon.ssrf_probe"] and session.alerts == 1
    assert session.usernames == ["admin", "administrator"]
    assert (session.credential_attempts, session.passwords_tried) == (3, 2)
    assert set(session.tools) == {"Nmap", "python-requests"}


def test_passwords_never_appear_in_a_summary(events):
    batch = [events.http("203.0.113.7", T0, credentials=[Credential(scheme="basic", username="u",
                                                                     password="S3cr3t-Password-9")])]
    encoded = msgspec.json.encode(build_sessions(batch))
    assert b"S3cr3t-Password-9" not in encoded


def test_header_order_fingerprint_follows_order_and_case():
    names = ["Host", "User-Agent", "Accept"]
    assert header_order_hash(names) == header_order_hash(list(names))
    assert header_order_hash(names) != header_order_hash(["User-Agent", "Host", "Accept"])
    assert header_order_hash(names) != header_order_hash(["host", "user-agent", "accept"])


@pytest.mark.parametrize(("agent", "tool"), [
    ("python-requests/2.25.1", "python-requests"),
    ("Mozilla/5.0+(compatible;+Baiduspider/2.0;++http://www.baidu.com/search/spider.html)", "Baiduspider"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", None),
    ("ExchangeServicesClient/0.0.0.0", "ExchangeServicesClient"),
    ("", None),
    ("\x00\x01", None),
])
def test_tool_names_come_from_the_user_agent(agent, tool):
    assert tool_of(agent) == tool


def test_hostile_strings_are_kept_bounded(events):
    long_agent = "A" * 100_000
    batch = [events.http("203.0.113.7", T0 + timedelta(seconds=i), user_agent=f"evil\x00\x1b[31m\u202e{i}",
                         path=f"/x/{i}\x00\r\n", body=bytes(range(256)) * 4) for i in range(MAX_VALUES + 10)]
    batch.append(events.http("203.0.113.7", T0 + timedelta(seconds=99), user_agent=long_agent))
    [session] = build_sessions(batch)
    assert len(session.user_agents) == MAX_VALUES and len(session.paths) == MAX_VALUES
    assert all(len(value) <= MAX_TEXT for value in session.user_agents + session.paths)
    assert session.dropped_values > 0
    assert session.user_agents[0] == "evil\x00\x1b[31m\u202e0"  # kept as sent; printing escapes it


def test_binary_and_undecodable_bodies_are_summarised(events):
    body = zlib.compress(b"GIF89a" + b"lorem ipsum dolor sit amet " * 200) + bytes(range(256)) * 3
    [session] = build_sessions([events.http("203.0.113.7", T0, method="POST", body=body)])
    assert len(session.payload_sha256) == 1
    assert session.payload_tlsh and session.payload_tlsh[0].startswith("T1")


def test_short_bodies_get_a_hash_but_no_tlsh(events):
    [session] = build_sessions([events.http("203.0.113.7", T0, method="POST", body=b"a=1&b=2")])
    assert len(session.payload_sha256) == 1 and session.payload_tlsh == []


def test_web_shells_keys_and_stages_of_a_recorded_proxylogon_chain(tmp_path: Path):
    recorder = InProcessRecorder(ExchangePersona(), tmp_path / "spool", source_ip="104.140.114.110")
    proxylogon_in_the_wild(recorder, shell="OutlookZH.aspx")
    recorder.close()
    [session] = build_sessions(recorder.events)
    assert session.webshells == ["/owa/auth/OutlookZH.aspx"]
    assert session.shell_keys == ["klk123456"]
    assert session.stages[0] == "proxylogon.autodiscover"
    assert "proxylogon.oab_reset_write" in session.stages and session.stages[-1] == "webshell.command"
    assert {"ExchangeServicesClient/0.0.0.0", "python-requests/2.25.1", "antSword/v2.1"} == set(session.user_agents)
    assert session.artifacts and session.payload_tlsh


def test_shell_keys_come_from_planted_code_in_any_encoding(events):
    json_body = b'{"properties":{"ExternalUrl":"http://f/#<script>eval(Request[\\"k3y\\"],\\"unsafe\\")</script>"}}'
    form_body = b"x=%3Cscript%3Eeval(Request.Item%5B%22z9key%22%5D)%3C/script%3E"
    [session] = build_sessions([events.http("203.0.113.7", T0, method="POST", body=json_body),
                                events.http("203.0.113.7", T0, method="POST", body=form_body)])
    assert session.shell_keys == ["k3y", "z9key"]


def test_files_a_request_has_the_server_write_become_web_shells(events):
    body = (b'{"FilePathName":"\\\\\\\\127.0.0.1\\\\c$\\\\Program Files\\\\Microsoft\\\\Exchange Server\\\\V15'
            b'\\\\FrontEnd\\\\HttpProxy\\\\owa\\\\auth\\\\evil.aspx"}')
    [session] = build_sessions([events.http("203.0.113.7", T0, method="POST", body=body)])
    assert session.webshells == ["/owa/auth/evil.aspx"]


def test_probes_for_known_shells_are_not_the_sessions_own_shells(events):
    probe = Detection(rule_id="r-known", title="Known shell", stage="webshell.probe", techniques=["T1505.003"])
    [session] = build_sessions([events.http("203.0.113.7", T0, path="/aspnet_client/shell.aspx",
                                            detections=[probe])])
    assert session.webshell_probes == ["/aspnet_client/shell.aspx"] and session.webshells == []


def test_other_event_types_are_ignored(events):
    from honeyscope.events.schema import EventMeta, HsLifecycle, HsLifecycleNs, Observer, SensorLifecycleEvent

    life = SensorLifecycleEvent(timestamp=T0, event=EventMeta(id=events.next_id()), observer=Observer(name="s"),
                                honeyscope=HsLifecycleNs(sensor=HsLifecycle(action="start")))
    assert build_sessions([life]) == []
    assert SessionBuilder().add(life) == []
