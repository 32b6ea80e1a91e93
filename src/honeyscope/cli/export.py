"""``honeyscope export``: write events as ECS JSON lines or as IIS W3C logs, or share them as STIX 2.1 / MISP.

IIS reads a spool directory (``--spool``) or a JSON-lines file of events (``--input``, e.g. what
``honeyscope spool cat`` prints); STIX and MISP read the store (``--data``/``--config``, as ``honeyscope up``
writes it) for a period, with attribution; ECS reads any of them (the store by default). The exporters take
any iterable of events and stream it. Parquet copies the store's rows of a period, one directory per UTC day.
Store exports show a progress bar on a terminal (``--quiet`` hides it).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import msgspec

from honeyscope.config import ConfigError, load_settings
from honeyscope.events.codec import UnknownSchemaVersionError, decode_event
from honeyscope.events.schema import Event
from honeyscope.sensor.spool import ReadStats, read_spool
from honeyscope.share.ecs import write_ecs
from honeyscope.share.iis import IisExportOptions, write_iis_logs

if TYPE_CHECKING:
    from honeyscope.share.stix.actors import AttributedCluster
    from honeyscope.store.base import EventStore

_MAX_WARNINGS = 20


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "export", help="write events as ECS JSON lines, IIS W3C logs or Parquet, or share them as STIX 2.1 or MISP",
        description="Export recorded events in formats other tools read: 'ecs' writes Elastic Common "
                    "Schema JSON lines (rule.*, vulnerability.id, threat.technique.id from detections); "
                    "'iis' writes IIS W3C logs (u_exYYMMDD.log, IIS's default fields) so existing IIS "
                    "log content (YARA log rules, Sigma webserver rules) runs on decoy data. 'stix' and 'misp' "
                    "share the store's events with partners: TLP-marked, with ATT&CK, CVEs and attribution. "
                    "'parquet' copies the store's rows, one directory per UTC day.")
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    ecs = formats.add_parser(
        "ecs", help="ECS JSON lines from the store, a spool or an events file",
        description="Write one ECS JSON document per event: from the store (--data/--config, the default) in "
                    "time order, a page of events at a time, or from a sensor spool (--spool) or a file of "
                    "JSON events (--input). --from/--to select a period of any source.",
        epilog="Example: honeyscope export ecs --data ./honeyscope-data --from 2021-03-01 --to 2021-04-01 "
               "--output march.ecs.jsonl")
    _ecs_arguments(ecs)
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
    _register_sharing(formats)
    parquet = formats.add_parser(
        "parquet", help="Parquet files from the store, one directory per UTC day (day=YYYY-MM-DD/)",
        description="Write the store's events of a period as Parquet, partitioned by UTC day in hive style "
                    "(day=YYYY-MM-DD/), every column of the events table with the whole event as JSON in "
                    "'doc': for DuckDB, pandas, Spark or an archive. The output directory must be empty or "
                    "absent.",
        epilog="Example: honeyscope export parquet --data ./honeyscope-data --from 2021-03-01 --to 2021-04-01 "
               "--output ./parquet")
    _store_arguments(parquet)
    parquet.add_argument("--output", type=Path, required=True, help="directory for the day=YYYY-MM-DD/ folders")
    parquet.set_defaults(run=run_parquet)


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    from honeyscope.cli.up import DEFAULT_DATA

    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"data directory of 'honeyscope up' (default {DEFAULT_DATA}); the store is "
                             "DATA/honeyscope.duckdb unless --config names another")
    parser.add_argument("--config", type=Path, help="TOML settings file ([store] picks DuckDB or PostgreSQL)")
    parser.add_argument("--from", dest="start", metavar="TIME", help="first UTC day or time included (ISO 8601)")
    parser.add_argument("--to", dest="end", metavar="TIME", help="UTC day or time where the period ends (excluded)")


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--spool", type=Path, help="sensor spool directory")
    source.add_argument("--input", type=Path, help="file of events, one JSON event per line")


def _ecs_arguments(parser: argparse.ArgumentParser) -> None:
    from honeyscope.cli.up import DEFAULT_DATA

    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path, help=f"data directory of 'honeyscope up' (the default source, "
                                                  f"{DEFAULT_DATA}): the store DATA/honeyscope.duckdb unless "
                                                  "--config names another")
    source.add_argument("--spool", type=Path, help="sensor spool directory instead of the store")
    source.add_argument("--input", type=Path, help="file of events, one JSON event per line, instead of the store")
    parser.add_argument("--config", type=Path, help="TOML settings file ([store] picks DuckDB or PostgreSQL)")
    parser.add_argument("--from", dest="start", metavar="TIME", help="first UTC day or time included (ISO 8601)")
    parser.add_argument("--to", dest="end", metavar="TIME", help="UTC day or time where the period ends (excluded)")
    parser.add_argument("--output", type=Path, help="output file (default: standard output)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (there is none when standard "
                                                             "error is not a terminal)")


def run_ecs(args: argparse.Namespace) -> int:
    start, end = _period(args.start, "--from"), _period(args.end, "--to")
    if args.spool is not None or args.input is not None:
        events = _in_period(read_events(args.spool, args.input), start, end)
        with _output(args.output) as handle:
            count = write_ecs(events, handle)
    else:
        from honeyscope.cli.up import DEFAULT_DATA

        args.data = args.data or DEFAULT_DATA
        with _opened_store(args) as store, _output(args.output) as handle:
            # Every event type, in time order; read_store holds one page (10 000 events) at a time.
            events = _with_progress(_read(store, start, end, event_type=None), store, start, end,
                                    event_type=None, quiet=args.quiet)
            count = write_ecs(events, handle)
    print(f"{count} events written to {args.output or 'standard output'}", file=sys.stderr)
    return 0


def _in_period(events: Iterator[Event], start: datetime | None, end: datetime | None) -> Iterator[Event]:
    """The events with ``start <= @timestamp < end`` (either bound may be absent)."""
    if start is None and end is None:
        return events
    return (event for event in events if (start is None or _utc(event.timestamp) >= start)
            and (end is None or _utc(event.timestamp) < end))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


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


# -- STIX 2.1 and MISP: read from the store -------------------------------------------------------------------

def _register_sharing(formats: Any) -> None:
    stix = formats.add_parser(
        "stix", help="STIX 2.1 bundle from the store (sightings, indicators, attribution), TLP 2.0 marked",
        description="Write the store's events of a period as one STIX 2.1 bundle: the sensor network's identity, "
                    "per day and indicator (source address, exploit path, web-shell hash) a sighting with "
                    "observed-data samples, attack-patterns, vulnerabilities, and attributed activity clusters "
                    "as campaigns attributed-to intrusion sets with a confidence. Decoy addresses and Host "
                    "headers are left out unless --reveal-decoys.",
        epilog="Example: honeyscope export stix --data ./honeyscope-data --from 2021-03-01 --to 2021-04-01 "
               "--tlp amber --output march.stix.json")
    _sharing_arguments(stix)
    stix.set_defaults(run=run_stix)
    misp = formats.add_parser(
        "misp", help="MISP event JSON from the store (attributes, objects, TLP and galaxy tags)",
        description="Write the store's events of a period as one MISP event (feed JSON, built offline with "
                    "pymisp): ip-src, uri, user-agent, vulnerability and sha256 attributes, http-request "
                    "objects, the TLP tag, ATT&CK and threat-actor galaxy tags.",
        epilog="Example: honeyscope export misp --data ./honeyscope-data --from 2021-03-01 --tlp green "
               "--output event.json")
    _sharing_arguments(misp)
    misp.set_defaults(run=run_misp)


def _sharing_arguments(parser: argparse.ArgumentParser) -> None:
    _store_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar (there is none when standard "
                                                             "error is not a terminal)")
    parser.add_argument("--tlp", default="amber", help="TLP 2.0 level: clear, green, amber (default), amber+strict, "
                                                       "red")
    parser.add_argument("--name", default="honeyscope sensor network",
                        help="name of the sensor network (STIX identity, MISP organisation)")
    parser.add_argument("--output", type=Path, help="output file (default: standard output)")
    parser.add_argument("--only-detected", action="store_true", help="only events that matched a detection rule")
    parser.add_argument("--include-scanners", action="store_true", help="keep known research scanners (Shodan …)")
    parser.add_argument("--include-non-public", action="store_true",
                        help="keep private, loopback and documentation source addresses")
    parser.add_argument("--reveal-decoys", action="store_true",
                        help="include the decoys' addresses and Host headers (they identify your honeypots)")
    parser.add_argument("--no-attribution", action="store_true", help="skip sessions, clusters and attribution")
    parser.add_argument("--intel", action="append", default=[], type=Path, metavar="PATH",
                        help="extra intel files or directories for attribution (DATA/intel is read when it exists)")


def run_stix(args: argparse.Namespace) -> int:
    from honeyscope.share.stix import StixOptions, write_stix
    from honeyscope.share.tlp import parse_tlp

    options = StixOptions(network_name=args.name, tlp=parse_tlp(args.tlp), only_detected=args.only_detected,
                          include_scanners=args.include_scanners, include_non_public=args.include_non_public,
                          reveal_decoys=args.reveal_decoys)
    start, end = _period(args.start, "--from"), _period(args.end, "--to")
    with _opened_store(args) as store:
        clusters = _attributed(args, store, start, end)
        with _output(args.output) as handle:
            events = _with_progress(_read(store, start, end), store, start, end, quiet=args.quiet)
            stats = write_stix(events, handle, options=options, clusters=clusters,
                               bundle_key=(_iso(start), _iso(end)))
    skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(stats.skipped.items())) or "none"
    print(f"{stats.exported} events → {stats.total_objects} STIX objects ({stats.objects.get('sighting', 0)} "
          f"sightings, {stats.objects.get('indicator', 0)} indicators, {len(clusters)} attributed clusters); "
          f"skipped: {skipped}", file=sys.stderr)
    return 0


def run_misp(args: argparse.Namespace) -> int:
    from honeyscope.share.misp import MispOptions, write_misp
    from honeyscope.share.tlp import parse_tlp

    options = MispOptions(org_name=args.name, tlp=parse_tlp(args.tlp), only_detected=args.only_detected,
                          include_scanners=args.include_scanners, include_non_public=args.include_non_public,
                          reveal_decoys=args.reveal_decoys)
    start, end = _period(args.start, "--from"), _period(args.end, "--to")
    with _opened_store(args) as store:
        clusters = _attributed(args, store, start, end)
        with _output(args.output) as handle:
            events = _with_progress(_read(store, start, end), store, start, end, quiet=args.quiet)
            stats = write_misp(events, handle, options=options, clusters=clusters,
                               event_key=(_iso(start), _iso(end)))
    print(f"{stats.exported} events → MISP event with {stats.attributes} attributes, {stats.objects} objects, "
          f"{len(clusters)} attributed clusters", file=sys.stderr)
    return 0


def run_parquet(args: argparse.Namespace) -> int:
    start, end = _period(args.start, "--from"), _period(args.end, "--to")
    output: Path = args.output
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise ConfigError(f"--output {output}: exists and is not an empty directory — name a new directory")
    with _opened_store(args) as store:
        files = store.export_parquet(output, start, end) if store.schema_version() else []
    for path in files:
        print(path)
    print(f"{len(files)} Parquet files in {output}", file=sys.stderr)
    return 0


def _with_progress(events: Iterator[Event], store: EventStore, start: datetime | None, end: datetime | None,
                   *, event_type: str | None = "http.request", quiet: bool) -> Iterator[Event]:
    """``events`` with a progress bar on standard error when it is a terminal. The total comes from the
    daily roll-up (whole UTC days), so it is exact for day-aligned periods and an upper bound otherwise."""
    if quiet or not sys.stderr.isatty() or store.schema_version() == 0:
        yield from events
        return
    from tqdm import tqdm

    total = sum(row.count for row in store.daily_counts("type", start, end, event_type=event_type))
    with tqdm(total=total, unit=" events", desc="export", file=sys.stderr, leave=False) as bar:
        for number, event in enumerate(events, start=1):
            yield event
            if number % 1000 == 0:
                bar.update(1000)


def _period(text: str | None, flag: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: not an ISO 8601 day or time — e.g. 2021-03-01 or "
                          "2021-03-01T12:00:00Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


@contextlib.contextmanager
def _opened_store(args: argparse.Namespace) -> Iterator[EventStore]:
    """The store of ``--data``/``--config``, or one ``ConfigError`` line saying why it cannot be read."""
    from honeyscope.cli.sessions import store_settings
    from honeyscope.store import StoreUnavailableError, open_store

    settings = store_settings(args.data, args.config)
    where = settings.path if settings.kind == "duckdb" else "the PostgreSQL store"
    if settings.kind == "duckdb" and not Path(settings.path).is_file():
        raise ConfigError(f"no store at {settings.path} — run 'honeyscope up --data DIR' first, or pass the --data "
                          "directory (or --config) of an existing one")
    try:
        store = open_store(settings)
    except Exception as error:
        if settings.kind == "duckdb" and "lock" in str(error).lower():  # DuckDB: one process per file
            raise ConfigError(f"the store {where} is in use by another process — is 'honeyscope up' running on "
                              f"{args.data}? stop it, or export from a copy of the file") from None
        raise ConfigError(f"cannot open the store at {where}: {_first_line(error)}") from None
    try:
        yield store
    except StoreUnavailableError as error:
        raise ConfigError(f"cannot read {where}: {_first_line(error)}") from None
    finally:
        store.close()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _read(store: EventStore, start: datetime | None, end: datetime | None,
          event_type: str | None = "http.request") -> Iterator[Event]:
    from honeyscope.share.stix.reading import read_store

    if store.schema_version() == 0:
        return iter(())
    return read_store(store, start, end, event_type=event_type)


def _attributed(args: argparse.Namespace, store: EventStore, start: datetime | None,
                end: datetime | None) -> list[AttributedCluster]:
    if args.no_attribution:
        return []
    from honeyscope.share.stix.attributed import attribute_store, intel_paths

    return attribute_store(store, start, end, intel=intel_paths(args.data, args.intel))


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[IO[bytes]]:
    """The output file, written to a temporary name and renamed when complete (stdout without ``--output``)."""
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = path.with_name(path.name + ".partial")
    try:
        handle = partial.open("wb")
    except OSError as error:
        raise ConfigError(f"{path}: cannot write it ({error.strerror}) — choose another --output") from None
    try:
        with handle:
            yield handle
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
