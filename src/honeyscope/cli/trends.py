"""``honeyscope trends``: sustained increases and decreases of attacks per country, ASN, CVE, persona
or a pair such as country × CVE, each as a sentence with its numbers (or JSON for scripts)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast, get_args

import msgspec

from honeyscope.analysis.trends import DailyTable, TrendReport, TrendSettings, format_p, load_table
from honeyscope.cli.up import DEFAULT_DATA
from honeyscope.config import ConfigError, Settings, StoreSettings, load_settings
from honeyscope.store.base import Dimension, StoreUnavailableError

_DIMENSIONS: tuple[str, ...] = get_args(Dimension)


def register(subparsers: Any) -> None:
    defaults = TrendSettings()
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "trends", help="find sustained increases of attacks per country, ASN, CVE, persona (or country,cve)",
        description="Read daily counts from the store and test every series for a sustained change in its "
                    "rate per active sensor: change points (ruptures), a negative-binomial model with "
                    "day-of-week terms (rate ratio, 95% CI, p-value adjusted for every series tested) and a "
                    "Mann-Kendall test. Days without any active sensor are left out. The [trends] section of "
                    "the settings file sets the analysis; flags override it. See docs/trends.md.",
        epilog="Example: honeyscope trends --data ./honeyscope-data --by country,cve --from 2021-01-01 "
               "--to 2021-06-30")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"data directory of 'honeyscope up' (default {DEFAULT_DATA}); its store is "
                             "DATA/honeyscope.duckdb unless the config file names another")
    parser.add_argument("--config", type=Path,
                        help="TOML settings file: [store] picks DuckDB or PostgreSQL, [trends] the analysis")
    parser.add_argument("--by", default="country", metavar="DIM[,DIM]",
                        help=f"what a series is: one of {', '.join(_DIMENSIONS)}, or a pair of them such as "
                             "country,cve (default country)")
    parser.add_argument("--from", dest="first", metavar="YYYY-MM-DD", help="first day (UTC, inclusive)")
    parser.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="last day (UTC, inclusive)")
    parser.add_argument("--min-days", type=int, metavar="N",
                        help="days a change must last to be reported ([trends] min_sustained_days, default "
                             f"{defaults.min_sustained_days})")
    parser.add_argument("--min-events", type=int, metavar="N",
                        help="series with fewer events are not tested ([trends] min_total_events, default "
                             f"{defaults.min_total_events})")
    parser.add_argument("--alpha", type=float,
                        help="error rate over all tests, family-wise or false-discovery as [trends] correction "
                             f"says ([trends] alpha, default {defaults.alpha})")
    parser.add_argument("--all-events", action="store_true",
                        help="count every event type, not only HTTP requests")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (for scripts)")
    parser.set_defaults(run=run)


#: Flags that override a ``[trends]`` key when given.
_FLAGS = {"min_days": "min_sustained_days", "min_events": "min_total_events", "alpha": "alpha"}


def run(args: argparse.Namespace) -> int:
    dimensions = parse_dimensions(args.by)
    start, end = day_range(args.first, args.last)
    config = load_settings(args.config)
    settings = trend_settings(config.trends, args)
    from honeyscope.analysis.trends.detect import find_trends  # statsmodels: only when the command runs

    report = find_trends(_read(args, config, dimensions, start, end), settings)
    if args.json:
        sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n")
    else:
        print(render(report))
    return 0


def trend_settings(configured: TrendSettings, args: argparse.Namespace) -> TrendSettings:
    """``[trends]`` with the flags given on the command line put over it (checked again)."""
    given = {flag: getattr(args, flag) for flag in _FLAGS if getattr(args, flag) is not None}
    try:
        return msgspec.structs.replace(configured, **{_FLAGS[flag]: value for flag, value in given.items()})
    except ConfigError as error:
        flags = " ".join(f"--{flag.replace('_', '-')} {value}" for flag, value in given.items())
        raise ConfigError(f"{flags}: {error}") from None


def parse_dimensions(text: str) -> list[Dimension]:
    """``country`` or ``country,cve`` → dimensions, checked."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    wrong = [name for name in names if name not in _DIMENSIONS]
    if wrong or not 1 <= len(names) <= 2 or len(set(names)) != len(names):
        raise ConfigError(f"--by {text}: not a dimension or pair — use one of {', '.join(_DIMENSIONS)}, "
                          "or two of them such as country,cve")
    return cast(list[Dimension], names)


