"""Attribution: each activity cluster scored against each actor profile, with evidence and a confidence.

    report = attribute(build_clusters(sessions), load_knowledge())
    for result in report.clusters:
        print(result.actor or "unattributed", result.confidence, result.level, result.reason)

The model (log10 likelihood ratios, caps, prior, the STIX 2.1 / ICD 203 words): docs/attribution.md.
Geography is reported and weighed, but never attributes by itself; "unattributed" is a valid answer.
"""

from honeyscope.analysis.attribution.confidence import dni_words, stix_level
from honeyscope.analysis.attribution.model import EVIDENCE_CLASS, AttributionModel
from honeyscope.analysis.attribution.score import (
    Attribution,
    AttributionReport,
    Evidence,
    Hypothesis,
    attribute,
    judge,
)

__all__ = [
    "EVIDENCE_CLASS",
    "Attribution",
    "AttributionModel",
    "AttributionReport",
    "Evidence",
    "Hypothesis",
    "attribute",
    "dni_words",
    "judge",
    "stix_level",
]
