"""Detection: Sigma rules evaluated in-process on ``http.request`` events.

    rules = load_rules([*builtin_rule_paths(), "/etc/honeyscope/sigma"])
    for problem in rules.errors + rules.warnings:
        print(problem)                      # path:line: message
    detector = Detector(rules)
    detector.detect_batch(events)           # sets event.honeyscope.detections, never raises

Field mapping, modifiers, correlations and regex bounds: docs/detection.md.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from honeyscope.detect.engine import Detector
from honeyscope.detect.loader import load_rules
from honeyscope.detect.rules import Problem, RuleSet


def builtin_rule_paths() -> list[Path]:
    """The Sigma rule pack shipped with honeyscope (``honeyscope/rules/sigma``)."""
    return [Path(str(files("honeyscope").joinpath("rules", "sigma")))]


__all__ = ["Detector", "Problem", "RuleSet", "builtin_rule_paths", "load_rules"]
