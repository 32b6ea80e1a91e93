"""Change points of one series' rate: PELT (``ruptures``) on the weekday-adjusted log rate.

The signal is ``log((count + 0.5) / exposure)`` over the days with exposure: the log makes a 3× rise
the same step at any volume and tames the heavy right tail of overdispersed counts; ``+ 0.5`` keeps
zero days finite. Day-of-week effects are removed first (``remove_weekday``), since they would otherwise
inflate the noise estimate. The search is PELT with an l2 cost (ruptures' ``KernelCPD`` with a linear
kernel: the same cost, in C) and the penalty ``β · σ² · ln n``, where σ is the noise standard
deviation estimated robustly from first differences (a step moves one difference only). β = 4 (vs 2
for the plain BIC) is chosen so that noise alone rarely yields a candidate; see docs/trends.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import ruptures as rpt  # type: ignore[import-untyped,unused-ignore]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: MAD → standard deviation for normal noise, and √2 because a difference holds two noise terms.
_MAD_TO_SD = 1.4826 / math.sqrt(2.0)
_WEEK = 7


@dataclass(frozen=True, slots=True)
class Segment:
    """Days ``[start, stop)`` of the observed-day series and the mean of the signal over them."""

    start: int
    stop: int
    level: float


def log_rate(counts: IntArray, exposure: IntArray) -> FloatArray:
    """Daily log events per active sensor; ``exposure`` must be positive (outages removed)."""
    return np.log((counts + 0.5) / exposure)


def remove_weekday(values: FloatArray, weekdays: IntArray) -> FloatArray:
    """Subtract each weekday's effect: the median of its residuals from a centred 7-day rolling median.

    Residuals from a local level keep the estimate robust to a step (weekday medians of the raw series
    are not: when a step splits a weekday's days half and half, its median jumps to either side).
    ``values`` is one series or a matrix of series (rows) over the same days — one pass for all rows."""
    if values.shape[-1] < 2 * _WEEK:
        return values.copy()
    pad = [(0, 0)] * (values.ndim - 1) + [(_WEEK // 2, _WEEK // 2)]
    level = np.median(np.lib.stride_tricks.sliding_window_view(np.pad(values, pad, mode="edge"), _WEEK, axis=-1),
                      axis=-1)
    residual = values - level
    effects = np.zeros((*values.shape[:-1], _WEEK))
    for weekday in range(_WEEK):
        mask = weekdays == weekday
        if mask.any():
            effects[..., weekday] = np.median(residual[..., mask], axis=-1)
    effects -= effects.mean(axis=-1, keepdims=True)
    adjusted: FloatArray = values - effects[..., weekdays]
    return adjusted


def noise_sd(values: FloatArray, counts: IntArray) -> float:
    """Noise standard deviation from first differences: their MAD when informative, else their SD.

    Pairs of days that both have no event are left out: the log is not variance-stabilising near zero,
    and a long run of empty days (a CVE before its first exploitation) would otherwise shrink the
    estimate — and the penalty — to nothing and cut the active part into pieces."""
    informative = (counts[1:] > 0) | (counts[:-1] > 0)
    differences = np.diff(values)[informative]
    if differences.size < 3:
        return 0.0
    mad = float(np.median(np.abs(differences - np.median(differences))))
    if mad > 0:
        return mad * _MAD_TO_SD
    return float(np.std(differences)) / math.sqrt(2.0)


def find_segments(signal: FloatArray, counts: IntArray, *, penalty: float, min_size: int) -> list[Segment]:
    """Split ``signal`` (from ``counts``) where its mean shifts; one segment when nothing stands out."""
    n = signal.size
    sd = noise_sd(signal, counts)
    if n < 2 * min_size or sd == 0.0:
        return [Segment(0, n, float(signal.mean()) if n else 0.0)]
    search = rpt.KernelCPD(kernel="linear", min_size=min_size).fit(signal.reshape(-1, 1))
    ends = [int(end) for end in search.predict(pen=penalty * sd * sd * math.log(n))]
    starts = [0, *ends[:-1]]
    return [Segment(start, stop, float(signal[start:stop].mean())) for start, stop in zip(starts, ends, strict=True)]
