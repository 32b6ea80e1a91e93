"""Events round-trip, ids are time-ordered, and docs/events.md lists every field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from honeyscope.events import (
    HttpRequestEvent,
    UnknownSchemaVersionError,
    decode_event,
    encode_event,
    event_id_time_ms,
    new_event_id,
)
from honeyscope.events.docs import documented_fields, render_event_reference
from honeyscope.events.ids import UuidV7
from honeyscope.events.schema import Endpoint, EventMeta, Honeyscope, HsConnection, HsRequest, Observer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def sample() -> HttpRequestEvent:
    return HttpRequestEvent(
        timestamp=datetime(2021, 3, 3, 1, 2, 3, 456789, tzinfo=UTC),
        event=EventMeta(id=new_event_id()), observer=Observer(name="s1"),
        source=Endpoint(ip="203.0.113.9", port=50000), destination=Endpoint(ip="127.0.0.1", port=443),
        honeyscope=Honeyscope(persona="exchange", connection=HsConnection(id="c"),
                              request=HsRequest(head=b"GET / HTTP/1.1\r\nX: \xff\x00\r\n\r\n")),
    )


def test_round_trip_keeps_bytes_and_microseconds() -> None:
    event = sample()
    data = encode_event(event)
    assert b'"@timestamp":"2021-03-03T01:02:03.456789Z"' in data
    assert b'"type":"http.request"' in data and b'"schema_version":1' in data
    assert decode_event(data) == event


def test_unknown_schema_version_is_refused_clearly() -> None:
    data = encode_event(sample()).replace(b'"schema_version":1', b'"schema_version":99')
    with pytest.raises(UnknownSchemaVersionError, match="schema version 99"):
        decode_event(data)


def test_ids_are_unique_and_time_ordered() -> None:
    generator = UuidV7()
    ids = [generator.new(1_700_000_000_000 + i // 100) for i in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert event_id_time_ms(ids[0]) == 1_700_000_000_000
    assert all(i[14] == "7" for i in ids[:10])


def test_ids_stay_ordered_when_the_clock_steps_back() -> None:
    generator = UuidV7()
    later = generator.new(2_000_000)
    assert generator.new(1_000_000) > later


def test_docs_list_every_event_type_and_field() -> None:
    if not DOCS.exists():
        pytest.fail("docs/events.md is missing: run `honeyscope docs`")
    text = DOCS.read_text(encoding="utf-8")
    assert text == render_event_reference(), "docs/events.md is stale: run `honeyscope docs`"
    for tag, fields in documented_fields().items():
        assert f"`{tag}`" in text
        for field in fields:
            assert f"`{field}`" in text, field


def test_every_field_of_a_full_event_is_documented() -> None:
    encoded = msgspec.json.decode(encode_event(sample()))
    documented = set(documented_fields()["http.request"]) | {"type"}

    def paths(value: object, prefix: str = "") -> list[str]:
        if isinstance(value, dict):
            return [p for k, v in value.items() for p in [prefix + k, *paths(v, prefix + k + ".")]]
        return []

    assert set(paths(encoded)) <= documented
