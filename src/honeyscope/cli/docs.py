"""``honeyscope docs``: generate reference documents from the code (the event schema)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from honeyscope.events.docs import render_event_reference


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "docs", help="generate reference documentation (event schema)",
        description="Write docs/events.md, the reference of every event type and field, from the code.")
    parser.add_argument("--output", type=Path, default=Path("docs/events.md"), help="where to write")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render_event_reference(), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0
