"""Writes on both backends: idempotent by event id, exact round trips of hostile bytes, every event type,
and the flattened columns analysis reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
import pytest

from honeyscope.events import Detection, HttpRequestEvent
from honeyscope.events.schema import HsRequest
from honeyscope.store import DailyCount, EventQuery, InvalidEventError
from honeyscope.store.base import EventStore

MakeDetection = Callable[..., Detection]


def test_a_batch_written_twice_is_stored_once(store: EventStore, build: Any,
                                              make_detection: MakeDetection) -> None:
    batch = build.series(10, detections=[make_detection()])
    assert store.write(batch) == 10
    assert store.write(batch) == 0
    assert store.count() == 10
    assert store.event_ids() == {event.event.id for event in batch}
    day = batch[0].timestamp.date()
    assert store.daily_counts("type") == [DailyCount(day, "http.request", 10)]
    assert store.daily_counts("cve") == [DailyCount(day, "CVE-2021-26855", 10)]


def test_overlapping_batches_add_only_the_new_events(store: EventStore, build: Any,
                                                     make_detection: MakeDetection) -> None:
    events = build.series(10, detections=[make_detection()])
    assert store.write(events[:6]) == 6
    assert store.write(events[3:]) == 4
    assert store.write(events[::2]) == 0
    assert store.count() == 10
    day = events[0].timestamp.date()
    assert store.daily_counts("country") == [DailyCount(day, "CN", 10)]
    assert store.daily_counts("cve") == [DailyCount(day, "CVE-2021-26855", 10)]
    assert [e.event.id for e in store.events(EventQuery())] == [e.event.id for e in events]


def test_an_event_twice_in_one_batch_counts_once(store: EventStore, build: Any) -> None:
    first, second = build.http(), build.http()
    assert store.write([first, second, first]) == 2
    assert store.daily_counts("type")[0].count == 2


def test_an_empty_batch_writes_nothing(store: EventStore) -> None:
    assert store.write([]) == 0
    assert store.count() == 0


def test_every_event_type_round_trips(store: EventStore, build: Any, make_detection: MakeDetection) -> None:
    events = [build.http(detections=[make_detection()]), build.tls(), build.limit(), build.limit(ip=None),
              build.lifecycle()]
    assert store.write(events) == len(events)
    by_id = {event.event.id: event for event in store.events(EventQuery())}
    assert by_id == {event.event.id: event for event in events}
    for event in events:
        assert store.event(event.event.id) == event
    assert store.event("018e0000-0000-7000-8000-000000000000") is None
    assert store.event("not-an-id") is None


def test_hostile_bytes_and_huge_heads_round_trip_exactly(store: EventStore, build: Any) -> None:
    head = b"GET /\x00\xff HTTP/1.1\r\nX: " + bytes(range(256)) * 256 + b"\r\n\r\n"  # 64 KiB, every byte value
    event = build.http(path="/a\x00b/\xe9\xff", query="q=\x00%00", agent="Mozilla\x00/\u00ff\\u0000",
                       persona="exchange", head=head)
    body = bytes(range(256)) * 4096  # 1 MiB body, stored as the sensor would
    event = msgspec.structs.replace(
        event, honeyscope=msgspec.structs.replace(event.honeyscope, request=HsRequest(head=head, body=body)))
    assert store.write([event]) == 1
    [back] = store.events(EventQuery(persona="exchange"))
    assert back == event
    assert isinstance(back, HttpRequestEvent) and back.honeyscope.request.body == body
    columns = store.scan(["path", "query", "user_agent"]).to_pylist()
    # Flattened text cannot hold NUL (PostgreSQL); U+FFFD stands in, the doc keeps the original.
    assert columns == [{"path": "/a\ufffdb/\xe9\xff", "query": "q=\ufffd%00",
                        "user_agent": "Mozilla\ufffd/\xff\\u0000"}]


def test_an_id_that_is_not_a_uuid_fails_the_batch_and_stores_nothing(store: EventStore, build: Any) -> None:
    good = build.http()
    bad = build.http()
    bad = msgspec.structs.replace(bad, event=msgspec.structs.replace(bad.event, id="not-a-uuid"))
    with pytest.raises(InvalidEventError, match="not-a-uuid") as caught:
        store.write([good, bad])
    assert caught.value.event_ids == ["not-a-uuid"]
    assert store.count() == 0
    assert store.write([good]) == 1


@pytest.mark.parametrize("bad_id", ["x\x00y", "0190a5b2-0000-7000-8000-00000000000\x00"])
def test_an_invalid_id_is_named_as_the_event_carries_it(store: EventStore, build: Any, bad_id: str) -> None:
    """The collector sets aside the events whose ids the error names: a NUL must not be cleaned out of
    the name first, or nothing would match and the batch would fail again and again."""
    good, bad = build.http(), build.http()
    bad = msgspec.structs.replace(bad, event=msgspec.structs.replace(bad.event, id=bad_id))
    with pytest.raises(InvalidEventError) as caught:
        store.write([good, bad])
    assert caught.value.event_ids == [bad_id]
    assert store.count() == 0


def test_one_id_in_two_spellings_is_one_event(store: EventStore, build: Any,
                                              make_detection: MakeDetection) -> None:
    first = build.http(detections=[make_detection()])
    upper = msgspec.structs.replace(first, event=msgspec.structs.replace(first.event, id=first.event.id.upper()))
    braced = msgspec.structs.replace(first, event=msgspec.structs.replace(first.event, id="{" + first.event.id + "}"))
    assert store.write([first, upper, braced]) == 1
    assert store.count() == 1
    assert sum(row.count for row in store.daily_counts("cve")) == 1
    assert store.write([upper]) == 0
    assert store.count() == 1


def test_flattened_columns_hold_what_analysis_reads(store: EventStore, build: Any,
                                                    make_detection: MakeDetection) -> None:
    found = [make_detection("a", cves=("CVE-2021-27065", "CVE-2021-26855"), severity="medium", stage="x.one"),
             make_detection("b", cves=("CVE-2021-26855",), severity="critical")]
    http = build.http(query="a=1", detections=found, session="sess-1", scanner="Shodan", ja4="t13d_x",
                      route="ecp")
    later = build.http(at=http.timestamp + timedelta(seconds=1), enriched=False, route="", country=None, asn=None,
                       agent=None, status=None)
    events = [http, later, build.tls(at=http.timestamp + timedelta(seconds=2)),
              build.limit(at=http.timestamp + timedelta(seconds=3)),
              build.lifecycle(at=http.timestamp + timedelta(seconds=4))]
    store.write(events)
    names = ["type", "sensor", "persona", "source_ip", "source_port", "destination_port", "country", "asn",
             "as_org", "network", "scanner", "method", "path", "query", "status", "user_agent", "route", "stage",
             "ja4", "connection_id", "session_id", "severity", "cves"]
    rows = store.scan(["id", "ts", "day", *names]).to_pylist()
    assert [row["id"] for row in rows] == [event.event.id for event in events]
    assert rows[0]["ts"] == http.timestamp.replace(tzinfo=None) and rows[0]["day"] == http.timestamp.date()
    expected: list[dict[str, Any]] = [
        {"type": "http.request", "sensor": "s1", "persona": "exchange", "source_ip": "203.0.113.9",
         "source_port": 50000, "destination_port": 443, "country": "CN", "asn": 4134, "as_org": "AS4134 Org",
         "network": "public", "scanner": "Shodan", "method": "GET", "path": "/owa/", "query": "a=1", "status": 200,
         "user_agent": "curl/8", "route": "ecp", "stage": "x.one", "ja4": "t13d_x", "connection_id": "c1",
         "session_id": "sess-1", "severity": "critical", "cves": ["CVE-2021-26855", "CVE-2021-27065"]},
        {"type": "http.request", "sensor": "s1", "persona": "exchange", "source_ip": "203.0.113.9",
         "source_port": 50000, "destination_port": 443, "country": None, "asn": None, "as_org": None,
         "network": None, "scanner": None, "method": "GET", "path": "/owa/", "query": None, "status": None,
         "user_agent": None, "route": None, "stage": None, "ja4": None, "connection_id": "c1", "session_id": None,
         "severity": None, "cves": []},
        {"type": "tls.handshake", "sensor": "s1", "persona": "exchange", "source_ip": "198.51.100.7",
         "source_port": 40000, "destination_port": 443, "country": "RU", "asn": 12389, "as_org": "AS12389 Org",
         "network": "public", "scanner": None, "method": None, "path": None, "query": None, "status": None,
         "user_agent": None, "route": None, "stage": None, "ja4": "t13d1516h2_8daaf6152771_e5627efa2ab1",
         "connection_id": "c2", "session_id": None, "severity": None, "cves": []},
        {"type": "sensor.limit", "sensor": "s1", "persona": None, "source_ip": "192.0.2.99", "source_port": 1234,
         "destination_port": 80, "country": None, "asn": None, "as_org": None, "network": "documentation",
         "scanner": None, "method": None, "path": None, "query": None, "status": None, "user_agent": None,
         "route": None, "stage": None, "ja4": None, "connection_id": "c3", "session_id": None, "severity": None,
         "cves": []},
        {"type": "sensor.lifecycle", "sensor": "s1", "persona": None, "source_ip": None, "source_port": None,
         "destination_port": None, "country": None, "asn": None, "as_org": None, "network": None, "scanner": None,
         "method": None, "path": None, "query": None, "status": None, "user_agent": None, "route": None,
         "stage": None, "ja4": None, "connection_id": None, "session_id": None, "severity": None, "cves": []},
    ]
    assert [{name: row[name] for name in names} for row in rows] == expected
