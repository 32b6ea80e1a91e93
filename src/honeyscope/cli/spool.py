"""``honeyscope spool``: read a spool — print its events, or summarise and check it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from honeyscope.events.codec import UnknownSchemaVersionError, decode_event
from honeyscope.sensor.spool import ReadStats, list_segments, read_spool


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "spool", help="print or check the events in a spool directory",
        description="Read a sensor's spool. 'cat' prints every good event as one JSON line; 'stats' "
                    "counts events per type and reports corrupt or torn records.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    cat = actions.add_parser("cat", help="print every event as a JSON line",
                             description="Print every good event of the spool as a JSON line, in order.")
    cat.add_argument("directory", type=Path, help="spool directory")
    cat.set_defaults(run=run_cat)
    stats = actions.add_parser("stats", help="count events and report damaged records",
                               description="Count events per type and report corrupt or torn records.")
    stats.add_argument("directory", type=Path, help="spool directory")
    stats.set_defaults(run=run_stats)


def run_cat(args: argparse.Namespace) -> int:
    stats = ReadStats()
    out = sys.stdout.buffer
    for record in read_spool(args.directory, stats):
        out.write(record.payload + b"\n")
    _report(stats)
    return 0


def run_stats(args: argparse.Namespace) -> int:
    stats = ReadStats()
    counts: dict[str, int] = {}
    unknown = 0
    for record in read_spool(args.directory, stats):
        try:
            kind = decode_event(record.payload).__struct_config__.tag
        except UnknownSchemaVersionError:
            unknown += 1
            continue
        counts[str(kind)] = counts.get(str(kind), 0) + 1
    print(f"segments: {len(list_segments(args.directory))}")
    for kind, count in sorted(counts.items()):
        print(f"{kind}: {count}")
    print(f"corrupt records: {stats.corrupt}\ntorn records: {stats.torn}\nunknown schema: {unknown}")
    _report(stats)
    return 0


def _report(stats: ReadStats) -> None:
    for problem in stats.problems[:20]:
        print(f"honeyscope: warning: {problem}", file=sys.stderr)
