"""``honeyscope sensor``: run decoy listeners and spool every request."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.config import ConfigError, ListenerSettings, Settings, explain_validation_error, load_settings
from honeyscope.sensor.personas.base import Persona
from honeyscope.sensor.personas.registry import UnknownPersonaError, available_personas, load_persona
from honeyscope.sensor.server import Sensor, install_fast_loop

log = logging.getLogger("honeyscope.sensor")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sensor",
        help="run decoy listeners (e.g. a vulnerable-looking Exchange) and spool every request",
        description="Serve one or more decoy personas on HTTP and HTTPS listeners. Every request, "
                    "malformed ones included, is written to the spool before it is answered.",
        epilog="Example: honeyscope sensor --persona exchange --http 127.0.0.1:8080 "
               "--https 127.0.0.1:8443 --spool ./spool",
    )
    parser.add_argument("--config", type=Path, help="TOML settings file (flags below override it)")
    parser.add_argument("--persona", default=None,
                        help=f"persona served by the --http/--https listeners given here "
                             f"(default exchange; available: {', '.join(available_personas())})")
    parser.add_argument("--http", action="append", default=[], metavar="HOST:PORT",
                        help="plain HTTP listener (repeatable)")
    parser.add_argument("--https", action="append", default=[], metavar="HOST:PORT",
                        help="HTTPS listener (repeatable); a certificate matching the persona is generated "
                             "into the state directory unless --cert/--key are given")
    parser.add_argument("--cert", type=Path, help="PEM certificate for the --https listeners")
    parser.add_argument("--key", type=Path, help="PEM private key for --cert")
    parser.add_argument("--spool", type=Path, help="spool directory (default ./spool)")
    parser.add_argument("--state", type=Path, help="state directory for certificates (default ./state)")
    parser.add_argument("--name", help="sensor name written into every event (default: host name)")
    parser.add_argument("--ready-file", type=Path,
                        help="write the bound addresses here once listening (for scripts and tests)")
    parser.set_defaults(run=run)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The configuration file's settings with the command-line flags applied on top."""
    settings = load_settings(args.config)
    sensor = settings.sensor
    persona = args.persona or "exchange"
    cert = str(args.cert) if args.cert else None
    key = str(args.key) if args.key else None
    added = [ListenerSettings(address=a, persona=persona) for a in args.http]
    added += [ListenerSettings(address=a, tls=True, persona=persona, certificate=cert, key=key) for a in args.https]
    changes: dict[str, Any] = {}
    if added:
        changes["listeners"] = [*sensor.listeners, *added]
    if args.spool:
        changes["spool"] = msgspec.structs.replace(sensor.spool, directory=str(args.spool))
    if args.state:
        changes["state_dir"] = str(args.state)
    if args.name:
        changes["name"] = args.name
    return msgspec.structs.replace(settings, sensor=msgspec.structs.replace(sensor, **changes))


def load_personas(settings: Settings) -> dict[str, Persona]:
    """Build each persona a listener names, with its own ``[personas.<name>]`` options."""
    personas: dict[str, Persona] = {}
    for listener in settings.sensor.listeners:
        name = listener.persona
        if name in personas:
            continue
        try:
            personas[name] = load_persona(name, settings.personas.get(name, {}))
        except UnknownPersonaError as error:
            raise ConfigError(str(error)) from None
        except msgspec.ValidationError as error:
            raise explain_validation_error(error, "settings", prefix=f"personas.{name}") from None
        except ValueError as error:
            raise ConfigError(f"personas.{name}: {error}") from None
    return personas


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    personas = load_personas(settings)
    sensor = Sensor(settings.sensor, personas)
    with asyncio.Runner(loop_factory=install_fast_loop()) as runner:
        runner.run(_serve(sensor, args.ready_file))
    return 0


async def _serve(sensor: Sensor, ready_file: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    bound = await sensor.start()
    addresses = [f"{'https' if b.settings.tls else 'http'}://{_url_host(b.host)}:{b.port}" for b in bound]
    log.info("sensor %s ready: %s; spool %s", sensor.observer.name, " ".join(addresses),
             sensor.settings.spool.directory)
    if ready_file is not None:
        ready_file.write_text("\n".join(addresses) + "\n", encoding="utf-8")
    await stop.wait()
    log.info("stopping")
    await sensor.stop()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
