"""Speed of ``honeyscope simulate`` (store mode) and of ``honeyscope evaluate``. Prints figures; nothing
passes or fails.

    .venv/bin/python bench/simulate.py [--days 60] [--start 2021-01-20] [--seed 7] [--evaluate]

Runs the built-in scenario over the period in a temporary directory and prints events, wall and CPU
seconds, events per CPU second, and CPU time per stage per event (planning, cloning, recording templates
through the persona, enrichment, Sigma, store writes) and the peak RSS. CPU seconds are the honest figure
on a shared machine: wall time includes other processes' turns.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import honeyscope.simulate.store_mode as store_mode
from honeyscope.detect.engine import Detector
from honeyscope.enrich.enricher import Enricher
from honeyscope.simulate import DEFAULT_SCENARIO, evaluate, load_scenario, simulate, with_period
from honeyscope.simulate.plan import Planner
from honeyscope.simulate.record import TemplateStore
from honeyscope.store.duckdb import DuckDBStore

SPENT: dict[str, float] = defaultdict(float)


def timed(owner: Any, name: str, label: str) -> None:
    """Count the CPU time of ``owner.name`` under ``label``."""
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[label] += time.process_time() - began

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--start", default="2021-01-20")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--evaluate", action="store_true", help="also time honeyscope evaluate on the result")
    args = parser.parse_args()
    for owner, name, label in ((DuckDBStore, "write", "store writes"), (TemplateStore, "_record", "templates"),
                               (store_mode._Emitter, "day", "cloning"), (Planner, "day", "planning"),
                               (Planner, "_sources", "addresses"), (Enricher, "enrich_batch", "enrichment"),
                               (Detector, "detect_batch", "Sigma")):
        timed(owner, name, label)
    scenario = with_period(load_scenario(None), start=date.fromisoformat(args.start), days=args.days)
    with tempfile.TemporaryDirectory(prefix="honeyscope-bench-") as directory:
        data = Path(directory)
        cpu, wall = time.process_time(), time.perf_counter()
        report = simulate(data, scenario, seed=args.seed, scenario_text=DEFAULT_SCENARIO)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        events = report.truth.events
        print(f"simulate: {events} events, {args.days} days from {args.start}, {report.templates} templates: "
              f"wall {wall:.1f} s ({events / wall:,.0f} events/s), CPU {cpu:.1f} s ({events / cpu:,.0f} events per "
              f"CPU-s); max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        SPENT["cloning"] -= SPENT["templates"]  # the emitter's time includes recording new templates
        for label, seconds in sorted(SPENT.items(), key=lambda item: -item[1]):
            print(f"  {label:24s} {seconds:6.1f} CPU-s  {1e6 * seconds / events:6.1f} µs/event")
        if args.evaluate:
            cpu, wall = time.process_time(), time.perf_counter()
            evaluation = evaluate(data)
            print(f"evaluate: wall {time.perf_counter() - wall:.1f} s, CPU {time.process_time() - cpu:.1f} s; "
                  f"violations: {evaluation.violations or 'none'}")


if __name__ == "__main__":
    main()
