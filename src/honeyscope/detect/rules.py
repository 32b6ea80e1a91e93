"""Loaded, compiled rules and the problems found while loading them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from honeyscope.detect.compiler import Predicate, Tree


@dataclass(frozen=True, slots=True)
class Problem:
    """One load problem: ``path:line: message`` (warnings say so)."""

    path: str
    line: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}: {prefix}{self.message}"


@dataclass(slots=True)
class RuleMeta:
    """What a detection says about the rule that made it."""

    rule_id: str
    title: str
    severity: str
    cves: list[str]
    techniques: list[str]
    stage: str | None
    path: str
    line: int
    #: The rule's ``name`` (correlations may refer to it by name).
    name: str | None = None


@dataclass(slots=True)
class CompiledRule:
    """A Sigma detection rule ready to run."""

    meta: RuleMeta
    tree: Tree
    match: Predicate
    #: Groups of (field, literal): the rule can only match when every group has a literal in the request;
    #: empty = evaluate on every event.
    requirement: list[list[tuple[str, str]]]
    #: False when the rule only feeds correlations (Sigma ``generate: false``, the default).
    generate: bool = True


@dataclass(slots=True)
class CompiledCorrelation:
    """A Sigma correlation rule (event_count, value_count, temporal, temporal_ordered)."""

    meta: RuleMeta
    kind: str
    #: ``meta.rule_id`` of the referenced rules, in the rule's order.
    rules: list[str]
    group_by: list[str]
    timespan: float
    #: Comparison of the count (``gte``, ``gt``, ``lte``, ``lt``, ``eq``, ``neq``) and its bound.
    op: str = "gte"
    count: int = 1
    #: value_count: the field whose distinct values are counted.
    value_field: str | None = None


@dataclass(slots=True)
class RuleSet:
    """The result of ``load_rules``: what loaded, and what did not (``errors``) or may not do what its
    author meant (``warnings``)."""

    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[CompiledCorrelation] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    #: Rule files read.
    files: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rules) + len(self.correlations)

    def by_id(self, rule_id: str) -> RuleMeta | None:
        """Metadata of a rule or correlation by id."""
        items: list[CompiledRule | CompiledCorrelation] = [*self.rules, *self.correlations]
        for item in items:
            if item.meta.rule_id == rule_id:
                return item.meta
        return None
