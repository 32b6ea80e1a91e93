"""``honeyscope status``: what runs, spool lag, events/s, events stored, store size."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.cli.up import DEFAULT_DATA
from honeyscope.collector.status import read_status, render_status


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "status",
        help="show what a running 'honeyscope up' or 'collect' is doing",
        description="Read the status the running process rewrites every second in its data directory: "
                    "components and their pids, spool lag, events/s, events stored, store size. Exit status "
                    "0 when it runs, 1 when it does not.",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"data directory of the running process (default {DEFAULT_DATA})")
    parser.add_argument("--json", action="store_true", help="print the status as JSON (for scripts)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    status = read_status(args.data.resolve())
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(status), indent=2).decode())
    else:
        print(render_status(status))
    return 0 if status.get("running") else 1
