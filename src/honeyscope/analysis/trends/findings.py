"""What the trend analysis reports: findings (a record and a sentence each) and the run's summary."""

from __future__ import annotations

from datetime import date
from typing import Literal

import msgspec
import numpy as np

#: How each dimension reads in a sentence ("attacks from CN using CVE-2021-26855").
_PHRASES = {
    "country": "from {}",
    "asn": "from AS{}",
    "persona": "on the {} persona",
    "sensor": "on sensor {}",
    "cve": "using {}",
    "type": "of type {}",
}


class TrendFinding(msgspec.Struct, frozen=True, kw_only=True):
    """A sustained change in the daily rate of one series; rates are events per active sensor-day."""

    dimensions: tuple[str, ...]
    key: tuple[str, ...]
    direction: Literal["increase", "decrease"]
    #: First day (with exposure) at the changed rate.
    onset: date
    #: Changed ÷ baseline rate; ``None`` when the baseline had no event (unbounded).
    rate_ratio: float | None
    ci_low: float
    #: ``None`` when unbounded.
    ci_high: float | None
    #: The model's p-value, and the one adjusted for every test of the run (the decision uses this one).
    p: float
    p_adjusted: float
    #: Days with exposure at the changed rate, from the onset on; ``ongoing`` when it lasts to the end.
    sustained_days: int
    ongoing: bool
    baseline_days: int
    baseline_rate: float
    elevated_rate: float
    baseline_events: int
    elevated_events: int
    #: Hamed–Rao Mann–Kendall over the baseline and changed days: increasing, decreasing or no trend.
    mk_trend: str
    mk_p: float
    #: ``negative-binomial``, ``quasi-poisson`` or ``exact-conditional``; ``note`` says why a fallback.
    method: str
    note: str = ""
    sentence: str = ""


class Skipped(msgspec.Struct, frozen=True):
    """A series that was not tested, and why."""

    key: tuple[str, ...]
    reason: str


class TrendReport(msgspec.Struct, kw_only=True):
    """Everything one run found and how it got there."""

    dimensions: tuple[str, ...]
    first_day: date | None
    last_day: date | None
    days: int
    observed_days: int
    outage_days: list[date]
    #: Series in the table, series tested, and tests counted for the multiple-testing correction.
    series: int
    tested: int
    tests: int
    correction: str
    alpha: float
    findings: list[TrendFinding]
    skipped: list[Skipped]
    notes: list[str]


def subject(dimensions: tuple[str, ...], key: tuple[str, ...]) -> str:
    """``attacks from CN using CVE-2021-26855``."""
    parts = [_PHRASES.get(dimension, dimension + " {}").format(value) for dimension, value in zip(
        dimensions, key, strict=True)]
    return " ".join(["attacks", *parts])


def sentence(finding: TrendFinding) -> str:
    """The finding with its numbers, e.g. ``attacks from CN using CVE-2021-26855 rose 3.4× (95% CI
    2.8–4.1) after 2021-03-03, sustained 26 days, p < 0.001``."""
    who = subject(finding.dimensions, finding.key)
    lasting = f"sustained {finding.sustained_days} days" + (" (ongoing)" if finding.ongoing else "")
    p = format_p(finding.p_adjusted)
    if finding.rate_ratio is None:
        return (f"{who} appeared after {finding.onset} (none in the {finding.baseline_days} days before, "
                f"{_number(finding.elevated_rate)} per sensor-day after; rate ratio ≥ {_number(finding.ci_low)} "
                f"at 95%), {lasting}, {p}")
    if finding.direction == "decrease" and finding.elevated_events == 0:
        bound = "" if finding.ci_high is None else f"; rate ratio ≤ {_number(finding.ci_high)} at 95%"
        return f"{who} stopped after {finding.onset} (none since{bound}), {lasting}, {p}"
    verb = "rose" if finding.direction == "increase" else "fell to"
    high = "∞" if finding.ci_high is None else _number(finding.ci_high)
    return (f"{who} {verb} {_number(finding.rate_ratio)}× (95% CI {_number(finding.ci_low)}–{high}) "
            f"after {finding.onset}, {lasting}, {p}")


def format_p(p: float) -> str:
    """``p < 0.001`` or ``p = 0.012``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _number(value: float) -> str:
    """Two significant figures, never an exponent: 3.4, 12, 0.31, 0.0012 (and 1234 as 1234)."""
    if value >= 10:
        return f"{value:.0f}"
    return str(np.format_float_positional(value, precision=2, fractional=False, trim="-"))
