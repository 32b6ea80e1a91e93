"""``honeyscope evaluate``: how well ``trends`` and ``attribute`` recover a simulation's ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.cli.up import DEFAULT_DATA
from honeyscope.config import ConfigError


def register(subparsers: Any) -> None:
    """Add the command to ``honeyscope``'s subcommands."""
    from honeyscope.simulate.evaluate import Thresholds

    limits = Thresholds()
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate", help="score attribution and trends against a simulation's ground truth (exit 1 below target)",
        description="Read DATA/simulation/ground-truth.json, run attribution (sessions, clusters, actors) and "
                    "trends (country × CVE) on the store as 'honeyscope attribute' and 'honeyscope trends' do, and "
                    "compare: precision and recall per actor, clusters wrongly attributed at moderate and high "
                    "confidence, which designed increases were found and how many days after their onset, and "
                    "(--noise-only-check) false alarms per 1,000 country-days on a noise-only simulation. Exits "
                    "1 when a threshold is missed. See docs/simulate.md.",
        epilog="Example: honeyscope simulate --data ./sim --seed 7 && honeyscope evaluate --data ./sim "
               "--noise-only-check")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data directory filled by 'honeyscope "
                                                                        f"simulate' (default {DEFAULT_DATA})")
    parser.add_argument("--config", type=Path, help="settings file the simulation used (its store)")
    parser.add_argument("--noise-only-check", action="store_true",
                        help="also simulate the scenario as noise only (next seed) in a temporary directory and "
                             "count false alarms and attributions there")
    parser.add_argument("--noise-days", type=int, metavar="N",
                        help="days of the noise-only simulation (default: the run's, at most 120)")
    parser.add_argument("--max-wrong-high", type=int, default=limits.max_wrong_high, metavar="N",
                        help="clusters wrongly attributed at high confidence allowed "
                             f"(default {limits.max_wrong_high})")
    parser.add_argument("--max-wrong-moderate", type=int, default=limits.max_wrong_moderate, metavar="N",
                        help="… at moderate confidence (default: reported, not checked)")
    parser.add_argument("--min-precision", type=float, default=limits.min_precision,
                        help=f"per-actor attribution precision (default {limits.min_precision})")
    parser.add_argument("--min-recall", type=float, default=limits.min_recall,
                        help=f"per-actor attribution recall over sessions (default {limits.min_recall})")
    parser.add_argument("--min-trend-recall", type=float, default=limits.min_trend_recall,
                        help=f"share of designed increases found (default {limits.min_trend_recall})")
    parser.add_argument("--max-delay", type=float, default=limits.max_median_delay, metavar="DAYS",
                        help=f"median detection delay after onset (default {limits.max_median_delay:g} days)")
    parser.add_argument("--max-false-alarms", type=float, default=limits.max_false_alarms, metavar="RATE",
                        help=f"false alarms per 1,000 country-days on noise only (default {limits.max_false_alarms:g})")
    parser.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the command; the exit status."""
    from honeyscope.simulate.evaluate import Thresholds, evaluate

    if args.noise_days is not None and args.noise_days < 14:
        raise ConfigError(f"--noise-days {args.noise_days}: the trend analysis needs at least 14 days — use 14 or more")
    thresholds = Thresholds(max_wrong_high=args.max_wrong_high, max_wrong_moderate=args.max_wrong_moderate,
                            min_precision=args.min_precision, min_recall=args.min_recall,
                            min_trend_recall=args.min_trend_recall, max_median_delay=args.max_delay,
                            max_false_alarms=args.max_false_alarms)
    progress = None if args.json else _progress
    evaluation = evaluate(args.data, config=args.config, thresholds=thresholds, noise_check=args.noise_only_check,
                          noise_days=args.noise_days, progress=progress)
    if args.json:
        sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(evaluation), indent=2) + b"\n")
    else:
        print(render(evaluation))
    return 1 if evaluation.violations else 0


def _progress(message: str) -> None:
    print(f"evaluate: {message}", file=sys.stderr, flush=True)


def render(evaluation: Any) -> str:
    """Tables: attribution per actor, wrong clusters, trend truths, noise-only figures, then the verdict."""
    from honeyscope.cli.sessions import format_table

    lines = [f"simulation {evaluation.data}: seed {evaluation.seed}, {evaluation.days} days from "
             f"{evaluation.start}, {evaluation.events} events"]
    attribution = evaluation.attribution
    if attribution is not None:
        lines.append(f"\nattribution: {attribution.sessions} sessions in {attribution.clusters} clusters, "
                     f"{attribution.attributed_clusters} attributed")
        rows: list[tuple[str, ...]] = [("ACTOR", "TRUE SESSIONS", "ATTRIBUTED", "CORRECT", "PRECISION", "RECALL")]
        rows += [(a.actor, str(a.true_sessions), str(a.attributed_sessions), str(a.correct_sessions),
                  _ratio(a.precision), _ratio(a.recall)) for a in attribution.actors]
        lines += format_table(rows) if attribution.actors else ["no actor in the ground truth or the verdicts"]
        lines.append(f"wrongly attributed clusters: {attribution.wrong_high} at high confidence, "
                     f"{attribution.wrong_moderate} at moderate")
        lines += [f"  {w.cluster} → {w.attributed_to} {w.confidence} ({w.level}); truth: {w.truth or 'no actor'}; "
                  f"{w.sessions} sessions from {', '.join(w.source_ips)}" for w in attribution.wrong[:10]]
    trends = evaluation.trends
    if trends is not None:
        lines.append(f"\ntrends (country × CVE): {trends.found} of {trends.truths} designed increases found "
                     f"({_ratio(trends.recall)} of the {trends.testable} in series with enough events to test); "
                     f"median delay {_days(trends.median_delay)}, longest {_days(trends.max_delay)}; "
                     f"{trends.other_findings} other increases reported")
        series: list[tuple[str, ...]] = [("SERIES", "ONSET", "EXPECTED/DAY", "FOUND", "DELAY")]
        series += [("/".join(s.key), s.onset, f"{s.elevated_daily:.1f}",
                  s.found_onset or ("no" if s.testable else "no (too few events to test)"), _days(s.delay))
                   for s in trends.series]
        lines += format_table(series)
    noise = evaluation.noise
    if noise is not None:
        lines.append(f"\nnoise only ({noise.days} days, {noise.countries} countries): {noise.findings} findings by "
                     f"country = {noise.false_alarms_per_1000:g} false alarms per 1,000 country-days; "
                     f"{noise.pair_findings} by country × CVE over {noise.pair_series_days} series-days; "
                     f"{noise.hafnium_attributions} clusters attributed to HAFNIUM, {noise.high_attributions} "
                     "attributed at high confidence")
    if evaluation.violations:
        lines.append("\nFAILED: " + "; ".join(evaluation.violations))
    else:
        lines.append("\nall thresholds met")
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:g} d"
