"""How well the trend analysis does on synthetic data: false alarms on noise, delay on injected steps.

Used by the tests (with thresholds) and bench/trends.py (printed); docs/trends.md quotes the figures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from honeyscope.analysis.trends.detect import find_trends
from honeyscope.analysis.trends.findings import TrendReport
from honeyscope.analysis.trends.settings import TrendSettings
from honeyscope.analysis.trends.synthetic import synthetic_table
from honeyscope.analysis.trends.table import DailyTable


@dataclass(frozen=True, slots=True)
class FalseAlarms:
    """Findings on noise-only series, and the series-days they were drawn from."""

    findings: int
    series_days: int

    @property
    def per_thousand(self) -> float:
        """False alarms per 1,000 series-days (country-days when series are countries)."""
        return 1000.0 * self.findings / self.series_days if self.series_days else 0.0


@dataclass(frozen=True, slots=True)
class Detection:
    """``delay``: days at the new rate the data must hold before the step is reported (None: never)."""

    delay: int | None
    #: Estimated − true onset, in days, on the first report.
    onset_error: int | None


def false_alarms(*, series: int, days: int, seeds: range, settings: TrendSettings | None = None,
                 median_daily: float = 20.0, alpha: float = 0.15) -> FalseAlarms:
    """Run ``find_trends`` on noise-only tables (one per seed) and count what it reports."""
    found = 0
    for seed in seeds:
        table = synthetic_table(series=series, days=days, seed=seed, median_daily=median_daily, alpha=alpha)
        found += len(find_trends(table, settings).findings)
    return FalseAlarms(found, series * days * len(seeds))


def detection(table: DailyTable, row: int, onset: int, *, direction: str = "increase",
              settings: TrendSettings | None = None, family_size: int = 0, tolerance: int = 2,
              longest: int = 60) -> Detection:
    """Re-run the analysis of series ``row`` on data ending 1, 2, … days after ``onset`` (a day index)
    until it reports a change in ``direction`` within ``tolerance`` days of the onset."""
    settings = settings or TrendSettings()
    single = replace(table, keys=(table.keys[row],), counts=table.counts[row:row + 1])
    for delay in range(1, min(longest, len(table.days) - onset) + 1):
        stop = onset + delay
        part = replace(single, days=single.days[:stop], counts=single.counts[:, :stop],
                       exposure=single.exposure[:stop])
        error = _onset_error(find_trends(part, settings, family_size=family_size), table, onset, direction)
        if error is not None and abs(error) <= tolerance:
            return Detection(delay, error)
    return Detection(None, None)


def _onset_error(report: TrendReport, table: DailyTable, onset: int, direction: str) -> int | None:
    errors = [(finding.onset - table.days[onset]).days for finding in report.findings
              if finding.direction == direction]
    return min(errors, key=abs) if errors else None
