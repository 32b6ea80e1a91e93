"""Findings on hand-made series: the sentence and record a user reads, and the edge cases."""

from __future__ import annotations

import re
from datetime import date, timedelta

import msgspec
import numpy as np
import pytest

from honeyscope.analysis.trends import DailyTable, TrendSettings, build_table, find_trends
from honeyscope.analysis.trends.ratemodel import fit_step
from honeyscope.analysis.trends.synthetic import InjectedStep, synthetic_table
from honeyscope.config import ConfigError

START = date(2021, 1, 1)
ONSET = date(2021, 3, 3)
SENTENCE = re.compile(r"attacks from CN rose [\d.]+× \(95% CI [\d.]+–[\d.]+\) after 2021-03-0[1-5], "
                      r"sustained \d+ days( \(ongoing\))?, p < 0\.001")


def nb_counts(rng: np.random.Generator, mean: np.ndarray, alpha: float = 0.15) -> np.ndarray:
    return rng.poisson(rng.gamma(1 / alpha, alpha * mean))


def table_of(series: dict[tuple[str, ...], np.ndarray], exposure: np.ndarray,
             dimensions: tuple[str, ...] = ("country",)) -> DailyTable:
    days = [START + timedelta(days=index) for index in range(exposure.size)]
    rows = [(day, key, int(count)) for key, counts in series.items() for day, count in zip(days, counts, strict=True)]
    return build_table(dimensions, rows, {day: int(e) for day, e in zip(days, exposure, strict=True)})


def test_a_sustained_rise_is_one_finding_with_its_numbers() -> None:
    rng = np.random.default_rng(7)
    days, onset = 120, (ONSET - START).days
    mean = np.full(days, 40.0)
    mean[onset:] *= 3.4
    report = find_trends(table_of({("CN",): nb_counts(rng, mean)}, np.full(days, 10)))
    assert len(report.findings) == 1
    finding = report.findings[0]
    assert SENTENCE.fullmatch(finding.sentence), finding.sentence
    assert finding.direction == "increase"
    assert abs((finding.onset - ONSET).days) <= 2
    assert finding.ci_low > 1 and finding.ci_low < 3.4 < (finding.ci_high or 0)
    assert finding.method == "negative-binomial"
    assert finding.ongoing and finding.sustained_days >= 55
    assert finding.baseline_rate == pytest.approx(4.0, rel=0.25)
    assert finding.elevated_rate == pytest.approx(13.6, rel=0.25)
    assert finding.mk_trend == "increasing" and finding.mk_p < 0.05
    document = msgspec.json.decode(msgspec.json.encode(finding))
    assert document["key"] == ["CN"] and document["onset"] == str(finding.onset)


def test_a_country_cve_pair_that_appears_from_nothing() -> None:
    rng = np.random.default_rng(11)
    days, onset = 120, (ONSET - START).days
    appear = np.zeros(days)
    appear[onset:] = 40.0
    series = {("CN", "CVE-2021-26855"): nb_counts(rng, appear),
              ("CN", "CVE-2020-0688"): nb_counts(rng, np.full(days, 30.0))}
    report = find_trends(table_of(series, np.full(days, 10), ("country", "cve")))
    assert [f.key for f in report.findings] == [("CN", "CVE-2021-26855")]
    finding = report.findings[0]
    assert finding.onset == ONSET
    assert finding.rate_ratio is None and finding.ci_high is None and finding.ci_low > 10
    assert finding.method == "exact-conditional"
    assert finding.sentence.startswith("attacks from CN using CVE-2021-26855 appeared after 2021-03-03 "
                                       "(none in the 61 days before")


def test_a_campaign_that_ends_is_a_rise_then_a_fall() -> None:
    rng = np.random.default_rng(5)
    mean = np.full(150, 20.0)
    mean[40:90] = 80.0
    report = find_trends(table_of({("RU",): nb_counts(rng, mean)}, np.full(150, 8)))
    assert [f.direction for f in report.findings] == ["increase", "decrease"]
    rise, fall = report.findings
    assert not rise.ongoing and abs(rise.sustained_days - 50) <= 3
    assert "fell to" in fall.sentence and (fall.ci_high or 1) < 1


