"""Entry point of the ``honeyscope`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from honeyscope import __version__
from honeyscope.cli import (
    attribute,
    collect,
    docs,
    evaluate,
    export,
    hunt,
    personas,
    replay,
    rules,
    sensor,
    sessions,
    ship,
    simulate,
    spool,
    status,
    trends,
    up,
    web,
)
from honeyscope.config import ConfigError

_COMMANDS = (up, status, sensor, ship, collect, replay, spool, export, hunt, rules, personas, docs, trends, sessions,
             attribute, web, simulate, evaluate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="honeyscope",
        description="Honeypot observatory: run decoys that record every attack in full, and inspect what "
                    "they recorded.",
        epilog="Run 'honeyscope COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"honeyscope {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        result: int = args.run(args)
    except ConfigError as error:
        print(f"honeyscope: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
