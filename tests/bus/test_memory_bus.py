"""The in-process bus: publish returns only after the collector's ack; naks redeliver; bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from honeyscope.bus.base import BusUnavailableError, Outgoing
from honeyscope.bus.memory import MemoryBus


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 20))


def events(count: int, prefix: str = "e") -> list[Outgoing]:
    return [Outgoing(f"{prefix}{i}", b'{"n":%d}' % i, "s1") for i in range(count)]


async def settle() -> None:
    """Let every ready task run (bounded)."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_publish_returns_only_after_every_message_was_acked() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        subscriber = bus.subscriber()
        publish = asyncio.create_task(bus.publisher().publish(events(3)))
        first = await subscriber.fetch(2, 1.0)
        await subscriber.ack(first)
        await settle()
        assert not publish.done()  # one message is still unacknowledged
        rest = await subscriber.fetch(10, 1.0)
        assert [d.event_id for d in first + rest] == ["e0", "e1", "e2"]
        await subscriber.ack(rest)
        await asyncio.wait_for(publish, 1.0)
        assert bus.unacknowledged == 0

    run(scenario())


def test_nak_redelivers_to_the_next_fetch_with_the_attempt_counted() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        subscriber = bus.subscriber()
        publish = asyncio.create_task(bus.publisher().publish(events(2)))
        first = await subscriber.fetch(10, 1.0)
        assert [d.attempt for d in first] == [1, 1]
        await subscriber.nak(first)
        again = await subscriber.fetch(10, 1.0)
        assert [(d.event_id, d.attempt) for d in again] == [("e0", 2), ("e1", 2)]
        await subscriber.ack(again)
        await asyncio.wait_for(publish, 1.0)

    run(scenario())


def test_nak_with_delay_holds_the_messages_back_until_the_delay_passed() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        subscriber = bus.subscriber()
        publish = asyncio.create_task(bus.publisher().publish(events(1)))
        await subscriber.nak(await subscriber.fetch(1, 1.0), delay=0.3)
        assert await subscriber.fetch(1, 0.05) == []
        later = await subscriber.fetch(1, 2.0)
        assert [(d.event_id, d.attempt) for d in later] == [("e0", 2)]
        await subscriber.ack(later)
        await asyncio.wait_for(publish, 1.0)

    run(scenario())


def test_two_subscribers_share_the_work_each_message_to_one() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        publish = asyncio.create_task(bus.publisher().publish(events(100)))
        seen: dict[str, list[str]] = {"a": [], "b": []}

        async def collector(name: str) -> None:
            subscriber = bus.subscriber()
            for _ in range(100):
                deliveries = await subscriber.fetch(7, 0.05)
                if not deliveries:
                    return
                seen[name] += [d.event_id for d in deliveries]
                await asyncio.sleep(0)  # the other collector's turn
                await subscriber.ack(deliveries)

        await asyncio.gather(collector("a"), collector("b"))
        await asyncio.wait_for(publish, 1.0)
        assert seen["a"] and seen["b"]
        assert sorted(seen["a"] + seen["b"]) == sorted(f"e{i}" for i in range(100))

    run(scenario())


def test_publishers_wait_when_capacity_is_reached() -> None:
    async def scenario() -> None:
        bus = MemoryBus(capacity=5)
        subscriber = bus.subscriber()
        publish = asyncio.create_task(bus.publisher().publish(events(12)))
        await settle()
        assert bus.unacknowledged == 5  # the other 7 wait for room
        received: list[str] = []
        for _ in range(10):
            deliveries = await subscriber.fetch(3, 0.2)
            assert bus.unacknowledged <= 5
            received += [d.event_id for d in deliveries]
            await subscriber.ack(deliveries)
            if publish.done():
                break
        await asyncio.wait_for(publish, 1.0)
        assert received == [f"e{i}" for i in range(12)]

    run(scenario())


def test_close_fails_pending_and_later_publishes_and_fetches() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        publisher, subscriber = bus.publisher(), bus.subscriber()
        pending = asyncio.create_task(publisher.publish(events(2)))
        await settle()
        await bus.close()
        with pytest.raises(BusUnavailableError, match="closed"):
            await pending
        with pytest.raises(BusUnavailableError):
            await publisher.publish(events(1))
        with pytest.raises(BusUnavailableError):
            await subscriber.fetch(1, 0.1)

    run(scenario())


def test_a_closing_subscriber_hands_its_unacked_messages_to_the_others() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        publish = asyncio.create_task(bus.publisher().publish(events(3)))
        leaving, staying = bus.subscriber(), bus.subscriber()
        assert len(await leaving.fetch(3, 1.0)) == 3
        await leaving.close()
        handed = await staying.fetch(3, 1.0)
        assert [(d.event_id, d.attempt) for d in handed] == [("e0", 2), ("e1", 2), ("e2", 2)]
        await staying.ack(handed)
        await asyncio.wait_for(publish, 1.0)

    run(scenario())


def test_an_answer_after_the_first_one_is_ignored() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        subscriber = bus.subscriber()
        publish = asyncio.create_task(bus.publisher().publish(events(1)))
        deliveries = await subscriber.fetch(1, 1.0)
        await subscriber.ack(deliveries)
        await subscriber.ack(deliveries)
        await subscriber.nak(deliveries)
        await asyncio.wait_for(publish, 1.0)
        assert bus.unacknowledged == 0
        assert await subscriber.fetch(1, 0.05) == []

    run(scenario())


def test_fetch_waits_at_most_its_timeout_when_idle() -> None:
    async def scenario() -> None:
        subscriber = MemoryBus().subscriber()
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await subscriber.fetch(10, 0.1) == []
        assert 0.05 <= loop.time() - started < 1.0

    run(scenario())
