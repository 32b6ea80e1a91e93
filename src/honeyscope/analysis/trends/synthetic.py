"""Seeded synthetic daily tables for tests, benchmarks and the figures in docs/trends.md.

Counts are negative-binomial (NB2, dispersion ``alpha``: variance ``μ + alpha·μ²``; alpha = 0.15 gives
the Poisson χ²/df ≈ 16 seen on real daily attack counts at ~100 events a day), proportional to the active
sensors of the day, with a weekday pattern, optional sensor outages and optional injected steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from honeyscope.analysis.trends.table import DailyTable, Key


@dataclass(frozen=True, slots=True)
class InjectedStep:
    """Multiply the rate of series ``row`` by ``ratio`` from day ``onset`` for ``length`` days (None: to the end)."""

    row: int
    onset: int
    ratio: float
    length: int | None = None


def synthetic_table(*, series: int, days: int, seed: int, start: date = date(2021, 1, 1),
                    sensors: int = 10, alpha: float = 0.15, median_daily: float = 20.0,
                    weekday_amplitude: float = 0.15, outages: Sequence[int] = (),
                    steps: Sequence[InjectedStep] = (), keys: Sequence[Key] | None = None,
                    dimensions: tuple[str, ...] = ("country",)) -> DailyTable:
    """``series`` noise-only series (lognormal spread of daily means around ``median_daily``) plus ``steps``;
    keys ``C000``, ``C001``… unless ``keys`` (one per series, as wide as ``dimensions``) are given."""
    rng = np.random.default_rng(seed)
    exposure = _exposure(rng, days, sensors, outages)
    level = median_daily * rng.lognormal(0.0, 1.2, size=series) / sensors
    weekday = 1.0 + weekday_amplitude * np.sin(2 * np.pi * (np.arange(7) + rng.uniform(0, 7)) / 7)
    first = start.weekday()
    pattern = weekday[(np.arange(days) + first) % 7]
    mean = level[:, None] * exposure[None, :] * pattern[None, :]
    for step in steps:
        stop = days if step.length is None else min(days, step.onset + step.length)
        mean[step.row, step.onset:stop] *= step.ratio
    # NB2 as a gamma–Poisson mixture: the gamma has shape 1/alpha and mean μ.
    counts = rng.poisson(rng.gamma(1.0 / alpha, alpha * mean, size=mean.shape) if mean.size else mean)
    names = tuple(keys) if keys is not None else tuple((f"C{row:03d}",) for row in range(series))
    calendar = tuple(start + timedelta(days=offset) for offset in range(days))
    return DailyTable(dimensions, calendar, names, counts.astype(np.int64), exposure)


def _exposure(rng: np.random.Generator, days: int, sensors: int, outages: Sequence[int]) -> np.ndarray:
    """Mostly all sensors; a sensor or two down on some days; no sensor at all on ``outages``."""
    down = rng.binomial(2, 0.05, size=days)
    exposure = np.maximum(1, sensors - down).astype(np.int64)
    for day in outages:
        exposure[day] = 0
    return exposure
