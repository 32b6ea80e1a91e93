"""The collector over the in-process bus into a real DuckDB store: stored once, enriched, nothing lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from honeyscope.bus.base import Outgoing
from honeyscope.bus.memory import MemoryBus
from honeyscope.collector.pipeline import Collector, DeadLetters
from honeyscope.collector.replay import event_id_of, iter_payloads, replay, replay_files
from honeyscope.config import CollectorSettings, EnrichSettings, StoreSettings
from honeyscope.enrich import Enricher
from honeyscope.events import Event, HttpRequestEvent, encode_event
from honeyscope.sensor.personas.registry import load_persona
from honeyscope.sensor.spool import read_spool
from honeyscope.store import open_store
from honeyscope.store.base import EventQuery, EventStore
from honeyscope.testing.record import InProcessRecorder

SETTINGS = CollectorSettings(batch_events=50, batch_seconds=0.05, metrics_address="")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    opened = open_store(StoreSettings(path=str(tmp_path / "events.duckdb")))
    opened.migrate()
    yield opened
    opened.close()


def record_traffic(spool: Path, sources: dict[str, int]) -> list[HttpRequestEvent]:
    """Requests from each source address through the real Exchange persona, spooled as the sensor does."""
    persona = load_persona("exchange", {})
    events: list[HttpRequestEvent] = []
    for source, count in sources.items():
        recorder = InProcessRecorder(persona, spool, source_ip=source)
        for index in range(count):
            recorder.send("GET", f"/owa/auth/logon.aspx?n={index}", [("User-Agent", "Mozilla/5.0")])
        events += recorder.events
        recorder.close()
    return events


def spooled(spool: Path) -> list[Outgoing]:
    return [Outgoing(event_id_of(record.payload), record.payload) for record in read_spool(spool)]


async def run_collector(store: EventStore, messages: list[Outgoing], *, stages=(),
                        dead_letters: DeadLetters | None = None) -> Collector:
    bus = MemoryBus()
    collector = Collector(bus.subscriber(), store, settings=SETTINGS, stages=stages, dead_letters=dead_letters)
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(stop))
    await asyncio.wait_for(bus.publisher().publish(messages), timeout=60)
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    await bus.close()
    return collector


def test_every_event_stored_once_and_enriched(tmp_path: Path, store: EventStore) -> None:
    events = record_traffic(tmp_path / "spool", {"8.8.8.8": 120, "10.1.2.3": 30})
    enricher = Enricher.from_settings(EnrichSettings())
    messages = spooled(tmp_path / "spool")

    collector = asyncio.run(run_collector(store, messages, stages=[("enrich", enricher.enrich_batch)]))

    assert store.event_ids() == {event.event.id for event in events}
    assert collector.stats.stored == 150 and collector.stats.duplicates == 0
    by_country = {row.key: row.count for row in store.daily_counts("country")}
    assert by_country.get("US") == 120  # geoip2fast's bundled data places 8.8.8.8 in the US
    stored = store.events(EventQuery(source_ip="10.1.2.3", limit=10_000))
    private = [event for event in stored if isinstance(event, HttpRequestEvent)]
    assert len(private) == 30
    assert all(e.source.geo is None and e.honeyscope.enrichment is not None
               and e.honeyscope.enrichment.network == "private" for e in private)


def test_redelivered_and_replayed_events_are_stored_once(tmp_path: Path, store: EventStore) -> None:
    record_traffic(tmp_path / "spool", {"198.51.100.1": 80})
    messages = spooled(tmp_path / "spool")

    first = asyncio.run(run_collector(store, messages[:60]))
    again = asyncio.run(run_collector(store, messages))  # 60 seen before, 20 new

    assert first.stats.stored == 60
    assert again.stats.stored == 20 and again.stats.duplicates == 60
    assert store.count() == 80


def test_undecodable_and_future_events_go_to_dead_letters(tmp_path: Path, store: EventStore) -> None:
    events = record_traffic(tmp_path / "spool", {"198.51.100.2": 10})
    future = msgspec.json.decode(encode_event(events[0]))
    future["schema_version"] = 99
    future["event"]["id"] = "0190b6a2-0000-7000-8000-000000000099"
    odd = msgspec.json.decode(encode_event(events[1]))
    odd["event"]["id"] = "not-a-uuid"
    bad = [Outgoing("garbage", b"{not json"), Outgoing(future["event"]["id"], msgspec.json.encode(future)),
           Outgoing("not-a-uuid", msgspec.json.encode(odd))]
    dead = DeadLetters(tmp_path / "rejected.jsonl")

    collector = asyncio.run(run_collector(store, [*spooled(tmp_path / "spool"), *bad], dead_letters=dead))

    assert collector.stats.stored == 10 and collector.stats.rejected == 3
    lines = (tmp_path / "rejected.jsonl").read_bytes().splitlines()
    reasons = [msgspec.json.decode(line)["reason"] for line in lines]
    assert any("schema version 99" in reason and "upgrade honeyscope" in reason for reason in reasons)
    assert any("not a honeyscope event" in reason for reason in reasons)
    assert any("the store refuses it" in reason for reason in reasons)


def test_a_failing_stage_never_loses_events(tmp_path: Path, store: EventStore) -> None:
    record_traffic(tmp_path / "spool", {"198.51.100.3": 40})

    def broken(events: list[Event]) -> None:
        raise RuntimeError("rule engine bug")

    collector = asyncio.run(run_collector(store, spooled(tmp_path / "spool"), stages=[("detect", broken)]))

    assert store.count() == 40
    assert collector.stats.stage_errors["detect"] >= 1


def test_replay_reads_spool_dirs_json_lines_and_skips_damaged_lines(tmp_path: Path, store: EventStore) -> None:
    events = record_traffic(tmp_path / "spool", {"198.51.100.4": 25})
    plain = tmp_path / "events.jsonl"
    plain.write_bytes(b"".join(encode_event(event) + b"\n" for event in events[:5]) + b"\x00garbage\n")

    result = asyncio.run(replay([*replay_files([tmp_path / "spool"]), plain], store, settings=SETTINGS,
                                stages=(), dead_letters=DeadLetters(None)))

    assert result.read == 30 and result.unreadable == 1
    assert result.collector.stored == 25 and result.collector.duplicates == 5
    assert [payload is None for payload, _ in iter_payloads(plain)] == [False] * 5 + [True]


def test_store_outage_holds_acknowledgements_until_it_returns(tmp_path: Path) -> None:
    from honeyscope.testing.postgres import PostgresServer, PostgresUnavailableError

    try:
        server = PostgresServer()
    except PostgresUnavailableError as error:
        pytest.skip(str(error))
    record_traffic(tmp_path / "spool", {"198.51.100.5": 60})
    messages = spooled(tmp_path / "spool")

    async def scenario(store: EventStore) -> Collector:
        bus = MemoryBus()
        collector = Collector(bus.subscriber(), store, settings=SETTINGS)
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        await asyncio.wait_for(bus.publisher().publish(messages[:20]), timeout=60)
        server.stop()
        held = asyncio.create_task(bus.publisher().publish(messages[20:]))
        for _ in range(100):  # bounded: until the collector has failed to write at least twice
            await asyncio.sleep(0.1)
            if collector.stats.store_errors >= 2:
                break
        assert not held.done() and bus.unacknowledged == 40  # nothing acknowledged while the store is down
        await asyncio.to_thread(server.start)
        await asyncio.wait_for(held, timeout=60)
        stop.set()
        await asyncio.wait_for(task, timeout=30)
        return collector

    with server:
        store = open_store(StoreSettings(kind="postgres", dsn=server.create_database("outage")))
        store.migrate()
        collector = asyncio.run(scenario(store))
        assert store.count() == 60 and store.event_ids() == {message.event_id for message in messages}
        assert collector.stats.store_errors >= 2
        store.close()