def test_sensor_outages_are_left_out_and_never_look_like_a_drop() -> None:
    rng = np.random.default_rng(3)
    exposure = np.full(150, 10)
    exposure[60:80] = 0  # every sensor down for 20 days
    exposure[100:130] = 5  # half the sensors down for a month: half the attacks, same rate
    counts = nb_counts(rng, 5.0 * exposure)
    report = find_trends(table_of({("CN",): counts}, exposure))
    assert report.findings == []
    assert report.observed_days == 130 and len(report.outage_days) == 20
    assert report.tested == 1


def test_a_short_burst_is_not_sustained() -> None:
    rng = np.random.default_rng(9)
    mean = np.full(120, 30.0)
    mean[60:64] = 300.0
    report = find_trends(table_of({("CN",): nb_counts(rng, mean)}, np.full(120, 10)))
    assert report.findings == []


def test_min_sustained_days_is_configurable() -> None:
    rng = np.random.default_rng(2)
    mean = np.full(100, 30.0)
    mean[-10:] *= 4
    table = table_of({("CN",): nb_counts(rng, mean)}, np.full(100, 10))
    assert [f.sustained_days for f in find_trends(table).findings] == [10]
    assert find_trends(table, TrendSettings(min_sustained_days=14)).findings == []


@pytest.mark.parametrize("table", [
    build_table(["country"], [], {}),
    build_table(["country"], [(START, ("CN",), 40)], {START: 3}),
    table_of({("CN",): np.zeros(60, dtype=int)}, np.full(60, 4)),
    table_of({("CN",): np.ones(60, dtype=int)}, np.zeros(60, dtype=int)),
], ids=["empty", "single-day", "all-zero-series", "no-sensor-ever"])
def test_degenerate_input_gives_a_clear_empty_report(table: DailyTable) -> None:
    report = find_trends(table)
    assert report.findings == []
    assert report.notes or report.skipped


def test_series_below_the_minimum_are_skipped_with_the_reason() -> None:
    counts = np.zeros(60, dtype=int)
    counts[30:] = 1  # 30 events: a 30 → ∞ rise, but too few to say anything
    report = find_trends(table_of({("NZ",): counts}, np.full(60, 2)))
    assert report.tested == 0
    assert report.skipped[0].key == ("NZ",)
    assert report.skipped[0].reason.startswith("30 events")


def test_a_fit_without_dispersion_falls_back_to_quasi_poisson() -> None:
    counts = np.array([10] * 20 + [30] * 20)
    weekdays = np.arange(40) % 7
    estimate = fit_step(counts, np.full(40, 10), weekdays, np.arange(40) >= 20)
    assert not isinstance(estimate, str)
    assert estimate.rate_ratio == pytest.approx(3.0)
    assert estimate.ci_low > 2 and estimate.p < 1e-10
    if estimate.method != "negative-binomial":
        assert estimate.method == "quasi-poisson" and "did not converge" in estimate.note


def test_no_events_on_either_side_is_a_reason_not_a_crash() -> None:
    assert fit_step(np.zeros(20, dtype=int), np.full(20, 3), np.arange(20) % 7,
                    np.arange(20) >= 10) == "no events on either side of the change"


def test_injected_decrease_and_increase_among_noise() -> None:
    steps = [InjectedStep(3, 150, 3.0), InjectedStep(8, 220, 0.3)]
    report = find_trends(synthetic_table(series=30, days=365, seed=4, median_daily=40, steps=steps))
    found = {(f.key, f.direction) for f in report.findings}
    assert found == {(("C003",), "increase"), (("C008",), "decrease")}


def test_settings_reject_nonsense_with_one_line() -> None:
    with pytest.raises(ConfigError, match="min_sustained_days = 0"):
        TrendSettings(min_sustained_days=0)
    with pytest.raises(ConfigError, match="alpha"):
        TrendSettings(alpha=1.5)
