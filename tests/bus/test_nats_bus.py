"""The NATS JetStream transport against a real nats-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest
from nats.js.api import StreamConfig

from honeyscope.bus.base import BusUnavailableError, Delivery, MessageTooLargeError, Outgoing
from honeyscope.bus.nats import MAX_PACK_EVENTS, NatsBus, NatsSubscriber, connect_nats, pack_messages
from honeyscope.config import BusSettings, ConfigError
from honeyscope.testing.nats import NatsServer, free_port


def run(coroutine: Coroutine[Any, Any, None], timeout: float = 60) -> None:
    asyncio.run(asyncio.wait_for(coroutine, timeout))


def settings(server: NatsServer, **changes: Any) -> BusSettings:
    return BusSettings(kind="nats", servers=[server.url], **changes)


def events(ids: range | list[int], sensor: str = "s1") -> list[Outgoing]:
    return [Outgoing(f"id-{i}", b'{"event":{"id":"id-%d"}}' % i, sensor) for i in ids]


async def drain(subscriber: NatsSubscriber, *, ack: bool = True, timeout: float = 0.5,
                rounds: int = 100) -> list[Delivery]:
    """Fetch until the stream has nothing more (bounded), acking as we go."""
    got: list[Delivery] = []
    for _ in range(rounds):
        deliveries = await subscriber.fetch(50, timeout)
        if not deliveries:
            break
        got += deliveries
        if ack:
            await subscriber.ack(deliveries)
    return got


@pytest.mark.parametrize("batches", [True, False], ids=["fast-ingest", "ack-per-event"])
def test_republished_event_ids_are_dropped_within_the_window(nats_server: NatsServer, batches: bool) -> None:
    """One message per event (``pack_bytes = 0``): JetStream drops every re-sent event id."""
    async def scenario() -> None:
        bus = await connect_nats(settings(nats_server, publish_batches=batches, pack_bytes=0), name="test")
        assert bus.batch_publishing is batches
        publisher = bus.publisher()
        await publisher.publish(events(range(100)))
        await publisher.publish(events(range(50, 150)))  # 50 already there: a shipper re-sending after a crash
        got = await drain(await bus.subscriber())
        assert sorted(d.event_id for d in got) == sorted(f"id-{i}" for i in range(150))
        assert all(d.payload == b'{"event":{"id":"%s"}}' % d.event_id.encode() for d in got)
        await bus.close()

    run(scenario())


@pytest.mark.parametrize("batches", [True, False], ids=["fast-ingest", "ack-per-event"])
def test_packed_events_arrive_one_delivery_each_and_a_resent_batch_is_dropped(nats_server: NatsServer,
                                                                               batches: bool) -> None:
    """Packs of 1 KiB (40 events of 24-25 bytes each): a batch re-sent as it was is dropped by JetStream;
    one that overlaps differently brings the overlap again (the store drops those), never fewer."""
    async def scenario() -> None:
        bus = await connect_nats(settings(nats_server, publish_batches=batches, pack_bytes=1024), name="test")
        publisher = bus.publisher()
        await publisher.publish(events(range(100)))
        await publisher.publish(events(range(100)))  # the same batch again: same packs, same message ids
        client = await nats.connect(nats_server.url)
        try:
            info = await client.jetstream().stream_info(bus.settings.stream)
            assert info.state.messages == 3  # 100 events in packs of at most 1 KiB
        finally:
            await client.close()
        await publisher.publish(events(range(50, 150)))
        got = await drain(await bus.subscriber())
        ids = [d.event_id for d in got]
        assert set(ids) == {f"id-{i}" for i in range(150)}
        assert len(ids) < 250 and ids.count("id-149") == 1 and ids.count("id-0") == 1
        assert all(d.payload == b'{"event":{"id":"%s"}}' % d.event_id.encode() for d in got)
        await bus.close()

    run(scenario())


def test_a_pack_is_acknowledged_only_with_its_last_event(nats_server: NatsServer) -> None:
    """Events of one pack handed out over two fetches: acking the first part leaves the pack pending, so
    it comes back whole after ack_wait; acking all of it removes it."""
    async def scenario() -> None:
        bus = await connect_nats(settings(nats_server, ack_wait=1.0), name="test")
        await bus.publisher().publish(events(range(10)))
        subscriber = await bus.subscriber()
        first = await subscriber.fetch(4, 1.0)
        rest = await subscriber.fetch(10, 1.0)
        assert [d.event_id for d in first + rest] == [f"id-{i}" for i in range(10)]
        await subscriber.ack(first)  # the collector stored the first four, then died
        again = await drain(subscriber, timeout=2.0)
        assert [d.event_id for d in again] == [f"id-{i}" for i in range(10)]
        assert {d.attempt for d in again} == {2}
        assert await subscriber.fetch(10, 1.5) == []  # drain acked every event of it
        await bus.close()

    run(scenario())


def test_a_nak_of_one_packed_event_redelivers_the_whole_pack(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        bus = await connect_nats(settings(nats_server), name="test")
        await bus.publisher().publish(events(range(6)))
        subscriber = await bus.subscriber()
        got = await subscriber.fetch(10, 1.0)
        await subscriber.nak(got[:1])
        await subscriber.ack(got[1:])  # must not acknowledge the redelivery the nak asked for
        again = await drain(subscriber, timeout=1.0)
        assert [d.event_id for d in again] == [f"id-{i}" for i in range(6)]
        await bus.close()

    run(scenario())


def test_events_go_on_the_sensor_subject(nats_server: NatsServer) -> None:
    """Read back from the stream by subject: a core subscriber may miss a fast-ingest batch publish (3 in
    50 runs), while the stream — what collectors consume — always has it."""
    async def scenario() -> None:
        configured = settings(nats_server)
        bus = await connect_nats(configured, name="test")
        client = await nats.connect(nats_server.url)
        try:
            await bus.publisher().publish(events([1], sensor="web.dmz 1"))
            stored = await client.jetstream().get_last_msg(configured.stream, "honeyscope.events.web_dmz_1")
            assert stored.subject == "honeyscope.events.web_dmz_1"
            assert stored.data == b'{"event":{"id":"id-1"}}'
        finally:
            await client.close()
            await bus.close()

    run(scenario())


def test_two_collectors_share_the_consumer_each_event_to_one(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        # Packs of ten events: forty messages to share (a pack goes to one collector whole).
        shipper = await connect_nats(settings(nats_server, pack_bytes=256), name="shipper")
        await shipper.publisher().publish(events(range(400)))
        first = await connect_nats(settings(nats_server), name="collector-1")
        second = await connect_nats(settings(nats_server), name="collector-2")
        received: dict[str, list[str]] = {}

        async def collect(name: str, bus: NatsBus) -> None:
            subscriber = await bus.subscriber()
            received[name] = []
            for _ in range(100):
                deliveries = await subscriber.fetch(20, 0.3)
                if not deliveries:
                    return
                received[name] += [d.event_id for d in deliveries]
                await asyncio.sleep(0.005)  # some work, so the other collector gets its turn
                await subscriber.ack(deliveries)

        await asyncio.gather(collect("one", first), collect("two", second))
        assert received["one"] and received["two"]
        assert sorted(received["one"] + received["two"]) == sorted(f"id-{i}" for i in range(400))
        for bus in (shipper, first, second):
            await bus.close()

    run(scenario())


def test_unacked_deliveries_come_back_after_ack_wait(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        bus = await connect_nats(settings(nats_server, ack_wait=1.0), name="test")
        await bus.publisher().publish(events(range(5)))
        subscriber = await bus.subscriber()
        first = await subscriber.fetch(10, 1.0)
        assert [d.attempt for d in first] == [1] * 5
        assert await subscriber.fetch(10, 0.3) == []  # held by us (a collector that died)
        again = await drain(subscriber, timeout=2.0)
        assert sorted(d.event_id for d in again) == sorted(d.event_id for d in first)
        assert {d.attempt for d in again} == {2}
        await bus.close()

    run(scenario())


def test_nak_redelivers_after_its_delay(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        bus = await connect_nats(settings(nats_server), name="test")
        await bus.publisher().publish(events(range(3)))
        subscriber = await bus.subscriber()
        first = await subscriber.fetch(10, 1.0)
        started = time.monotonic()
        await subscriber.nak(first, delay=0.5)
        again = await drain(subscriber, timeout=2.0)
        assert time.monotonic() - started >= 0.4
        assert sorted(d.event_id for d in again) == ["id-0", "id-1", "id-2"]
        assert {d.attempt for d in again} == {2}
        await bus.close()

    run(scenario())


def test_the_stream_survives_a_server_restart(nats_server: NatsServer) -> None:
    async def publish() -> None:
        bus = await connect_nats(settings(nats_server), name="test")
        await bus.publisher().publish(events(range(200)))
        await bus.close()

    async def consume() -> None:
        bus = await connect_nats(settings(nats_server), name="test")
        got = await drain(await bus.subscriber())
        assert sorted(d.event_id for d in got) == sorted(f"id-{i}" for i in range(200))
        await bus.close()

    run(publish())
    nats_server.restart()
    run(consume())


def test_a_running_bus_recovers_after_the_server_comes_back(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        bus = await connect_nats(settings(nats_server, publish_timeout=2.0), name="test")
        publisher = bus.publisher()
        await publisher.publish(events(range(10)))
        nats_server.kill()
        with pytest.raises(BusUnavailableError):
            for _ in range(50):  # the first publish may still be buffered before the loss is noticed
                await publisher.publish(events(range(10, 20)))
                await asyncio.sleep(0.05)
        await asyncio.to_thread(nats_server.start)
        for _ in range(100):  # nats-py reconnects in the background (every 2 s)
            try:
                await publisher.publish(events(range(10, 20)))
                break
            except BusUnavailableError:
                await asyncio.sleep(0.1)
        got = await drain(await bus.subscriber())
        assert sorted(d.event_id for d in got) == sorted(f"id-{i}" for i in range(20))
        await bus.close()

    run(scenario())


def test_unreachable_server_gives_one_clear_line(tmp_path: Path) -> None:
    url = f"nats://127.0.0.1:{free_port()}"

    async def scenario() -> None:
        started = time.monotonic()
        with pytest.raises(BusUnavailableError) as caught:
            await connect_nats(BusSettings(kind="nats", servers=[url]), name="test")
        assert time.monotonic() - started < 5
        assert str(caught.value) == (f"cannot reach NATS at {url}: connection refused — start nats-server or "
                                     "fix bus.servers")

    run(scenario())


def test_wrong_password_gives_one_clear_line(tmp_path: Path, nats_server: NatsServer) -> None:
    nats_server.stop()
    with NatsServer(tmp_path / "auth", user="honeyscope", password="s3cret") as server:

        async def scenario() -> None:
            with pytest.raises(BusUnavailableError) as caught:
                await connect_nats(settings(server, user="honeyscope", password="wrong"), name="test")
            message = str(caught.value)
            assert "\n" not in message
            assert message.startswith(f"NATS at {server.url} refused the credentials")
            assert "bus.user/bus.password" in message
            bus = await connect_nats(settings(server, user="honeyscope", password="s3cret"), name="test")
            await bus.publisher().publish(events(range(3)))
            assert len(await drain(await bus.subscriber())) == 3
            await bus.close()

        run(scenario())


def test_credentials_in_the_url_are_not_shown(tmp_path: Path) -> None:
    port = free_port()

    async def scenario() -> None:
        with pytest.raises(BusUnavailableError) as caught:
            await connect_nats(BusSettings(kind="nats", servers=[f"nats://u:hunter2@127.0.0.1:{port}"]), name="t")
        assert "hunter2" not in str(caught.value)
        assert f"nats://127.0.0.1:{port}" in str(caught.value)

    run(scenario())


def test_an_event_over_max_payload_is_refused_before_anything_is_sent(tmp_path: Path,
                                                                       nats_server: NatsServer) -> None:
    nats_server.stop()
    with NatsServer(tmp_path / "small", extra_config="max_payload: 4096") as server:

        async def scenario() -> None:
            bus = await connect_nats(settings(server), name="test")
            big = Outgoing("big", b"x" * 8000, "s1")
            with pytest.raises(MessageTooLargeError) as caught:
                await bus.publisher().publish([*events(range(3)), big])
            assert caught.value.event_id == "big"
            assert await drain(await bus.subscriber()) == []
            await bus.close()

        run(scenario())


def test_a_full_stream_refuses_publishes_instead_of_dropping_events(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        bus = await connect_nats(settings(nats_server, max_bytes=20_000, pack_bytes=4096), name="test")
        publisher = bus.publisher()
        payload = b"x" * 1000
        with pytest.raises(BusUnavailableError, match="full"):
            await publisher.publish([Outgoing(f"e{i}", payload, "s1") for i in range(40)])
        stored = await drain(await bus.subscriber())
        assert 0 < len(stored) < 40
        await bus.close()

    run(scenario())


def test_an_incompatible_existing_stream_is_a_config_error(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        client = await nats.connect(nats_server.url)
        await client.jetstream().add_stream(StreamConfig(name="HONEYSCOPE", subjects=["other.>"]))
        with pytest.raises(ConfigError, match="workqueue"):
            await connect_nats(settings(nats_server), name="test")
        await client.close()

    run(scenario())


def test_a_changed_ack_wait_updates_the_shared_consumer(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        first = await connect_nats(settings(nats_server, ack_wait=30.0), name="test")
        await first.subscriber()
        second = await connect_nats(settings(nats_server, ack_wait=5.0), name="test")
        await second.subscriber()
        client = await nats.connect(nats_server.url)
        info = await client.jetstream().consumer_info("HONEYSCOPE", "collectors")
        assert info.config.ack_wait == 5.0
        for closing in (client.close(), first.close(), second.close()):
            await closing

    run(scenario())


def test_the_bus_connects_on_first_use(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        bus = NatsBus(settings(nats_server), name="lazy")
        assert not bus.connected
        await bus.publisher().publish(events(range(2)))
        assert bus.connected
        assert msgspec.json.decode((await drain(await bus.subscriber()))[0].payload)["event"]["id"] == "id-0"
        await bus.close()

    run(scenario())


def test_a_deleted_stream_is_created_again_by_the_next_publish(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        bus = await connect_nats(settings(nats_server, publish_timeout=2.0), name="test")
        publisher = bus.publisher()
        await publisher.publish(events(range(3)))
        client = await nats.connect(nats_server.url)
        await client.jetstream().delete_stream("HONEYSCOPE")
        with pytest.raises(BusUnavailableError, match="created again"):
            await publisher.publish(events(range(3, 6)))
        await publisher.publish(events(range(3, 6)))
        got = await drain(await bus.subscriber())
        assert sorted(d.event_id for d in got) == ["id-3", "id-4", "id-5"]
        await client.close()
        await bus.close()

    run(scenario())


def test_a_malformed_pack_is_one_delivery_with_all_its_bytes(nats_server: NatsServer) -> None:
    """A message whose line count differs from its Honeyscope-Events header, or claims too many events, is
    not split (a collector sets it aside whole); a well-formed one beside them still is."""
    async def scenario() -> None:
        bus = await connect_nats(settings(nats_server), name="test")
        subscriber = await bus.subscriber()  # creates the consumer before anything is published
        client = await nats.connect(nats_server.url)
        try:
            js = client.jetstream()
            subject = f"{bus.settings.subject_prefix}.raw"
            await js.publish(subject, b"a\nb", headers={"Honeyscope-Events": "3", "Nats-Msg-Id": "m1"})
            await js.publish(subject, b"\n" * 9999, headers={"Honeyscope-Events": "10000", "Nats-Msg-Id": "m2"})
            await js.publish(subject, b'{"event":{"id":"x"}}\n{"event":{"id":"y"}}',
                             headers={"Honeyscope-Events": "2", "Nats-Msg-Id": "m3"})
        finally:
            await client.close()
        got = await drain(subscriber)
        assert [d.payload for d in got] == [b"a\nb", b"\n" * 9999, b'{"event":{"id":"x"}}', b'{"event":{"id":"y"}}']
        assert [d.event_id for d in got][2:] == ["x", "y"]
        await bus.close()

    run(scenario())


def test_packs_respect_the_byte_limit_the_event_cap_and_the_sensor() -> None:
    many = [Outgoing(f"e{i}", b"{}", "s1") for i in range(5000)]
    packs = pack_messages(many, 1 << 20)
    assert [pack.count for pack in packs] == [MAX_PACK_EVENTS, 5000 - MAX_PACK_EVENTS]
    mixed = [*events(range(3), "s1"), *events(range(3, 5), "s2"), *events(range(5, 6), "s1")]
    assert [(p.sensor, p.count) for p in pack_messages(mixed, 1 << 20)] == [("s1", 3), ("s2", 2), ("s1", 1)]
    sized = pack_messages(events(range(10)), 60)  # each event is 24 bytes: two per pack (24 + 1 + 24)
    assert [p.count for p in sized] == [2] * 5 and all(len(p.payload) <= 60 for p in sized)
    assert [p.count for p in pack_messages(events(range(4)), 0)] == [1, 1, 1, 1]
    assert pack_messages(events(range(4)), 1 << 20)[0].msg_id == pack_messages(events(range(4)), 1 << 20)[0].msg_id
    assert pack_messages(events(range(4)), 1 << 20)[0].msg_id != pack_messages(events(range(5)), 1 << 20)[0].msg_id
