"""Candidate changes: each change point, widened to the run of segments on either side of it.

PELT may cut one plateau in two (3× then 3.3×); a candidate therefore takes, after the change, every
following segment whose level stays on the changed side of the midpoint between the two levels, and,
before it, every preceding segment on the other side. The widened windows are what the rate-ratio
model compares and what "sustained" counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from honeyscope.analysis.trends.changepoint import FloatArray, Segment

Direction = Literal["increase", "decrease"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A change at observed day ``change``: baseline ``[start, change)``, changed ``[change, stop)``."""

    start: int
    change: int
    stop: int
    direction: Direction
    #: |level after − level before| on the log scale: used to rank candidates.
    jump: float
    #: The median day after the change is on the changed side of the midpoint (not a few spikes).
    persistent: bool


def candidates(segments: list[Segment], signal: FloatArray, limit: int) -> list[Candidate]:
    """The ``limit`` largest changes between consecutive segments, widened as described above."""
    found = [_widen(segments, index, signal) for index in range(1, len(segments))]
    found.sort(key=lambda candidate: candidate.jump, reverse=True)
    return found[:limit]


def _widen(segments: list[Segment], index: int, signal: FloatArray) -> Candidate:
    before, after = segments[index - 1].level, segments[index].level
    midpoint = (before + after) / 2.0
    sign = 1.0 if after > before else -1.0

    def changed(segment: Segment) -> bool:
        return sign * (segment.level - midpoint) > 0

    last = index
    while last + 1 < len(segments) and changed(segments[last + 1]):
        last += 1
    first = index - 1
    while first > 0 and not changed(segments[first - 1]):
        first -= 1
    change, stop = segments[index].start, segments[last].stop
    median_after = float(np.median(signal[change:stop]))
    return Candidate(start=segments[first].start, change=change, stop=stop,
                     direction="increase" if sign > 0 else "decrease", jump=abs(after - before),
                     persistent=sign * (median_after - midpoint) > 0)
