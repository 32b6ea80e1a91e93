"""Queries on both backends over constructed data, with exact numbers: event filters, daily counts,
top values, source summaries, bulk column scans."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from honeyscope.events import Detection, Event
from honeyscope.store import DailyCount, EventQuery, KeyCount
from honeyscope.store.base import EventStore

MakeDetection = Callable[..., Detection]
DAY1 = datetime(2021, 3, 2, 10, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


@pytest.fixture
def dataset(store: EventStore, build: Any, make_detection: MakeDetection) -> list[Event]:
    """Day 1: 3 from CN (2 ProxyLogon, one of them also CVE-2021-27065), 1 from US.
    Day 2: 2 from CN on the owa persona in session s-9, 1 TLS handshake from RU.
    Day 3: 1 lifecycle event from sensor s2."""
    logon = make_detection("proxylogon", cves=("CVE-2021-26855",))
    both = make_detection("chain", cves=("CVE-2021-26855", "CVE-2021-27065"))
    events: list[Event] = [
        build.http(at=DAY1, ip="1.1.1.1", detections=[logon]),
        build.http(at=DAY1 + timedelta(minutes=1), ip="1.1.1.1", detections=[both, logon]),
        build.http(at=DAY1 + timedelta(minutes=2), ip="1.1.1.2"),
        build.http(at=DAY1 + timedelta(minutes=3), ip="8.8.8.8", country="US", asn=15169, sensor="s2"),
        build.http(at=DAY2, ip="1.1.1.1", persona="owa", session="s-9"),
        build.http(at=DAY2 + timedelta(hours=1), ip="1.1.1.3", persona="owa", session="s-9"),
        build.tls(at=DAY2 + timedelta(hours=2)),
        build.lifecycle(at=DAY3, sensor="s2"),
    ]
    assert store.write(events) == len(events)
    return events


def ids(events: list[Event]) -> list[str]:
    return [event.event.id for event in events]


def test_events_filter_by_each_field(store: EventStore, dataset: list[Event]) -> None:
    assert ids(store.events(EventQuery())) == ids(dataset)
    assert ids(store.events(EventQuery(source_ip="1.1.1.1"))) == ids([dataset[0], dataset[1], dataset[4]])
    assert ids(store.events(EventQuery(country="US"))) == ids([dataset[3]])
    assert ids(store.events(EventQuery(persona="owa"))) == ids(dataset[4:6])
    assert ids(store.events(EventQuery(session_id="s-9"))) == ids(dataset[4:6])
    assert ids(store.events(EventQuery(cve="CVE-2021-26855"))) == ids(dataset[:2])
    assert ids(store.events(EventQuery(cve="CVE-2021-27065"))) == ids([dataset[1]])
    assert ids(store.events(EventQuery(event_type="tls.handshake"))) == ids([dataset[6]])
    assert store.events(EventQuery(country="FR")) == []


def test_events_time_window_is_start_inclusive_end_exclusive(store: EventStore, dataset: list[Event]) -> None:
    window = EventQuery(start=DAY1 + timedelta(minutes=1), end=DAY1 + timedelta(minutes=3))
    assert ids(store.events(window)) == ids(dataset[1:3])
    # Times in other zones mean the same instant.
    plus_two = timezone(timedelta(hours=2))
    shifted = EventQuery(start=(DAY1 + timedelta(minutes=1)).astimezone(plus_two))
    assert ids(store.events(shifted))[0] == dataset[1].event.id
    naive_utc = EventQuery(start=(DAY1 + timedelta(minutes=2)).replace(tzinfo=None))
    assert ids(store.events(naive_utc))[0] == dataset[2].event.id


def test_events_limit_and_newest_first(store: EventStore, dataset: list[Event]) -> None:
    assert ids(store.events(EventQuery(limit=2))) == ids(dataset[:2])
    assert ids(store.events(EventQuery(limit=3, descending=True))) == ids(dataset[::-1][:3])


def test_daily_counts_per_dimension(store: EventStore, dataset: list[Event]) -> None:
    d1, d2, d3 = DAY1.date(), DAY2.date(), DAY3.date()
    assert store.daily_counts("country") == [DailyCount(d1, "CN", 3), DailyCount(d1, "US", 1),
                                             DailyCount(d2, "CN", 2), DailyCount(d2, "RU", 1)]
    assert store.daily_counts("asn") == [DailyCount(d1, "15169", 1), DailyCount(d1, "4134", 3),
                                         DailyCount(d2, "12389", 1), DailyCount(d2, "4134", 2)]
    assert store.daily_counts("persona") == [DailyCount(d1, "exchange", 4), DailyCount(d2, "exchange", 1),
                                             DailyCount(d2, "owa", 2)]
    # An event counts once per CVE detected, however many rules named it.
    assert store.daily_counts("cve") == [DailyCount(d1, "CVE-2021-26855", 2), DailyCount(d1, "CVE-2021-27065", 1)]
    assert store.daily_counts("sensor") == [DailyCount(d1, "s1", 3), DailyCount(d1, "s2", 1),
                                            DailyCount(d2, "s1", 3), DailyCount(d3, "s2", 1)]
    assert store.daily_counts("type") == [DailyCount(d1, "http.request", 4), DailyCount(d2, "http.request", 2),
                                          DailyCount(d2, "tls.handshake", 1), DailyCount(d3, "sensor.lifecycle", 1)]
    assert store.daily_counts("country", event_type="tls.handshake") == [DailyCount(d2, "RU", 1)]


def test_daily_counts_take_whole_days_touching_the_window(store: EventStore, dataset: list[Event]) -> None:
    midnight2 = datetime.combine(DAY2.date(), datetime.min.time(), UTC)
    assert {c.day for c in store.daily_counts("type", start=midnight2)} == {DAY2.date(), DAY3.date()}
    assert {c.day for c in store.daily_counts("type", end=midnight2)} == {DAY1.date()}
    # A window ending inside a day includes that day; one starting inside a day includes it too.
    assert {c.day for c in store.daily_counts("type", start=DAY2, end=DAY2 + timedelta(minutes=1))} == {DAY2.date()}
    assert store.daily_counts("type", start=DAY3 + timedelta(days=5)) == []


def test_top_values_over_a_period(store: EventStore, dataset: list[Event]) -> None:
    assert store.top("country") == [KeyCount("CN", 5), KeyCount("RU", 1), KeyCount("US", 1)]
    assert store.top("country", limit=1) == [KeyCount("CN", 5)]
    assert store.top("cve", end=DAY2) == [KeyCount("CVE-2021-26855", 2), KeyCount("CVE-2021-27065", 1)]
    assert store.top("persona", start=DAY2, event_type="http.request") == [KeyCount("owa", 2)]


def test_count_matches_what_was_written(store: EventStore, dataset: list[Event]) -> None:
    assert store.count() == len(dataset)
    assert store.event_ids() == set(ids(dataset))
    assert store.size_bytes() > 0


def test_sources_summarise_each_address(store: EventStore, dataset: list[Event]) -> None:
    top = store.sources(limit=2)
    assert [(s.source_ip, s.events) for s in top] == [("1.1.1.1", 3), ("1.1.1.2", 1)]
    first = top[0]
    assert first.first_seen == DAY1.replace(tzinfo=None) and first.last_seen == DAY2.replace(tzinfo=None)
    assert (first.country, first.asn, first.as_org) == ("CN", 4134, "AS4134 Org")
    assert first.sensors == ["s1"] and first.cves == ["CVE-2021-26855", "CVE-2021-27065"]
    assert [s.source_ip for s in store.sources(start=DAY2)] == ["1.1.1.1", "1.1.1.3", "198.51.100.7"]


def test_scan_returns_columns_in_time_order(store: EventStore, dataset: list[Event]) -> None:
    table = store.scan(["id", "source_ip", "cves", "day"], start=DAY1, end=DAY2, event_type="http.request")
    assert table.column_names == ["id", "source_ip", "cves", "day"]
    assert table.column("id").to_pylist() == ids(dataset[:4])
    assert table.column("cves").to_pylist()[:2] == [["CVE-2021-26855"], ["CVE-2021-26855", "CVE-2021-27065"]]
    assert set(table.column("day").to_pylist()) == {date(2021, 3, 2)}
    with pytest.raises(ValueError, match="unknown events column"):
        store.scan(["id", "password"])
