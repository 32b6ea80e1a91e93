"""``honeyscope collect``: a collector on its own — NATS JetStream in, PostgreSQL or DuckDB out."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.collector.node import Node, NodeLayout
from honeyscope.collector.wiring import build_stages, open_store_for, open_transport
from honeyscope.config import ConfigError, Settings, load_settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "collect",
        help="consume events from NATS JetStream, enrich and detect, and write them to the store",
        description="Run one collector of a multi-host deployment: it shares the JetStream consumer with "
                    "the other collectors (a work queue), and acknowledges each batch only after the store "
                    "committed it.",
        epilog="Example: honeyscope collect --config /etc/honeyscope/collector.toml --data /var/lib/honeyscope",
    )
    parser.add_argument("--config", type=Path, help="TOML settings file ([bus], [store], [enrich], [collector])")
    parser.add_argument("--data", type=Path, default=Path("./honeyscope-collector"),
                        help="directory for status and rejected events (default ./honeyscope-collector)")
    parser.add_argument("--nats", action="append", default=[], metavar="URL",
                        help="NATS server URL (repeatable); implies bus kind nats")
    parser.add_argument("--postgres", metavar="DSN", help="PostgreSQL DSN; implies store kind postgres")
    parser.add_argument("--metrics", metavar="HOST:PORT", help="Prometheus endpoint ('' disables)")
    parser.add_argument("--name", default="collector", help="client name shown by NATS (default collector)")
    parser.add_argument("--ready-file", type=Path, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def collect_settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    bus, store, collector = settings.bus, settings.store, settings.collector
    if args.nats:
        bus = msgspec.structs.replace(bus, kind="nats", servers=list(args.nats))
    if args.postgres:
        store = msgspec.structs.replace(store, kind="postgres", dsn=args.postgres)
    if args.metrics is not None:
        collector = msgspec.structs.replace(collector, metrics_address=args.metrics)
    if bus.kind != "nats":
        raise ConfigError("collect needs the NATS bus — pass --nats nats://HOST:4222 or set [bus] kind = "
                          "\"nats\" (on one machine use 'honeyscope up')")
    return msgspec.structs.replace(settings, bus=bus, store=store, collector=collector)


def run(args: argparse.Namespace) -> int:
    settings = collect_settings(args)
    layout = NodeLayout(args.data.resolve())
    layout.create()
    store = open_store_for(settings.store)
    try:
        asyncio.run(_collect(args, settings, layout, store))
    finally:
        store.close()
    return 0


async def _collect(args: argparse.Namespace, settings: Settings, layout: NodeLayout, store: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    transport = await open_transport(settings, client_name=args.name)
    node = Node(settings, layout, store, publisher=None, subscriber=transport.subscriber,
                stages=build_stages(settings, artifact_root=None), sensor=None, sensor_name="", mode="collect")
    ready = asyncio.Event()
    runner = asyncio.create_task(node.run(stop, ready))
    await asyncio.wait({runner, asyncio.create_task(ready.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if ready.is_set() and args.ready_file is not None:
        args.ready_file.write_text(str(node.metrics_url), encoding="utf-8")
    try:
        await runner
    finally:
        await transport.close()
