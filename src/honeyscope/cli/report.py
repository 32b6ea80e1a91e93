"""``honeyscope report``: an HTML or PDF report of a period for managers and partner CERTs (docs/report.md)."""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from honeyscope.cli.up import DEFAULT_DATA
from honeyscope.config import ConfigError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="write an HTML or PDF report of a period: summary, charts, findings, indicators, TLP",
        description="Read the store for the period and write one self-contained report: a TLP 2.0 marking on "
                    "every page, an executive summary, charts (source countries, ASNs, CVEs, events per day), "
                    "the sustained changes found per country, CVE and country × CVE, the attribution of the "
                    "activity clusters with evidence and confidence, an indicator table, and the methodology. "
                    "HTML has no script and loads nothing; PDF is printed by headless Chromium.",
        epilog="Example: honeyscope report --data ./honeyscope-data --from 2021-03-01 --to 2021-03-31 "
               "--format pdf --tlp amber --output march.pdf --indicators-csv march-indicators.csv")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"data directory of 'honeyscope up' (default {DEFAULT_DATA}); its store is "
                             "DATA/honeyscope.duckdb unless --config names another; DATA/intel adds actor intel")
    parser.add_argument("--config", type=Path, help="TOML settings file ([store] picks DuckDB or PostgreSQL)")
    parser.add_argument("--from", dest="first", metavar="YYYY-MM-DD",
                        help="first day (UTC, inclusive; default: 30 days before --to)")
    parser.add_argument("--to", dest="last", metavar="YYYY-MM-DD",
                        help="last day (UTC, inclusive; default: the day of the newest event)")
    parser.add_argument("--format", choices=("html", "pdf"), default="html", help="html (default) or pdf")
    parser.add_argument("--tlp", default="amber",
                        help="TLP 2.0 marking: clear, green, amber (default, as for exports), amber+strict, red")
    parser.add_argument("--output", type=Path, metavar="FILE",
                        help="file to write (default honeyscope-report-FROM-TO.html or .pdf here)")
    parser.add_argument("--indicators-csv", type=Path, metavar="FILE",
                        help="also write the indicator table as CSV (cells that look like formulas are guarded)")
    parser.add_argument("--intel", action="append", default=[], type=Path, metavar="PATH",
                        help="extra actor intel files or directories for attribution (repeatable)")
    parser.add_argument("--chromium", metavar="PATH",
                        help="Chromium for --format pdf (default $HONEYSCOPE_CHROMIUM, then chromium, "
                             "chromium-browser or google-chrome on PATH)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from honeyscope.share.tlp import parse_tlp

    tlp = parse_tlp(args.tlp)
    first, last = _days(args.first, args.last)
    chromium = _chromium(args) if args.format == "pdf" else None
    began = time.process_time()
    data = _gather(args, first, last, tlp)
    from honeyscope.report import render_html, tlp_label, write_csv

    output: Path = args.output or Path(f"honeyscope-report-{data.first}-{data.last}.{args.format}")
    html = render_html(data)
    if chromium is None:
        _write(output, html)
    else:
        _print(html, output, chromium)
    rows = write_csv(args.indicators_csv, data) if args.indicators_csv else None
    notes = f"; {rows} indicators in {args.indicators_csv}" if rows is not None else ""
    print(f"wrote {output} ({tlp_label(tlp)}, {data.first} to {data.last}, {data.events:,} events, "
          f"{output.stat().st_size:,} bytes, {time.process_time() - began:.1f} s CPU){notes}")
    return 0


def _days(first: str | None, last: str | None) -> tuple[date | None, date | None]:
    from honeyscope.cli.trends import day_range

    start, end = day_range(first, last)  # one error line for bad dates and --from after --to
    return (start.date() if start else None, (end - timedelta(days=1)).date() if end else None)


def _chromium(args: argparse.Namespace) -> Path:
    from honeyscope.report.pdf import PdfError, find_chromium

    try:
        return find_chromium(args.chromium)
    except PdfError as error:
        raise ConfigError(str(error)) from None


def _gather(args: argparse.Namespace, first: date | None, last: date | None, tlp: Any) -> Any:
    from honeyscope.cli.trends import store_settings
    from honeyscope.config import load_settings
    from honeyscope.report import gather
    from honeyscope.store import open_store
    from honeyscope.store.base import StoreUnavailableError

    config = load_settings(args.config)
    settings = store_settings(args, config)
    label = settings.path if settings.kind == "duckdb" else "PostgreSQL"
    if settings.kind == "duckdb" and not Path(settings.path).is_file():
        raise ConfigError(f"no store at {settings.path} — run 'honeyscope up --data DIR' first, or pass the "
                          "--data directory (or --config) of an existing one")
    try:
        store = open_store(settings)
    except StoreUnavailableError as error:  # e.g. the DuckDB file is held by a running 'honeyscope up'
        raise ConfigError(str(error)) from None
    local = args.data.resolve() / "intel"
    intel = [*([local] if local.is_dir() else []), *args.intel]
    try:
        return gather(store, first, last, tlp=tlp, intel=intel, trend_settings=config.trends,
                      store_label=Path(label).name if settings.kind == "duckdb" else label)
    except StoreUnavailableError as error:
        raise ConfigError(str(error)) from None
    finally:
        store.close()


def _write(output: Path, text: str) -> None:
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {output}: {error.strerror} — pick another --output") from None


def _print(html: str, output: Path, chromium: Path) -> None:
    from honeyscope.report.pdf import PdfError, print_pdf

    with tempfile.TemporaryDirectory(prefix="honeyscope-report-") as directory:
        page = Path(directory) / "report.html"
        page.write_text(html, encoding="utf-8")
        try:
            print_pdf(page, output, chromium)
        except PdfError as error:
            raise ConfigError(str(error)) from None
        except OSError as error:
            raise ConfigError(f"cannot write {output}: {error.strerror} — pick another --output") from None
