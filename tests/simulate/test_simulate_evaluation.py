"""The analysis recovers the small run's ground truth; noise alone is neither a trend nor HAFNIUM."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import msgspec
import pytest

from honeyscope.analysis.trends import TrendSettings, find_trends
from honeyscope.cli.main import main
from honeyscope.simulate.evaluate import (
    Evaluation,
    Thresholds,
    noise_only_check,
    pair_table,
    run_attribution,
    score_attribution,
    violations,
)

from .conftest import Run
from .test_simulate_store import open_run_store


def test_trends_find_the_cn_proxylogon_increase(small_run: Run) -> None:
    store = open_run_store(small_run.data)
    try:
        report = find_trends(pair_table(store), TrendSettings())
    finally:
        store.close()
    found = [f for f in report.findings if f.key == ("CN", "CVE-2021-26855") and f.direction == "increase"]
    assert found, [f.sentence for f in report.findings]
    assert abs((found[0].onset - date(2021, 3, 3)).days) <= 2
    assert found[0].sentence.startswith("attacks from CN using CVE-2021-26855")


def test_attribution_names_hafnium_and_nobody_wrongly(small_run: Run) -> None:
    store = open_run_store(small_run.data)
    try:
        sessions, clusters, report = run_attribution(store, small_run.data)
    finally:
        store.close()
    score = score_attribution(small_run.truth, sessions, clusters, report)
    by_actor = {actor.actor: actor for actor in score.actors}
    assert by_actor["hafnium"].precision == 1.0 and by_actor["hafnium"].recall == 1.0
    assert by_actor["tick"].precision == 1.0 and (by_actor["tick"].recall or 0) >= 0.5
    assert score.wrong_high == 0
    hafnium = [r for r in report.clusters if r.actor == "hafnium"]
    assert hafnium and all((r.confidence or 0) >= 70 for r in hafnium)
    scanner = next(c for c in small_run.truth.campaigns if c.id == "cn-noisy-scanner")
    assert not [r for r in report.clusters if set(r.source_ips) & set(scanner.source_ips) and r.actor]


def test_noise_only_is_not_hafnium_and_raises_no_alarm(small_run: Run) -> None:
    noise = noise_only_check(small_run.data, small_run.truth, None, 30)
    assert noise.hafnium_attributions == 0 and noise.high_attributions == 0
    assert noise.countries == 5 and noise.country_days == 5 * 30
    assert noise.false_alarms_per_1000 <= 1.0


def test_evaluate_command_prints_scores_and_exits_by_thresholds(small_run: Run,
                                                                 capfd: pytest.CaptureFixture[str]) -> None:
    status = main(["evaluate", "--data", str(small_run.data), "--json"])
    evaluation = msgspec.json.decode(capfd.readouterr().out, type=Evaluation)
    assert status == (1 if evaluation.violations else 0)
    assert evaluation.attribution is not None and evaluation.attribution.wrong_high == 0
    hafnium = next(a for a in evaluation.attribution.actors if a.actor == "hafnium")
    assert hafnium.precision == hafnium.recall == 1.0
    assert evaluation.trends is not None
    assert any(s.key == ["CN", "CVE-2021-26855"] and s.found and s.delay for s in evaluation.trends.series)
    strict = msgspec.structs.replace(evaluation, thresholds=Thresholds(min_precision=1.01, max_median_delay=1))
    missed = violations(strict, small_run.truth)
    assert any("precision" in line for line in missed) and any("delay" in line for line in missed)


def test_commands_refuse_bad_input_in_one_line(small_run: Run, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--data", str(small_run.data), "--days", "2"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [f"honeyscope: error: the store of {small_run.data} already holds {small_run.truth.events} events "
                     "— simulate into an empty --data directory (a simulation's ground truth must describe the whole "
                     "store)"]
    assert main(["evaluate", "--data", str(tmp_path / "nothing")]) == 2
    assert "no ground truth" in capsys.readouterr().err
    assert main(["simulate", "--data", str(tmp_path / "x"), "--start", "March"]) == 2
    assert "--start March: not a date" in capsys.readouterr().err
    assert main(["simulate", "--print-scenario"]) == 0
    assert "hafnium" in capsys.readouterr().out