def day_range(first: str | None, last: str | None) -> tuple[datetime | None, datetime | None]:
    """``--from``/``--to`` (inclusive days) → ``[start, end)`` in UTC."""
    start = _day("--from", first)
    stop = _day("--to", last)
    if start is not None and stop is not None and stop < start:
        raise ConfigError(f"--to {last} is before --from {first} — swap them")
    return (datetime.combine(start, time(0), UTC) if start else None,
            datetime.combine(stop + timedelta(days=1), time(0), UTC) if stop else None)


def _day(flag: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag} {text}: not a date — use YYYY-MM-DD, e.g. 2021-03-03") from None


def store_settings(args: argparse.Namespace, config: Settings) -> StoreSettings:
    """The configured store; DuckDB at DATA/honeyscope.duckdb unless the config names another path."""
    return config.store.in_data_dir(args.data)


def _read(args: argparse.Namespace, config: Settings, dimensions: list[Dimension], start: datetime | None,
          end: datetime | None) -> DailyTable:
    from honeyscope.store import open_store

    settings = store_settings(args, config)
    if settings.kind == "duckdb" and not Path(settings.path).is_file():
        raise ConfigError(f"no store at {settings.path} — run 'honeyscope up --data DIR' first, or pass the "
                          "--data directory (or --config) of an existing one")
    try:
        store = open_store(settings)
    except StoreUnavailableError as error:
        raise ConfigError(str(error)) from None
    try:
        if store.schema_version() == 0:
            raise ConfigError(f"the store at {settings.path if settings.kind == 'duckdb' else settings.dsn} "
                              "holds no events yet — let 'honeyscope up' record some first")
        return load_table(store, dimensions, start, end, event_type=None if args.all_events else "http.request")
    except StoreUnavailableError as error:
        raise ConfigError(str(error)) from None
    finally:
        store.close()


def render(report: TrendReport) -> str:
    """The report as text: a summary line, one sentence per finding with its details, then what was skipped."""
    lines = [_summary(report)]
    if report.findings:
        lines.append(f"{len(report.findings)} sustained change(s):")
    elif report.tested:
        lines.append("No sustained change found.")
    for number, finding in enumerate(report.findings, 1):
        lines.append(f"{number:3d}. {finding.sentence}")
        lines.append(f"     {_number(finding.baseline_rate)} → {_number(finding.elevated_rate)} events per sensor-day "
                     f"({finding.baseline_events} events over {finding.baseline_days} days before, "
                     f"{finding.elevated_events} over {finding.sustained_days} after); {finding.method}; "
                     f"Mann-Kendall {finding.mk_trend} ({format_p(finding.mk_p)})")
        if finding.note:
            lines.append(f"     note: {finding.note}")
    if report.skipped:
        lines.append(f"{len(report.skipped)} series not tested: too few events (fewer than the minimum, "
                     "--min-events)")
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)


def _summary(report: TrendReport) -> str:
    by = " × ".join(report.dimensions)
    if report.first_day is None:
        return f"by {by}: no data in the period."
    outages = f", {len(report.outage_days)} without any active sensor" if report.outage_days else ""
    return (f"by {by}, {report.first_day} to {report.last_day}: {report.days} days{outages}; {report.series} "
            f"series, {report.tested} tested, {report.tests} tests ({report.correction}, α = {report.alpha})")


def _number(value: float) -> str:
    return f"{value:.3g}"
