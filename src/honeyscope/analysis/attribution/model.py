"""The scoring model: evidence weights as log10 likelihood ratios, caps, prior and thresholds.

For each actor profile H, evidence items e add ``log10 P(e | H) / P(e | not H)``; independence is assumed
(naive Bayes), so each evidence class is capped to limit double counting of correlated items. An item shared
by k profiles (the same indicator on several lists, a CVE many groups exploit, a country many actors are
attributed to) cannot tell them apart: its weight is ``base − log10(k)``, and it counts only above zero.
``posterior odds = prior odds × 10^(sum of capped weights)``; confidence = round(100 × posterior), at most 99.
docs/attribution.md explains each number.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

#: ``indicator``: an exact match on published infrastructure or artefacts; ``tool``: tool and TTP overlap;
#: ``context``: timing and geography (never sufficient alone).
EvidenceClass = Literal["indicator", "tool", "context"]

#: Evidence kind → its class.
EVIDENCE_CLASS: Final[dict[str, EvidenceClass]] = {
    "ip": "indicator", "cidr": "indicator", "domain": "indicator", "url": "indicator", "sha256": "indicator",
    "sha1": "indicator", "md5": "indicator", "webshell_path": "indicator", "webshell_name": "indicator",
    "shell_key": "indicator", "webshell_probe": "indicator",
    "user_agent": "tool", "request_path": "tool", "cve": "tool", "technique": "tool", "chain": "tool",
    "window": "context", "geography": "context",
}


class AttributionModel(msgspec.Struct, frozen=True, kw_only=True):
    """Every number the scoring uses; the defaults are the documented model."""

    #: log10 prior odds that a given profile is behind a cluster (1:100).
    prior: float = -2.0
    #: Base weight (log10 LR) of each evidence kind before the shared-by-k correction.
    weights: dict[str, float] = msgspec.field(default_factory=lambda: {
        "ip": 2.0, "cidr": 1.5, "domain": 2.0, "url": 1.5, "sha256": 2.0, "sha1": 2.0, "md5": 2.0,
        "webshell_path": 1.5, "webshell_name": 1.0, "shell_key": 1.5, "webshell_probe": 0.5,
        "user_agent": 0.7, "request_path": 0.5, "cve": 0.4, "technique": 0.3, "chain": 0.3,
        "window": 0.5, "geography": 0.3,
    })
    #: Most each class may add (log10).
    caps: dict[str, float] = msgspec.field(default_factory=lambda: {"indicator": 4.0, "tool": 1.0, "context": 0.5})
    #: Smallest confidence that names an actor (30 = the lower bound of STIX "Med").
    min_confidence: int = 30
    #: A cluster probing more known web-shell paths than this is sweeping a list, not visiting its own.
    max_probe_paths: int = 3
    #: Fraction of an actor's reported chain the cluster must follow, in order, to count as chain evidence.
    min_chain_ratio: float = 0.5
    #: Alternative hypotheses reported beside the best.
    alternatives: int = 3

    def __post_init__(self) -> None:
        missing = set(EVIDENCE_CLASS) - set(self.weights)
        if missing:
            raise ValueError(f"weights missing for evidence kinds {sorted(missing)}")
        if not 0 <= self.min_confidence <= 100:
            raise ValueError(f"min_confidence must be 0..100, got {self.min_confidence}")
