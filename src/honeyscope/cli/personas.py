"""``honeyscope personas``: list the decoys this installation can serve."""

from __future__ import annotations

import argparse
from typing import Any

from honeyscope.sensor.personas.registry import available_personas


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "personas", help="list the decoy personas available",
        description="List the decoy personas this installation can serve (built-in and plugins).")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    for name in available_personas():
        print(name)
    return 0
