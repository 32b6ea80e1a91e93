"""Calibration on seeded synthetic data: false alarms on noise only, and delay on an injected step.

Targets from issue 5: at most 1 false alarm per 1,000 country-days on noise; an injected sustained
step found with its onset within a couple of days. Figures are printed (pytest -s) for docs/trends.md.
"""

from __future__ import annotations

from honeyscope.analysis.trends import find_trends
from honeyscope.analysis.trends.evaluation import detection, false_alarms
from honeyscope.analysis.trends.synthetic import InjectedStep, synthetic_table

COUNTRIES, DAYS = 200, 365


def test_noise_only_gives_at_most_one_false_alarm_per_thousand_country_days() -> None:
    measured = false_alarms(series=COUNTRIES, days=DAYS, seeds=range(3))
    print(f"\nnoise only: {measured.findings} findings in {measured.series_days} country-days "
          f"= {measured.per_thousand:.4f} per 1,000")
    assert measured.per_thousand <= 1.0


def test_sparse_noise_gives_no_more_false_alarms() -> None:
    measured = false_alarms(series=COUNTRIES, days=DAYS, seeds=range(1), median_daily=1.0)
    print(f"\nsparse noise: {measured.findings} findings in {measured.series_days} country-days")
    assert measured.per_thousand <= 1.0


def test_an_injected_threefold_step_is_found_at_its_onset_within_days() -> None:
    onset, row = 200, 17
    table = synthetic_table(series=COUNTRIES, days=DAYS, seed=42, steps=[InjectedStep(row, onset, 3.0)])
    report = find_trends(table)
    hits = [finding for finding in report.findings if finding.key == table.keys[row]]
    assert len(hits) == 1 and hits[0].direction == "increase"
    error = (hits[0].onset - table.days[onset]).days
    found = detection(table, row, onset, family_size=report.tests)
    print(f"\n3× step in {table.keys[row][0]} ({table.counts[row, :onset].mean():.1f} events/day before): "
          f"onset error {error:+d} days, reported after {found.delay} days at the new rate; "
          f"{hits[0].sentence}")
    assert abs(error) <= 2
    assert found.delay is not None and found.delay <= 14
    assert len(report.findings) <= 1 + 1  # the step, at most one false alarm beside it
