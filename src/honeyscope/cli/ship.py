"""``honeyscope ship``: ship a sensor's spool to NATS JetStream until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.bus.nats import NatsBus
from honeyscope.config import ConfigError, Settings, default_sensor_name, load_settings
from honeyscope.sensor.server import install_fast_loop
from honeyscope.shipper import Shipper

log = logging.getLogger("honeyscope.ship")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ship",
        help="ship a sensor's spool to NATS JetStream (when the sensor runs apart from its collectors)",
        description="Read the spool of a sensor on this host and publish every event to NATS JetStream, at "
                    "least once: the position in the spool advances only after NATS acknowledged, so a "
                    "restart resumes where it stopped. While NATS is unreachable it retries with backoff; "
                    "the sensor keeps spooling.",
        epilog="Example: honeyscope ship --spool ./spool --state ./state --nats nats://collector.example:4222 "
               "--name dmz-1",
    )
    parser.add_argument("--spool", type=Path, metavar="DIR",
                        help="the sensor's spool directory (default: [sensor.spool] directory, ./spool)")
    parser.add_argument("--state", type=Path, metavar="DIR",
                        help="where the shipper keeps its offset and rejected list (default: [sensor] state_dir, "
                             "./state)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML settings file ([bus], [shipper], [sensor])")
    parser.add_argument("--nats", action="append", default=[], metavar="URL",
                        help="NATS server URL (repeatable); implies bus kind nats")
    parser.add_argument("--name", metavar="SENSOR",
                        help="sensor name: events go on <subject_prefix>.<name> (default: [sensor] name, else the "
                             "host name)")
    parser.set_defaults(run=run)


#: The name the brief and other commands may use for ``register``.
add_parser = register


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The configuration file with the flags applied; the bus must be NATS."""
    settings = load_settings(args.config)
    bus, sensor = settings.bus, settings.sensor
    if args.nats:
        bus = msgspec.structs.replace(bus, kind="nats", servers=list(args.nats))
    if bus.kind != "nats":
        raise ConfigError("ship needs the NATS bus — pass --nats nats://HOST:4222 or set [bus] kind = \"nats\" "
                          "(on one machine 'honeyscope up' ships in-process)")
    changes: dict[str, Any] = {"name": args.name or sensor.name or default_sensor_name()}
    if args.spool:
        changes["spool"] = msgspec.structs.replace(sensor.spool, directory=str(args.spool))
    if args.state:
        changes["state_dir"] = str(args.state)
    return msgspec.structs.replace(settings, bus=bus, sensor=msgspec.structs.replace(sensor, **changes))


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    bus = NatsBus(settings.bus, name=f"honeyscope-ship {settings.sensor.name}")  # checks TLS/credential files
    with asyncio.Runner(loop_factory=install_fast_loop()) as runner:
        runner.run(ship(settings, bus))
    return 0


async def ship(settings: Settings, bus: NatsBus) -> None:
    """Run the shipper until SIGINT/SIGTERM, then persist its offset and close the connection."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    shipper = Shipper(Path(settings.sensor.spool.directory), Path(settings.sensor.state_dir), bus.publisher(),
                      sensor=settings.sensor.name, settings=settings.shipper)
    try:
        await shipper.run(stop)
    finally:
        await bus.close()
    stats = shipper.stats
    log.info("stopped: %d events shipped, %d rejected, %d corrupt, %d torn; offset %s", stats.shipped,
             stats.rejected, stats.corrupt, stats.torn, stats.position or "at the start")
