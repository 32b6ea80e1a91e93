"""Activity clusters: which shared evidence joins sessions, which does not, stability and explanations."""

from __future__ import annotations

import random
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from honeyscope.analysis.clusters import LinkModel, build_clusters, minimal_sets, payload_families, tlsh_distance
from honeyscope.analysis.sessions import SessionSummary, tlsh_digest

T0 = datetime(2021, 3, 3, 12, 0, tzinfo=UTC)
JA4 = "t13d1516h2_8daaf6152771_02713d6af862"


def session(name: str, ip: str, at: datetime = T0, **fields: Any) -> SessionSummary:
    """A bare session: only what a test names is shared."""
    return SessionSummary(id=f"s-{name}", source_ip=ip, first_seen=at, last_seen=at + timedelta(minutes=5),
                          events=3, **fields)


def groups(sessions: list[SessionSummary], model: LinkModel | None = None) -> list[list[str]]:
    return sorted(sorted(c.sessions) for c in build_clusters(sessions, model))


def payload(seed: int, marker: bytes = b"") -> bytes:
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz<>/=") for _ in range(rng.randint(2, 9)))
             for _ in range(300)]
    text = b" ".join(rng.choice(words) for _ in range(300))
    return text[:700] + marker + text[700:]


def test_same_address_joins_at_any_distance_in_time():
    assert groups([session("a", "203.0.113.7"), session("b", "203.0.113.7", T0 + timedelta(days=40))]) == \
        [["s-a", "s-b"]]


def test_same_web_shell_key_joins_different_infrastructure():
    a = session("a", "203.0.113.7", shell_keys=["klk123456"])
    b = session("b", "198.51.100.3", T0 + timedelta(days=3), shell_keys=["klk123456"])
    [cluster] = build_clusters([a, b])
    assert cluster.links[0].kinds == ["shell_key"] and cluster.links[0].values == ["shell_key=klk123456"]


def test_a_generic_shell_key_does_not_join():
    assert groups([session("a", "203.0.113.7", shell_keys=["pass"]),
                   session("b", "198.51.100.3", shell_keys=["pass"])]) == [["s-a"], ["s-b"]]


def test_same_slash24_alone_does_not_join_but_with_the_same_shell_it_does():
    a = session("a", "203.0.113.7", webshells=["/owa/auth/OutlookZH.aspx"])
    b = session("b", "203.0.113.99", T0 + timedelta(hours=1), webshells=["/owa/auth/outlookzh.aspx"])
    c = session("c", "203.0.113.50", T0 + timedelta(hours=1))
    assert groups([a, b, c]) == [["s-a", "s-b"], ["s-c"]]
    [link] = next(cl for cl in build_clusters([a, b, c]) if cl.size == 2).links
    assert link.kinds == ["shell_path", "net24"] and link.weight == pytest.approx(1.1)


def test_infrastructure_links_are_bounded_in_time():
    a = session("a", "203.0.113.7", webshells=["/owa/auth/x.aspx"])
    late = session("b", "203.0.113.99", T0 + timedelta(days=2), webshells=["/owa/auth/x.aspx"])
    assert groups([a, late]) == [["s-a"], ["s-b"]]
    near = session("c", "203.0.113.98", T0 + LinkModel().window_seconds * timedelta(seconds=1) - timedelta(
        seconds=1), webshells=["/owa/auth/x.aspx"])
    assert groups([a, near]) == [["s-a", "s-c"]]


def test_same_slash24_and_same_tool_fingerprints_join():
    tool = {"ja4": [JA4], "header_orders": ["5e7d240d9653bf49"], "user_agents": ["python-requests/2.25.1"]}
    a = session("a", "203.0.113.7", **tool)
    b = session("b", "203.0.113.8", T0 + timedelta(minutes=30), **tool)
    [cluster] = build_clusters([a, b])
    assert cluster.links[0].kinds == ["net24", "ja4", "header_order", "user_agent"]


def test_tool_fingerprints_and_target_alone_never_join():
    """Everyone running the same public exploit at the same time is not one actor."""
    shared = {"ja4": [JA4], "header_orders": ["5e7d240d9653bf49"], "user_agents": ["python-requests/2.25.1"],
              "personas": ["exchange"], "cves": ["CVE-2021-26855"]}
    assert groups([session("a", "203.0.113.7", **shared), session("b", "198.51.100.3", **shared)]) == \
        [["s-a"], ["s-b"]]


