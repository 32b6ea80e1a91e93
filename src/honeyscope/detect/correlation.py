"""Sigma correlation rules over a sliding window of event time (never the wall clock).

State is per correlation and per group (the values of its ``group-by`` fields) and bounded: at most
``max_groups`` groups (least recently seen evicted first), and per group at most ``count + 1`` entries —
enough to decide any comparison with ``count``. Windows slide on the latest event time seen for the
group, so replaying a day of events gives the same answers as seeing them live.
"""

from __future__ import annotations

import operator
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Final

from honeyscope.detect.fields import EventView
from honeyscope.detect.rules import CompiledCorrelation

_COMPARE: Final[dict[str, Callable[[int, int], bool]]] = {
    "gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt, "eq": operator.eq,
    "neq": operator.ne,
}
GroupKey = tuple[str, ...]


class CorrelationState:
    """The running state of one correlation rule."""

    def __init__(self, correlation: CompiledCorrelation, max_groups: int = 50_000) -> None:
        self.correlation = correlation
        self.max_groups = max_groups
        self._compare: Callable[[int, int], bool] = _COMPARE.get(correlation.op) or operator.ge
        self._keep = max(1, correlation.count + 1)
        self._groups: OrderedDict[GroupKey, _Group] = OrderedDict()

    def __len__(self) -> int:
        return len(self._groups)

    def clear(self) -> None:
        """Forget every group (a fresh start, e.g. between independent replays)."""
        self._groups.clear()

    def observe(self, rule_id: str, view: EventView, when: float) -> str | None:
        """Feed an event that matched ``rule_id``; returns evidence when the correlation now holds."""
        key = tuple(next(iter(view.values(name)), "") for name in self.correlation.group_by)
        group = self._groups.get(key)
        if group is None:
            group = _Group(len(self.correlation.rules))
            self._groups[key] = group
            if len(self._groups) > self.max_groups:
                self._groups.popitem(last=False)
        else:
            self._groups.move_to_end(key)
        group.latest = max(group.latest, when)
        cutoff = group.latest - self.correlation.timespan
        kind = self.correlation.kind
        if kind == "event_count":
            return self._event_count(group, when, cutoff)
        if kind == "value_count":
            return self._value_count(group, view, when, cutoff)
        return self._temporal(group, rule_id, when, cutoff, ordered=kind == "temporal_ordered")

    def _event_count(self, group: _Group, when: float, cutoff: float) -> str | None:
        times = group.times
        times.append(when)
        while times and times[0] < cutoff:
            times.popleft()
        while len(times) > self._keep:
            times.popleft()
        if not self._compare(len(times), self.correlation.count):
            return None
        return f"{len(times)} matching events within {self.correlation.timespan:g}s"

    def _value_count(self, group: _Group, view: EventView, when: float, cutoff: float) -> str | None:
        name = self.correlation.value_field or ""
        values = view.values(name)
        if not values:
            return None
        seen = group.values
        for value in values:
            seen[value] = when
            seen.move_to_end(value)
        for value in [value for value, last in seen.items() if last < cutoff]:
            del seen[value]
        while len(seen) > self._keep:
            seen.popitem(last=False)
        if not self._compare(len(seen), self.correlation.count):
            return None
        shown = ", ".join(list(seen)[-5:])
        return f"{len(seen)} distinct {name} within {self.correlation.timespan:g}s (latest: {shown})"

    def _temporal(self, group: _Group, rule_id: str, when: float, cutoff: float, *, ordered: bool) -> str | None:
        rules = self.correlation.rules
        for index in reversed([i for i, name in enumerate(rules) if name == rule_id]):
            if not ordered:
                group.starts[index] = when
            elif index == 0:
                group.starts[0] = when
            elif group.starts[index - 1] is not None:
                # The chain through this rule starts where the chain up to the previous rule started.
                group.starts[index] = group.starts[index - 1]
        starts = group.starts
        if ordered:
            first = starts[-1]
            complete = first is not None and first >= cutoff
        else:
            complete = all(start is not None and start >= cutoff for start in starts)
        if not complete:
            return None
        word = "in order " if ordered else ""
        return f"all {len(rules)} rules matched {word}within {self.correlation.timespan:g}s"


class _Group:
    __slots__ = ("latest", "starts", "times", "values")

    def __init__(self, rules: int) -> None:
        self.latest = float("-inf")
        self.times: deque[float] = deque()
        self.values: OrderedDict[str, float] = OrderedDict()
        self.starts: list[float | None] = [None] * rules
