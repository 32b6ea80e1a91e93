"""``daily_pair_counts`` on both backends (a real PostgreSQL, skipped when it cannot run here): events per
UTC day and pair of dimension values, with exact numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from honeyscope.events import Detection, Event
from honeyscope.store import DailyPairCount
from honeyscope.store.base import EventStore

MakeDetection = Callable[..., Detection]
LATE = datetime(2021, 3, 2, 23, 59, 59, tzinfo=UTC)
MIDNIGHT = datetime(2021, 3, 3, 0, 0, tzinfo=UTC)
D1, D2, D3 = date(2021, 3, 2), date(2021, 3, 3), date(2021, 3, 4)
LOGON, WRITE = "CVE-2021-26855", "CVE-2021-27065"


@pytest.fixture
def dataset(store: EventStore, build: Any, make_detection: MakeDetection) -> list[Event]:
    """Day 1 (its last second, UTC): CN with ProxyLogon; CN with ProxyLogon and the file write (two rules
    name ProxyLogon); US without a CVE. Day 2 (from midnight UTC): CN with the file write on sensor s2; an
    event without a country, with ProxyLogon; a TLS handshake from RU. Day 3: US with ProxyLogon at 01:30
    on March 5 in UTC+02:00, which is 23:30 UTC on March 4."""
    logon = make_detection("proxylogon", cves=(LOGON,))
    chain = make_detection("chain", cves=(LOGON, WRITE))
    write = make_detection("write", cves=(WRITE,))
    plus_two = timezone(timedelta(hours=2))
    events: list[Event] = [
        build.http(at=LATE, detections=[logon]),
        build.http(at=LATE, detections=[chain, logon]),
        build.http(at=LATE, country="US", asn=15169),
        build.http(at=MIDNIGHT, detections=[write], sensor="s2"),
        build.http(at=MIDNIGHT + timedelta(hours=1), country=None, detections=[logon]),
        build.tls(at=MIDNIGHT + timedelta(hours=2)),
        build.http(at=datetime(2021, 3, 5, 1, 30, tzinfo=plus_two), country="US", asn=15169, detections=[logon]),
    ]
    assert store.write(events) == len(events)
    return events


def test_an_event_counts_once_in_each_of_its_pairs(store: EventStore, dataset: list[Event]) -> None:
    assert store.daily_pair_counts("country", "cve") == [
        DailyPairCount(D1, ("CN", LOGON), 2), DailyPairCount(D1, ("CN", WRITE), 1),
        DailyPairCount(D2, ("CN", WRITE), 1), DailyPairCount(D3, ("US", LOGON), 1)]


def test_the_order_of_the_dimensions_is_the_order_of_the_key(store: EventStore, dataset: list[Event]) -> None:
    assert store.daily_pair_counts("cve", "country") == [
        DailyPairCount(D1, (LOGON, "CN"), 2), DailyPairCount(D1, (WRITE, "CN"), 1),
        DailyPairCount(D2, (WRITE, "CN"), 1), DailyPairCount(D3, (LOGON, "US"), 1)]


def test_events_without_a_value_are_in_no_pair(store: EventStore, dataset: list[Event]) -> None:
    # US's day-1 event has no CVE, the country-less event no country: neither is in a country × cve pair,
    # but both are in pairs of dimensions they have.
    assert store.daily_pair_counts("cve", "sensor") == [
        DailyPairCount(D1, (LOGON, "s1"), 2), DailyPairCount(D1, (WRITE, "s1"), 1),
        DailyPairCount(D2, (LOGON, "s1"), 1), DailyPairCount(D2, (WRITE, "s2"), 1),
        DailyPairCount(D3, (LOGON, "s1"), 1)]
    assert store.daily_pair_counts("country", "sensor", end=MIDNIGHT) == [
        DailyPairCount(D1, ("CN", "s1"), 2), DailyPairCount(D1, ("US", "s1"), 1)]


def test_pairs_add_up_to_the_daily_counts(store: EventStore, dataset: list[Event]) -> None:
    # Every event here has a type, a sensor and a persona: summed over those, pairs give the roll-up.
    for first, second in (("country", "type"), ("asn", "persona"), ("cve", "sensor"), ("type", "sensor")):
        summed: Counter[tuple[date, str]] = Counter()
        for row in store.daily_pair_counts(first, second):
            summed[(row.day, row.key[0])] += row.count
        assert summed == {(row.day, row.key): row.count for row in store.daily_counts(first)}, (first, second)


def test_days_are_utc_days_selected_as_daily_counts(store: EventStore, dataset: list[Event]) -> None:
    def days(**window: datetime) -> set[date]:
        return {row.day for row in store.daily_pair_counts("country", "cve", **window)}

    # A window starting inside day 2 includes all of day 2; one ending at midnight excludes the day it starts.
    assert days(start=MIDNIGHT + timedelta(hours=12)) == {D2, D3}
    assert days(end=MIDNIGHT) == {D1}
    assert days(end=MIDNIGHT + timedelta(seconds=1)) == {D1, D2}
    # Midnight of March 5 at UTC+02:00 is 22:00 UTC on March 4: day 3 is selected; a naive time is UTC.
    assert days(start=datetime(2021, 3, 5, tzinfo=timezone(timedelta(hours=2)))) == {D3}
    assert days(start=datetime(2021, 3, 5)) == set()
    assert days(start=datetime(2021, 3, 5, tzinfo=UTC)) == set()


def test_event_type_restricts_the_counts(store: EventStore, dataset: list[Event]) -> None:
    assert store.daily_pair_counts("country", "asn", event_type="tls.handshake") == [
        DailyPairCount(D2, ("RU", "12389"), 1)]
    http = store.daily_pair_counts("country", "asn", event_type="http.request")
    assert all(row.key[0] != "RU" for row in http)
    assert sum(row.count for row in http) == 5  # every HTTP request with a country has an ASN here
    assert store.daily_pair_counts("country", "cve", event_type="tls.handshake") == []


def test_an_empty_store_has_no_pairs(store: EventStore) -> None:
    assert store.daily_pair_counts("country", "cve") == []
    assert store.daily_pair_counts("sensor", "type", start=LATE, end=MIDNIGHT) == []


def test_a_pair_needs_two_different_dimensions(store: EventStore) -> None:
    with pytest.raises(ValueError, match="two different dimensions"):
        store.daily_pair_counts("cve", "cve")
