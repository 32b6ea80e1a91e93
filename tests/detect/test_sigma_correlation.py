"""Correlation rules: windows follow event time, groups are separate, state is bounded."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

from honeyscope.detect import Detector, RuleSet, load_rules
from honeyscope.detect.samples import SampleRequest, replay

WriteRule = Callable[..., Path]

BASE = """
title: Login attempt
name: login_attempt
logsource:
    category: webserver
detection:
    sel:
        cs-uri-stem: '/login'
    condition: sel
---
title: Second step
name: second_step
logsource:
    category: webserver
detection:
    sel:
        cs-uri-stem: '/step2'
    condition: sel
---
"""


def correlation(write_rule: WriteRule, body: str) -> RuleSet:
    text = BASE + "title: Correlated\nid: 7f1e2d3c-4b5a-4968-8776-655443322110\nlevel: high\n" + \
        textwrap.dedent(body)
    rules = load_rules([write_rule(text)])
    assert rules.errors == [] and rules.warnings == [], rules.errors + rules.warnings
    return rules


def post(user: str, at: float, source: str = "203.0.113.7", path: str = "/login") -> SampleRequest:
    return SampleRequest("POST", path, (), b"x", source, at)


def fired(rules: RuleSet, requests: list[SampleRequest], max_groups: int = 50_000) -> list[bool]:
    events = replay(requests)
    detector = Detector(rules, max_groups=max_groups)
    detector.detect_batch(events)
    return [any(d.title == "Correlated" for d in e.honeyscope.detections) for e in events]


def test_event_count_within_a_window_of_event_time(write_rule: WriteRule) -> None:
    rules = correlation(write_rule, """
        correlation:
            type: event_count
            rules: [login_attempt]
            group-by: [c-ip]
            timespan: 1m
            condition: {gte: 3}
        """)
    assert fired(rules, [post("a", 0), post("a", 10), post("a", 20), post("a", 25)]) == [False, False, True, True]
    # 3 events but spread over more than a minute of event time (whatever the wall clock did).
    assert fired(rules, [post("a", 0), post("a", 40), post("a", 80)]) == [False, False, False]
    # Different sources are different groups.
    assert fired(rules, [post("a", 0, "198.51.100.1"), post("a", 1, "198.51.100.2"), post("a", 2)]) == \
        [False, False, False]
    # The base rule only feeds the correlation (generate: false): no detection of its own.
    events = replay([post("a", 0)])
    Detector(rules).detect_batch(events)
    assert events[0].honeyscope.detections == []


def test_value_count_counts_distinct_values(write_rule: WriteRule) -> None:
    rules = correlation(write_rule, """
        correlation:
            type: value_count
            rules: [login_attempt]
            group-by: [c-ip]
            timespan: 10m
            condition: {gte: 3, field: cs-uri-query}
        """)
    same = [post("", at) for at in range(5)]
    assert fired(rules, same) == [False] * 5
    distinct = [SampleRequest("POST", f"/login?u={n}", (), b"x", "203.0.113.7", n) for n in range(4)]
    assert fired(rules, distinct) == [False, False, True, True]


def test_temporal_ordered(write_rule: WriteRule) -> None:
    rules = correlation(write_rule, """
        correlation:
            type: temporal_ordered
            rules: [login_attempt, second_step]
            group-by: [c-ip]
            timespan: 30s
        """)
    assert fired(rules, [post("", 0), post("", 5, path="/step2")]) == [False, True]
    assert fired(rules, [post("", 0, path="/step2"), post("", 5)]) == [False, False]
    assert fired(rules, [post("", 0), post("", 50, path="/step2")]) == [False, False]
    unordered = correlation(write_rule, """
        correlation:
            type: temporal
            rules: [login_attempt, second_step]
            group-by: [c-ip]
            timespan: 30s
        """)
    assert fired(unordered, [post("", 0, path="/step2"), post("", 5)]) == [False, True]


def test_state_is_bounded(write_rule: WriteRule) -> None:
    rules = correlation(write_rule, """
        correlation:
            type: event_count
            rules: [login_attempt]
            group-by: [c-ip]
            timespan: 1h
            condition: {gte: 2}
        """)
    requests = [post("", n, f"10.0.{n // 250}.{n % 250}") for n in range(300)]
    events = replay(requests)
    detector = Detector(rules, max_groups=100)
    detector.detect_batch(events)
    [state] = detector.correlation_states
    assert len(state) == 100
    # The oldest group was evicted: its second event starts a new count.
    again = replay([post("", 400, "10.0.0.0")])
    detector.detect_batch(again)
    assert again[0].honeyscope.detections == []
