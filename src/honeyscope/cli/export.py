"""``honeyscope export``: write events as ECS JSON lines or as IIS W3C logs.

Events come from a spool directory (``--spool``) or a JSON-lines file of events (``--input``, e.g. what
``honeyscope spool cat`` prints); the exporters take any iterable of events.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.config import ConfigError, load_settings
from honeyscope.events.codec import UnknownSchemaVersionError, decode_event
from honeyscope.events.schema import Event
from honeyscope.sensor.spool import ReadStats, read_spool
from honeyscope.share.ecs import write_ecs
from honeyscope.share.iis import IisExportOptions, write_iis_logs

_MAX_WARNINGS = 20


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "export", help="write events as ECS JSON lines or IIS W3C logs",
        description="Export recorded events in formats other tools read: 'ecs' writes Elastic Common "
                    "Schema JSON lines (rule.*, vulnerability.id, threat.technique.id from detections); "
                    "'iis' writes IIS W3C logs (u_exYYMMDD.log, IIS's default fields) so existing IIS "
                    "log content (YARA log rules, Sigma webserver rules) runs on decoy data.")
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    ecs = formats.add_parser("ecs", help="ECS JSON lines", description="Write one ECS JSON document per event.",
                             epilog="Example: honeyscope export ecs --spool ./spool --output events.ecs.jsonl")
    _source_arguments(ecs)
    ecs.add_argument("--output", type=Path, help="output file (default: standard output)")
    ecs.set_defaults(run=run_ecs)
    iis = formats.add_parser("iis", help="IIS W3C logs, one u_exYYMMDD.log per UTC day",
                             description="Write HTTP request events as IIS W3C extended logs.",
                             epilog="Example: honeyscope export iis --spool ./spool --output ./iislogs")
    _source_arguments(iis)
    iis.add_argument("--output", type=Path, required=True, help="directory for the u_exYYMMDD.log files")
    iis.add_argument("--iis-version", help="IIS version in the #Software line (default: from the Exchange "
                                           "persona's build in --config, else 10.0)")
    iis.add_argument("--config", type=Path, help="TOML settings file (its [personas.exchange] build picks "
                                                 "the IIS version: 8.5 for Exchange 2013, else 10.0)")
    iis.add_argument("--no-exchange-suffix", action="store_true",
                     help="do not append Exchange's '&CorrelationID=<empty>;&cafeReqId=...' to cs-uri-query")
    iis.set_defaults(run=run_iis)


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--spool", type=Path, help="sensor spool directory")
    source.add_argument("--input", type=Path, help="file of events, one JSON event per line")


def run_ecs(args: argparse.Namespace) -> int:
    events = read_events(args.spool, args.input)
    if args.output is None:
        count = write_ecs(events, sys.stdout.buffer)
    else:
        with args.output.open("wb") as handle:
            count = write_ecs(events, handle)
        print(f"{count} events written to {args.output}", file=sys.stderr)
    return 0


def run_iis(args: argparse.Namespace) -> int:
    version = args.iis_version or _configured_iis_version(args.config)
    options = IisExportOptions(iis_version=version, exchange_suffix=not args.no_exchange_suffix)
    stats = write_iis_logs(read_events(args.spool, args.input), args.output, options)
    for path in stats.files:
        print(path)
    print(f"{stats.lines} lines in {len(stats.files)} files; {stats.skipped} events skipped "
          "(not HTTP requests, or no response sent)", file=sys.stderr)
    return 0


def read_events(spool: Path | None, input_file: Path | None) -> Iterator[Event]:
    """Events of a spool or of a JSON-lines file, in order; unreadable records are reported on stderr."""
    if spool is not None:
        if not spool.is_dir():
            raise ConfigError(f"{spool}: not a spool directory — pass the sensor's --spool directory")
        return _from_spool(spool)
    assert input_file is not None
    if not input_file.is_file():
        raise ConfigError(f"{input_file}: no such file — pass a file of JSON events (honeyscope spool cat)")
    return _from_file(input_file)


def _from_spool(spool: Path) -> Iterator[Event]:
    stats = ReadStats()
    warnings = 0
    for record in read_spool(spool, stats):
        try:
            yield decode_event(record.payload)
        except (UnknownSchemaVersionError, msgspec.DecodeError) as error:
            warnings = _warn(warnings, f"{record.segment.name}@{record.offset}: {error}")
    for problem in stats.problems[:_MAX_WARNINGS]:
        print(f"honeyscope: warning: {problem}", file=sys.stderr)


def _from_file(path: Path) -> Iterator[Event]:
    warnings = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield decode_event(line)
            except (UnknownSchemaVersionError, msgspec.DecodeError) as error:
                warnings = _warn(warnings, f"{path}:{number}: {error}")


def _warn(count: int, message: str) -> int:
    if count < _MAX_WARNINGS:
        print(f"honeyscope: warning: {message} (skipped)", file=sys.stderr)
    return count + 1


def _configured_iis_version(config: Path | None) -> str:
    """IIS version consistent with the configured Exchange build (the persona's own derivation)."""
    if config is None:
        return "10.0"
    from honeyscope.sensor.personas.exchange.identity import ExchangeIdentity, IdentityError
    from honeyscope.sensor.personas.exchange.settings import ExchangeSettings

    options = load_settings(config).personas.get("exchange", {})
    try:
        return ExchangeIdentity(msgspec.convert(options, ExchangeSettings)).iis_version
    except (msgspec.ValidationError, IdentityError) as error:
        raise ConfigError(f"{config}: personas.exchange: {error} — fix the Exchange persona settings") from None
