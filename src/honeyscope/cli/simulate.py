"""``honeyscope simulate``: seeded, realistic traffic into a data directory, with its ground truth."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.cli.up import DEFAULT_DATA
from honeyscope.config import ConfigError


def register(subparsers: Any) -> None:
    """Add the command to ``honeyscope``'s subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate", help="generate realistic, seeded attack traffic with its ground truth (for demos and evaluation)",
        description="Generate background internet noise, research scanners and attack campaigns (HAFNIUM's "
                    "ProxyLogon chain from its published infrastructure, other groups after it, a mass-exploitation "
                    "wave, a noisy scanner in China) and store them in the data directory as 'honeyscope up' "
                    "would. 'store' mode plays each distinct request through the real Exchange persona and "
                    "writes enriched, detected events with simulated timestamps (fast, any span); 'sensor' mode "
                    "starts 'honeyscope up' and sends the requests over loopback (real timestamps, short plans). "
                    "The ground truth goes to DATA/simulation/ground-truth.json. See docs/simulate.md.",
        epilog="Example: honeyscope simulate --data ./sim --days 120 --seed 7 && honeyscope evaluate --data ./sim")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"data directory to fill (default {DEFAULT_DATA}); its store must be empty")
    parser.add_argument("--days", type=int, help="days to simulate (default: the scenario's, 120 built in)")
    parser.add_argument("--start", metavar="YYYY-MM-DD", help="first day (default: the scenario's, 2021-01-01)")
    parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same events "
                                                           "(default 1)")
    parser.add_argument("--mode", choices=("store", "sensor"), default="store",
                        help="store: in-process, simulated time (default); sensor: real requests to a started "
                             "decoy, real time")
    parser.add_argument("--scenario", type=Path, help="scenario TOML file (default: the built-in one)")
    parser.add_argument("--config", type=Path, help="settings file, as for 'honeyscope up' (store, enrichment, "
                                                    "rules; store mode only)")
    parser.add_argument("--noise-only", action="store_true",
                        help="only background noise, research scanners and campaigns marked noise_only, each at "
                             "a constant rate (for false-alarm checks)")
    parser.add_argument("--max-requests", type=int, default=2000, metavar="N",
                        help="sensor mode: stop after about N requests (default 2000)")
    parser.add_argument("--print-scenario", action="store_true", help="print the built-in scenario and exit")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the command; the exit status."""
    from honeyscope.simulate import DEFAULT_SCENARIO, noise_only, parse_scenario, simulate, with_period

    if args.print_scenario:
        sys.stdout.write(DEFAULT_SCENARIO)
        return 0
    text, origin = _scenario_text(args.scenario)
    scenario = with_period(parse_scenario(text, origin), start=_start(args.start), days=args.days)
    if args.noise_only:
        scenario = noise_only(scenario)
    if args.max_requests < 1:
        raise ConfigError(f"--max-requests {args.max_requests}: must be at least 1")
    progress = None if args.json else _progress
    report = simulate(args.data, scenario, seed=args.seed, scenario_text=text, mode=args.mode, config=args.config,
                      noise_only=args.noise_only, max_requests=args.max_requests, progress=progress)
    summary = _summary(report)
    if args.json:
        sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(summary), indent=2) + b"\n")
    else:
        print(render(summary))
    return 0


def _scenario_text(path: Path | None) -> tuple[str, str]:
    if path is None:
        from honeyscope.simulate import DEFAULT_SCENARIO

        return DEFAULT_SCENARIO, "built-in scenario"
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found — pass an existing scenario file with --scenario "
                          "(honeyscope simulate --print-scenario prints the built-in one)") from None


def _start(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--start {text}: not a date — use YYYY-MM-DD, e.g. 2021-01-01") from None


def _progress(message: str) -> None:
    print(f"simulate: {message}", file=sys.stderr, flush=True)


def _summary(report: Any) -> dict[str, Any]:
    truth = report.truth
    return {
        "data": str(report.truth_path.parent.parent), "ground_truth": str(report.truth_path), "mode": truth.mode,
        "seed": truth.seed, "start": truth.start.isoformat(), "days": truth.days, "events": truth.events,
        "seconds": round(report.seconds, 2), "events_per_second": round(report.events_per_second),
        "templates": report.templates, "noise_events": truth.noise_events,
        "scanners": {s.name: s.events for s in truth.scanners},
        "campaigns": [{"id": c.id, "actor": c.actor, "events": c.events, "sessions": len(c.session_ids),
                       "sources": len(c.source_ips), "first_day": c.first_day and c.first_day.isoformat(),
                       "last_day": c.last_day and c.last_day.isoformat()} for c in truth.campaigns],
        "trend_truths": [f"{'/'.join(t.key)} from {t.onset}" for t in truth.trends],
    }


def render(summary: dict[str, Any]) -> str:
    """The summary as lines of text."""
    lines = [f"{summary['events']} events over {summary['days']} days from {summary['start']} ({summary['mode']} "
             f"mode, seed {summary['seed']}) in {summary['seconds']} s: {summary['events_per_second']:,} events/s",
             f"background noise: {summary['noise_events']} events; research scanners: "
             + (", ".join(f"{name} {count}" for name, count in summary["scanners"].items()) or "none")]
    if summary["campaigns"]:
        lines.append("campaigns (actor: events, sessions, sources, days):")
    for campaign in summary["campaigns"]:
        when = f"{campaign['first_day']}..{campaign['last_day']}" if campaign["first_day"] else "not active"
        lines.append(f"  {campaign['id']} ({campaign['actor'] or 'no actor'}): {campaign['events']} events, "
                     f"{campaign['sessions']} sessions, {campaign['sources']} sources, {when}")
    if summary["trend_truths"]:
        lines.append(f"sustained increases by design ({len(summary['trend_truths'])}): "
                     + "; ".join(summary["trend_truths"][:8]) + (" …" if len(summary["trend_truths"]) > 8 else ""))
    lines.append(f"ground truth: {summary['ground_truth']}  (next: honeyscope evaluate --data {summary['data']})")
    return "\n".join(lines)
