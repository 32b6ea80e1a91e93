"""The options of the trend analysis (``[trends]`` in the settings file), with the defaults docs/trends.md
justifies.

``honeyscope.config`` imports this module for ``[trends]``: it takes nothing from there at import time
(``ConfigError`` is imported when a value is refused), and the package imports nothing heavy on the way.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class TrendSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[trends]``: how series are screened, tested and turned into findings."""

    #: A finding needs the changed rate to hold for at least this many observed days after onset.
    min_sustained_days: int = 7
    #: Series with fewer events over the period are not tested (too few to tell anything).
    min_total_events: int = 50
    #: Periods with fewer days of exposure (at least one active sensor) are not analysed.
    min_observed_days: int = 14
    #: Shortest segment the change-point search may cut (days with exposure).
    min_segment_days: int = 5
    #: Change-point penalty β in ``β · σ² · ln n`` (σ² the series' noise variance on the log scale);
    #: larger means fewer candidate changes. 4 keeps noise-only series almost free of candidates.
    penalty: float = 4.0
    #: Family-wise error (Bonferroni) or false-discovery rate (Benjamini–Hochberg) over all tests.
    alpha: float = 0.05
    correction: Literal["bonferroni", "bh"] = "bonferroni"
    #: Candidate changes tested per series at most (largest jumps first).
    max_changes_per_series: int = 5

    def __post_init__(self) -> None:
        from honeyscope.config import ConfigError

        for name in ("min_sustained_days", "min_total_events", "min_observed_days", "min_segment_days",
                     "max_changes_per_series"):
            if getattr(self, name) < 1:
                raise ConfigError(f"trends.{name} = {getattr(self, name)} — it must be at least 1")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"trends.alpha = {self.alpha} — it must lie between 0 and 1, e.g. 0.05")
        if self.penalty <= 0:
            raise ConfigError(f"trends.penalty = {self.penalty} — it must be positive, e.g. 4")