def test_same_asn_alone_does_not_join_but_with_tools_and_payload_it_does():
    body = tlsh_digest(payload(1))
    assert body is not None
    a = session("a", "203.0.113.7", asn=14061)
    b = session("b", "198.51.100.3", asn=14061)
    assert groups([a, b]) == [["s-a"], ["s-b"]]
    rich = {"asn": 14061, "ja4": [JA4], "header_orders": ["h1"], "user_agents": ["curl/7.68.0"],
            "payload_tlsh": [body]}
    assert groups([session("a", "203.0.113.7", **rich), session("b", "198.51.100.3", **rich)]) == \
        [["s-a", "s-b"]]


def test_similar_payloads_join_with_the_same_tool_and_network():
    first, second = tlsh_digest(payload(5)), tlsh_digest(payload(5, b"kqzpa@mbxcv.xyz"))
    assert first and second and first != second and tlsh_distance(first, second) <= 40
    a = session("a", "203.0.113.7", payload_tlsh=[first], ja4=[JA4])
    b = session("b", "203.0.113.200", payload_tlsh=[second], ja4=[JA4])
    [cluster] = build_clusters([a, b])
    assert cluster.links[0].kinds == ["net24", "payload", "ja4"]


def test_payload_families_join_near_duplicates_and_keep_unrelated_apart():
    near = [tlsh_digest(payload(9, marker)) for marker in (b"", b"a@b.c", b"zz", b"0123")]
    other = tlsh_digest(zlib.compress(payload(11)) + payload(12))
    families = payload_families([d for d in [*near, other] if d])
    assert len({families[d] for d in near if d}) == 1
    assert other is None or families[other] != families[near[0]]


def test_clusters_are_stable_across_runs_and_input_order():
    sessions = [session(f"{i}", f"203.0.113.{i % 7}", T0 + timedelta(minutes=13 * i),
                        shell_keys=["k9x"] if i % 5 == 0 else [], ja4=[JA4], header_orders=[f"h{i % 3}"],
                        user_agents=["python-requests/2.25.1"], webshells=["/aspnet_client/s.aspx"] if i % 4 else [])
                for i in range(60)]
    expected = build_clusters(sessions)
    shuffled = sessions[:]
    random.Random(4).shuffle(shuffled)
    assert build_clusters(shuffled) == expected
    assert build_clusters(list(reversed(sessions))) == expected
    assert [c.id for c in build_clusters(sessions)] == [c.id for c in expected]


def test_each_cluster_explains_every_join():
    sessions = [session("a", "203.0.113.7"), session("b", "203.0.113.7"), session("c", "198.51.100.3",
                                                                                   shell_keys=["zz99"]),
                session("d", "192.0.2.1", shell_keys=["zz99"])]
    for cluster in build_clusters(sessions):
        assert len(cluster.links) == cluster.size - 1
        for link in cluster.links:
            assert {link.to, link.joined} <= set(cluster.sessions) and link.weight >= 1.0 and link.values


def test_cluster_aggregates_what_its_sessions_saw():
    a = session("a", "203.0.113.7", country="CN", asn=4134, cves=["CVE-2021-26855"], stages=["x.one", "x.two"])
    b = session("b", "203.0.113.7", T0 + timedelta(hours=1), country="CN", cves=["CVE-2021-27065"],
                stages=["x.two", "x.three"])
    [cluster] = build_clusters([a, b])
    assert cluster.cves == ["CVE-2021-26855", "CVE-2021-27065"]
    assert cluster.stages == ["x.one", "x.two", "x.three"]
    assert (cluster.countries, cluster.asns, cluster.events) == (["CN"], [4134], 6)
    assert cluster.last_seen == T0 + timedelta(hours=1, minutes=5)


def test_minimal_sets_reach_the_minimum_and_nothing_smaller_does():
    model = LinkModel()
    for kinds in minimal_sets(model):
        total = sum(model.weights[k] for k in kinds)
        assert total >= model.min_weight - 1e-9
        assert all(total - model.weights[k] < model.min_weight - 1e-9 for k in kinds)
    assert ("address",) in minimal_sets(model) and ("net24",) not in minimal_sets(model)
    with pytest.raises(ValueError, match="unknown link kinds"):
        LinkModel(weights={"colour": 1.0})


def test_no_sessions_no_clusters():
    assert build_clusters([]) == []
