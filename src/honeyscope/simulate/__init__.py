"""Seeded, reproducible traffic with a ground truth, and how well the analysis recovers it.

    scenario = with_period(load_scenario(None), days=30)          # the built-in scenario, 30 days
    report = simulate(Path("data"), scenario, seed=7, scenario_text=DEFAULT_SCENARIO)
    evaluation = evaluate(Path("data"), noise_check=True)         # attribution and trend scores

``store`` mode plays each distinct request through the real Exchange persona once, clones its events for
every visit and runs the collector's enrichment and detection before writing the store; ``sensor`` mode
sends the requests to a running decoy over loopback. See docs/simulate.md.
"""

from honeyscope.simulate.default import DEFAULT_SCENARIO
from honeyscope.simulate.evaluate import Evaluation, Thresholds, evaluate
from honeyscope.simulate.run import SimulationReport, simulate
from honeyscope.simulate.scenario import Scenario, load_scenario, noise_only, parse_scenario, with_period
from honeyscope.simulate.truth import GroundTruth, read_truth

__all__ = [
    "DEFAULT_SCENARIO",
    "Evaluation",
    "GroundTruth",
    "Scenario",
    "SimulationReport",
    "Thresholds",
    "evaluate",
    "load_scenario",
    "noise_only",
    "parse_scenario",
    "read_truth",
    "simulate",
    "with_period",
]
