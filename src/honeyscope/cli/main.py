"""Entry point of the ``honeyscope`` command."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from honeyscope import __version__
from honeyscope.config import ConfigError

#: Every command and its module, in the order ``--help`` lists them. Modules are imported only when their
#: command runs (or for ``--help``): the collector side pulls in pyarrow, DuckDB, statsmodels and more, and
#: the decoy sensor must not pay ~100 MB and a second of start-up for libraries it never uses.
_COMMANDS: dict[str, str] = {
    name: f"honeyscope.cli.{name}"
    for name in ("up", "status", "sensor", "ship", "collect", "replay", "spool", "export", "hunt", "rules",
                 "personas", "docs", "trends", "sessions", "attribute", "report", "web", "simulate", "evaluate")
}


def _chosen_command(argv: Sequence[str] | None) -> str | None:
    """The command named on the command line, if it is one we know (top-level options take no values)."""
    for argument in sys.argv[1:] if argv is None else argv:
        if not argument.startswith("-"):
            return argument if argument in _COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the command it names is loaded (all of them otherwise)."""
    parser = argparse.ArgumentParser(
        prog="honeyscope",
        description="Honeypot observatory: run decoys that record every attack in full, and inspect what "
                    "they recorded.",
        epilog="Run 'honeyscope COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"honeyscope {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = _chosen_command(argv) if argv is not None else None
    for name, module in _COMMANDS.items():
        if chosen is None or name == chosen:
            importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
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
