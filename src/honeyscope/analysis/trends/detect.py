"""``find_trends``: every series of a daily table through screening, the rate-ratio model and the
multiple-testing correction, to findings.

Per series (days with exposure only): the change-point search proposes candidate changes (cheap, every
series); a candidate's changed rate must last ``min_sustained_days``, its baseline as long, and the
change must be carried by most of its days (not a few spikes) before the negative-binomial model is
fitted to it (the expensive part, candidates only). Every series tested counts at least one test in
the correction, so screening cannot hide multiplicity: ``tests = Σ max(1, candidates fitted)``. A
finding needs the adjusted p below ``alpha``, the 95% interval of the ratio wholly above 1 (below 1
for a decrease) and the persistence above; overlapping changes of one series in one direction are
reported once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import msgspec
import numpy as np
from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped,unused-ignore]

from honeyscope.analysis.trends.candidates import Candidate, candidates
from honeyscope.analysis.trends.changepoint import FloatArray, IntArray, find_segments, log_rate, remove_weekday
from honeyscope.analysis.trends.findings import Skipped, TrendFinding, TrendReport, sentence
from honeyscope.analysis.trends.monotonic import mann_kendall
from honeyscope.analysis.trends.ratemodel import StepEstimate, fit_step
from honeyscope.analysis.trends.settings import TrendSettings
from honeyscope.analysis.trends.table import DailyTable, Key


@dataclass(frozen=True, slots=True)
class _Observed:
    """The table restricted to days with exposure: what every model sees."""

    days: list[date]
    exposure: IntArray
    weekdays: IntArray
    counts: IntArray


@dataclass(frozen=True, slots=True)
class _Test:
    key: Key
    row: int
    candidate: Candidate
    estimate: StepEstimate


def find_trends(table: DailyTable, settings: TrendSettings | None = None, *, family_size: int = 0) -> TrendReport:
    """Sustained increases and decreases in every series of ``table`` (a pure function).

    ``family_size`` counts at least that many tests in the multiple-testing correction: for a table
    that is part of a larger analysis (e.g. re-testing one series of a run)."""
    settings = settings or TrendSettings()
    observed = _observe(table)
    report = _empty_report(table, settings, len(observed.days))
    if len(observed.days) < settings.min_observed_days:
        report.notes.append(f"only {len(observed.days)} days with an active sensor (at least "
                            f"{settings.min_observed_days} needed): nothing tested")
        return report
    tests: list[_Test] = []
    # The weekday-adjusted log rate of every series in one vectorised pass (the screen's main cost).
    signals = remove_weekday(log_rate(observed.counts, observed.exposure[None, :]), observed.weekdays)
    for index, key in enumerate(table.keys):
        outcome = _test_series(key, index, signals[index], observed, settings, report.notes)
        if isinstance(outcome, Skipped):
            report.skipped.append(outcome)
        else:
            report.tested += 1
            report.tests += max(1, len(outcome))
            tests.extend(outcome)
    report.tests = max(report.tests, family_size)
    report.findings = _decide(tests, table.dimensions, observed, report, settings)
    lost = int(table.counts[:, ~table.observed].sum()) if table.counts.size else 0
    if lost:
        report.notes.append(f"{lost} events on days without an active sensor were left out")
    return report


def _observe(table: DailyTable) -> _Observed:
    mask = table.observed
    days = [day for day, active in zip(table.days, mask, strict=True) if active]
    counts = table.counts[:, mask] if table.counts.size else np.zeros((len(table.keys), len(days)), np.int64)
    return _Observed(days, table.exposure[mask], np.array([day.weekday() for day in days], dtype=np.int64), counts)


def _empty_report(table: DailyTable, settings: TrendSettings, observed_days: int) -> TrendReport:
    return TrendReport(
        dimensions=table.dimensions, first_day=table.days[0] if table.days else None,
        last_day=table.days[-1] if table.days else None, days=len(table.days), observed_days=observed_days,
        outage_days=table.outages(), series=len(table.keys), tested=0, tests=0,
        correction=settings.correction, alpha=settings.alpha, findings=[], skipped=[], notes=[])


def _test_series(key: Key, row: int, signal: FloatArray, observed: _Observed, settings: TrendSettings,
                 notes: list[str]) -> Skipped | list[_Test]:
    """The series' tested candidates (a model that cannot be fitted adds its reason to ``notes``)."""
    counts = observed.counts[row]
    total = int(counts.sum())
    if total < settings.min_total_events:
        return Skipped(key, f"{total} events on days with exposure (at least {settings.min_total_events} needed)")
    segments = find_segments(signal, counts, penalty=settings.penalty, min_size=settings.min_segment_days)
    tests: list[_Test] = []
    for candidate in candidates(segments, signal, settings.max_changes_per_series):
        # Both rates must be established: a few days' burst is neither a baseline nor a change.
        if min(candidate.stop - candidate.change, candidate.change - candidate.start) < settings.min_sustained_days:
            continue
        if not candidate.persistent:
            continue
        window = slice(candidate.start, candidate.stop)
        changed = np.arange(candidate.start, candidate.stop) >= candidate.change
        estimate = fit_step(counts[window], observed.exposure[window], observed.weekdays[window], changed)
        if isinstance(estimate, StepEstimate):
            tests.append(_Test(key, row, candidate, estimate))
        else:
            notes.append(f"{'/'.join(key)}: change on {observed.days[candidate.change]} not tested: {estimate}")
    return tests


