"""Trend analysis speed and calibration on seeded synthetic data. Prints figures; nothing passes or fails.

    .venv/bin/python bench/trends.py [--countries 200] [--days 365] [--noise-seeds 5] [--delay-runs 20]

(a) time and peak memory of ``find_trends`` over countries × days (target < 10 s on one core), with a
    few injected campaigns; and over a country × CVE table (countries × 5 CVEs, mostly sparse);
(b) false alarms per 1,000 country-days on noise only (target ≤ 1);
(c) detection delay: days at the new rate before an injected step is reported, per step size and volume.
Runs on one core (BLAS threads 1, CPU affinity 0 where available).
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from honeyscope.analysis.trends import DailyTable, TrendReport  # noqa: E402
from honeyscope.analysis.trends.detect import find_trends  # noqa: E402
from honeyscope.analysis.trends.evaluation import detection, false_alarms  # noqa: E402
from honeyscope.analysis.trends.synthetic import InjectedStep, synthetic_table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--countries", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--noise-seeds", type=int, default=5)
    parser.add_argument("--delay-runs", type=int, default=20, help="seeds per step size and volume")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    find_trends(synthetic_table(series=3, days=60, seed=0))  # imports and first-call costs out of the timing
    speed(args.countries, args.days)
    noise(args.countries, args.days, args.noise_seeds)
    delays(args.days, args.delay_runs)


def speed(countries: int, days: int) -> None:
    steps = [InjectedStep(row, days // 2 + row, 3.0) for row in range(0, countries, max(1, countries // 5))]
    table = synthetic_table(series=countries, days=days, seed=1, steps=steps)
    report, seconds, peak = measure(lambda: find_trends(table))
    print(f"(a) {countries} countries × {days} days, {len(steps)} injected 3× steps: {seconds:.2f} s, "
          f"peak traced memory {peak:.1f} MB, max RSS {rss_mb():.0f} MB; {report.tests} tests, "
          f"{len(report.findings)} findings ({found(report, table, steps)} of the injected steps)")
    pairs = pair_table(countries, days)
    report, seconds, peak = measure(lambda: find_trends(pairs))
    print(f"    {len(pairs.keys)} country × CVE series × {days} days (sparse): {seconds:.2f} s, peak "
          f"{peak:.1f} MB; {report.tested} tested, {len(report.skipped)} skipped (too few events), "
          f"{len(report.findings)} findings")


def noise(countries: int, days: int, seeds: int) -> None:
    for label, median in (("typical", 20.0), ("sparse", 1.0), ("busy", 300.0)):
        result = false_alarms(series=countries, days=days, seeds=range(100, 100 + seeds), median_daily=median)
        print(f"(b) noise only, {label} volume (median {median:g}/day): {result.findings} findings in "
              f"{result.series_days} country-days = {result.per_thousand:.4f} per 1,000 (target ≤ 1)")


def delays(days: int, runs: int) -> None:
    onset = days // 2
    print(f"(c) detection delay (days at the new rate before the report, onset within ±2 days), {runs} runs "
          "each, Bonferroni family of 200 series:")
    for ratio in (3.0, 2.0, 1.5, 0.33):
        for median in (2.0, 20.0, 200.0):
            measured = [detect_one(days, onset, ratio, median, seed) for seed in range(runs)]
            delays_found = [delay for delay in measured if delay is not None]
            middle = f"median {statistics.median(delays_found):.0f}, max {max(delays_found)}" if delays_found else "-"
            print(f"    {ratio:g}× at {median:g} events/day: found {len(delays_found)}/{runs} within 60 days; "
                  f"delay {middle}")


def detect_one(days: int, onset: int, ratio: float, median: float, seed: int) -> int | None:
    table = synthetic_table(series=1, days=days, seed=seed, median_daily=median, steps=[InjectedStep(0, onset, ratio)])
    table = _at_level(table, median, onset, ratio, seed)
    direction = "increase" if ratio > 1 else "decrease"
    return detection(table, 0, onset, direction=direction, family_size=200).delay


def _at_level(table: DailyTable, median: float, onset: int, ratio: float, seed: int) -> DailyTable:
    """Redraw the single series at exactly ``median`` events a day (synthetic_table spreads levels)."""
    rng = np.random.default_rng(seed)
    mean = np.full(table.days.__len__(), median) * table.exposure / table.exposure.max()
    mean[onset:] *= ratio
    counts = rng.poisson(rng.gamma(1 / 0.15, 0.15 * mean))[None, :].astype(np.int64)
    return DailyTable(table.dimensions, table.days, table.keys, counts, table.exposure)


def pair_table(countries: int, days: int) -> DailyTable:
    cves = ("CVE-2021-26855", "CVE-2021-34473", "CVE-2020-0688", "CVE-2022-41040", "CVE-2021-26857")
    keys = tuple((f"C{row:03d}", cve) for row in range(countries) for cve in cves)
    return synthetic_table(series=len(keys), days=days, seed=2, median_daily=0.5, keys=keys,
                           dimensions=("country", "cve"))


def found(report: TrendReport, table: DailyTable, steps: list[InjectedStep]) -> int:
    return sum(any(f.key == table.keys[step.row] and f.direction == "increase" and
                   abs((f.onset - table.days[step.onset]).days) <= 2 for f in report.findings) for step in steps)


def measure(run: Callable[[], Any]) -> tuple[Any, float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return result, seconds, peak


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
