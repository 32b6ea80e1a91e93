"""``honeyscope up``: the whole single-node pipeline — decoy, spool, shipper, bus, collector, store."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.collector.node import Node, NodeLayout
from honeyscope.collector.supervisor import SensorProcess
from honeyscope.collector.wiring import build_stages, open_store_for, open_transport
from honeyscope.config import Settings, default_sensor_name, load_settings

log = logging.getLogger("honeyscope.up")

DEFAULT_DATA = Path("./honeyscope-data")
DEFAULT_HTTP = "127.0.0.1:8080"
DEFAULT_HTTPS = "127.0.0.1:8443"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "up",
        help="run the whole single-node stack: decoy sensor, collector and embedded store",
        description="Start an Exchange decoy on localhost, ship everything it records through enrichment and "
                    "detection into a DuckDB store under the data directory, and report status and metrics. "
                    "Stop with Ctrl-C: everything spooled is stored before it exits (or at the next start).",
        epilog=f"Example: honeyscope up --data ./honeyscope-data   (decoy on http://{DEFAULT_HTTP} and "
               f"https://{DEFAULT_HTTPS}; then: honeyscope status --data ./honeyscope-data)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"data directory: spool, state, store, logs, status (default {DEFAULT_DATA})")
    parser.add_argument("--config", type=Path, help="TOML settings file (flags below override it)")
    parser.add_argument("--http", action="append", default=[], metavar="HOST:PORT",
                        help=f"decoy HTTP listener (repeatable; default {DEFAULT_HTTP} unless the config "
                             "file lists listeners)")
    parser.add_argument("--https", action="append", default=[], metavar="HOST:PORT",
                        help=f"decoy HTTPS listener (repeatable; default {DEFAULT_HTTPS})")
    parser.add_argument("--name", help="sensor name written into every event (default: host name)")
    parser.add_argument("--metrics", metavar="HOST:PORT",
                        help="Prometheus endpoint (default 127.0.0.1:9108; '' disables)")
    parser.add_argument("--web", metavar="HOST:PORT",
                        help="dashboard address (default 127.0.0.1:8000; a non-loopback address needs a token, "
                             "see docs/web.md; '' disables)")
    parser.add_argument("--no-sensor", action="store_true",
                        help="run only shipper, collector and store (e.g. the sensor runs under systemd)")
    parser.add_argument("--ready-file", type=Path, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def node_settings(args: argparse.Namespace, layout: NodeLayout) -> Settings:
    """The configuration with the data directory's paths and the flags applied."""
    settings = load_settings(args.config)
    store = settings.store.in_data_dir(layout.data_dir)
    web = settings.web
    if args.web:
        web = msgspec.structs.replace(web, bind=args.web)
    collector = settings.collector
    if args.metrics is not None:
        collector = msgspec.structs.replace(collector, metrics_address=args.metrics)
    sensor = msgspec.structs.replace(settings.sensor, state_dir=str(layout.state),
                                     spool=msgspec.structs.replace(settings.sensor.spool,
                                                                   directory=str(layout.spool)),
                                     name=args.name or settings.sensor.name or default_sensor_name())
    return msgspec.structs.replace(settings, store=store, collector=collector, sensor=sensor, web=web)


def sensor_arguments(args: argparse.Namespace, settings: Settings) -> list[str]:
    """Flags for the sensor child: the same config file, the data directory's paths, the listeners."""
    arguments = ["--spool", settings.sensor.spool.directory, "--state", settings.sensor.state_dir,
                 "--name", settings.sensor.name]
    if args.config is not None:
        arguments += ["--config", str(args.config)]
    http, https = list(args.http), list(args.https)
    if not (http or https or settings.sensor.listeners):
        http, https = [DEFAULT_HTTP], [DEFAULT_HTTPS]
    for address in http:
        arguments += ["--http", address]
    for address in https:
        arguments += ["--https", address]
    return arguments


def run(args: argparse.Namespace) -> int:
    layout = NodeLayout(args.data.resolve())
    settings = node_settings(args, layout)
    layout.create()
    store = open_store_for(settings.store)
    try:
        asyncio.run(_serve(args, settings, layout, store))
    finally:
        store.close()
    return 0


async def _serve(args: argparse.Namespace, settings: Settings, layout: NodeLayout, store: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    transport = await open_transport(settings, client_name=f"honeyscope-up-{settings.sensor.name}")
    sensor = None
    if not args.no_sensor:
        sensor = SensorProcess(sensor_arguments(args, settings), layout.state / "sensor-ready.txt",
                               layout.logs / "sensor.log")
    dashboard = None if args.web == "" else _dashboard(settings, store)
    node = Node(settings, layout, store, publisher=transport.publisher, subscriber=transport.subscriber,
                stages=build_stages(settings, artifact_root=layout.spool / "artifacts"), sensor=sensor,
                sensor_name=settings.sensor.name, web=dashboard)
    ready = asyncio.Event()
    runner = asyncio.create_task(node.run(stop, ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if ready.is_set():
        _announce(args, node, taxii=settings.web.taxii.enabled)
    try:
        await runner
    finally:
        waiter.cancel()
        await transport.close()


def _dashboard(settings: Settings, store: Any) -> Any:
    """The dashboard inside this process: DuckDB admits one process, so the web app shares our store.
    Bound before the decoy starts, so a busy port or a missing token fails first, in one line."""
    from honeyscope.web import WebServer, access_policy, create_app

    policy = access_policy(settings.web)
    app = create_app(store, settings.web, policy=policy)
    return WebServer(app, policy.host, policy.port, tls_certificate=settings.web.tls_certificate,
                     tls_key=settings.web.tls_key)


def _announce(args: argparse.Namespace, node: Node, *, taxii: bool) -> None:
    listeners = node.sensor.listeners if node.sensor else []
    taxii_url = f"{node.web_url}taxii2/" if node.web_url and taxii else None
    print(f"honeyscope is up: decoy {' '.join(listeners) or '(not started)'}; dashboard {node.web_url or 'off'} "
          f"(TAXII 2.1 {taxii_url or 'off'}); data {node.layout.data_dir}; metrics {node.metrics_url or 'off'}. "
          "Ctrl-C stops it.", flush=True)
    if args.ready_file is not None:
        info = {"listeners": listeners, "metrics": node.metrics_url, "web": node.web_url, "taxii": taxii_url}
        args.ready_file.write_text(msgspec.json.encode(info).decode(), encoding="utf-8")