def _decide(tests: list[_Test], dimensions: tuple[str, ...], observed: _Observed, report: TrendReport,
            settings: TrendSettings) -> list[TrendFinding]:
    if not tests:
        return []
    # Tests the screen did not fit count with p = 1, so the correction sees every series tested.
    pvalues = [test.estimate.p for test in tests] + [1.0] * (report.tests - len(tests))
    method = "bonferroni" if settings.correction == "bonferroni" else "fdr_bh"
    adjusted = multipletests(pvalues, alpha=settings.alpha, method=method)[1]
    accepted = [(test, float(p)) for test, p in zip(tests, adjusted[: len(tests)], strict=True)
                if p < settings.alpha and _excludes_one(test)]
    findings = [_finding(test, p, dimensions, observed) for test, p in _distinct(accepted)]
    findings.sort(key=lambda finding: (finding.direction != "increase", finding.p_adjusted, finding.onset))
    return findings


def _distinct(accepted: list[tuple[_Test, float]]) -> list[tuple[_Test, float]]:
    """One finding per episode: of the changes of a series in the same direction whose changed days
    overlap (a rise in two steps is found at both), keep the most significant (then the largest)."""
    kept: list[tuple[_Test, float]] = []
    for test, p in sorted(accepted, key=lambda item: (item[1], -item[0].candidate.jump)):
        if not any(_overlap(test, other) for other, _ in kept):
            kept.append((test, p))
    return kept


def _overlap(one: _Test, other: _Test) -> bool:
    a, b = one.candidate, other.candidate
    return (one.row == other.row and a.direction == b.direction
            and a.change < b.stop and b.change < a.stop)


def _excludes_one(test: _Test) -> bool:
    estimate = test.estimate
    if test.candidate.direction == "increase":
        return estimate.ci_low > 1.0
    return estimate.ci_high is not None and estimate.ci_high < 1.0


def _finding(test: _Test, p_adjusted: float, dimensions: tuple[str, ...], observed: _Observed) -> TrendFinding:
    candidate, estimate = test.candidate, test.estimate
    counts = observed.counts[test.row]
    baseline = slice(candidate.start, candidate.change)
    changed = slice(candidate.change, candidate.stop)
    baseline_events, baseline_rate = _rates(counts, observed.exposure, baseline)
    elevated_events, elevated_rate = _rates(counts, observed.exposure, changed)
    window = slice(candidate.start, candidate.stop)
    trend = mann_kendall(remove_weekday(log_rate(counts[window], observed.exposure[window]),
                                        observed.weekdays[window]))
    finding = TrendFinding(
        dimensions=dimensions, key=test.key, direction=candidate.direction, onset=observed.days[candidate.change],
        rate_ratio=estimate.rate_ratio, ci_low=estimate.ci_low, ci_high=estimate.ci_high, p=estimate.p,
        p_adjusted=p_adjusted, sustained_days=candidate.stop - candidate.change,
        ongoing=candidate.stop == len(observed.days), baseline_days=candidate.change - candidate.start,
        baseline_rate=baseline_rate, elevated_rate=elevated_rate, baseline_events=baseline_events,
        elevated_events=elevated_events, mk_trend=trend.trend, mk_p=trend.p, method=estimate.method,
        note=estimate.note)
    return msgspec.structs.replace(finding, sentence=sentence(finding))


def _rates(counts: IntArray, exposure: IntArray, window: slice) -> tuple[int, float]:
    events = int(counts[window].sum())
    return events, events / float(exposure[window].sum())
