"""Mann–Kendall trend test, Hamed–Rao variant (``pymannkendall``).

Daily attack rates are serially correlated (a campaign lasts days to weeks), which makes the original
Mann–Kendall test report trends that are not there. Hamed and Rao (1998) correct the variance of the
S statistic with the effective sample size estimated from the autocorrelation of the ranks, with no lag
to choose. The seasonal variant (period 7) would handle weekday effects but not this persistence; the
weekday effects are removed from the signal beforehand (``changepoint.remove_weekday``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import pymannkendall as mk  # type: ignore[import-untyped,unused-ignore]

from honeyscope.analysis.trends.changepoint import FloatArray


@dataclass(frozen=True, slots=True)
class MonotonicTrend:
    """``increasing``, ``decreasing`` or ``no trend`` (at the 5% level) and the test's p-value."""

    trend: str
    p: float


def mann_kendall(signal: FloatArray) -> MonotonicTrend:
    """Hamed–Rao modified Mann–Kendall test over the series in time order."""
    if signal.size < 4 or float(signal.max()) == float(signal.min()):
        return MonotonicTrend("no trend", 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # divisions by zero on long runs of ties; p is checked below
        result = mk.hamed_rao_modification_test(signal)
    p = float(result.p)
    if not math.isfinite(p):
        return MonotonicTrend("no trend", 1.0)
    return MonotonicTrend(str(result.trend), p)
