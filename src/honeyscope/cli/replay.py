"""``honeyscope replay``: push recorded events through enrichment, detection and into the store."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from honeyscope.cli.up import DEFAULT_DATA
from honeyscope.collector.node import NodeLayout
from honeyscope.collector.pipeline import DeadLetters
from honeyscope.collector.replay import replay, replay_files
from honeyscope.collector.wiring import build_stages, open_store_for
from honeyscope.config import load_settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "replay",
        help="feed recorded events (spool, JSON lines, rejected events) through the pipeline into the store",
        description="Read events from spool directories or segment files, JSON-lines files of events, or a "
                    "rejected-events.jsonl, and send them through the same bus, enrichment, detection and "
                    "store path as live traffic. Events already stored are skipped (same event id).",
        epilog="Example: honeyscope replay ./old-sensor/spool --data ./honeyscope-data",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="spool directory or events file")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"data directory whose store receives the events (default {DEFAULT_DATA}); "
                             "stop 'honeyscope up' on it first when the store is DuckDB")
    parser.add_argument("--config", type=Path, help="TOML settings file (store, enrichment, detection)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    files = replay_files(args.files)
    layout = NodeLayout(args.data.resolve())
    settings = load_settings(args.config)
    store_settings = settings.store.in_data_dir(layout.data_dir)
    layout.create()
    store = open_store_for(store_settings)
    total = sum(path.stat().st_size for path in files)
    try:
        with tqdm(total=total, unit="B", unit_scale=True, desc="replay", disable=args.quiet,
                  file=sys.stderr) as bar:
            def advance(consumed: int) -> None:
                bar.update(consumed)

            result = asyncio.run(replay(files, store, settings=settings.collector,
                                        stages=build_stages(settings, artifact_root=None),
                                        dead_letters=DeadLetters(layout.dead_letters), progress=advance))
    finally:
        store.close()
    stats = result.collector
    print(f"replayed {result.read:,} events from {len(files)} file(s): {stats.stored:,} new, "
          f"{stats.duplicates:,} already stored, {stats.rejected:,} rejected, {result.unreadable:,} unreadable "
          f"lines; store now holds {stats.events_stored:,} events")
    return 0 if not stats.rejected and not result.unreadable else 1
