"""Attribution as the exporters take it: one attributed activity cluster, with its evidence and confidence.

The STIX and MISP exporters take ``AttributedCluster`` values, a small struct of our own, so they do not
depend on the analysis package's internals; ``from_attribution`` builds them from what
``honeyscope attribute`` computes (``AttributionReport`` + the clusters + the knowledge base).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec

from honeyscope.events.schema import Event

if TYPE_CHECKING:
    from honeyscope.analysis.attribution import AttributionReport
    from honeyscope.analysis.clusters import Cluster
    from honeyscope.analysis.knowledge.model import KnowledgeBase

__all__ = ["ActorEvidence", "AttributedCluster", "attribute_events", "from_attribution"]


class ActorEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """One reason for the attribution: what was observed and the public source tying it to the actor."""

    #: ``ip``, ``user_agent``, ``request_path``, ``webshell_path``, ``cve``, ``technique``, ``window`` …
    kind: str
    value: str
    #: The publication that ties the value to the actor, and where to read it.
    source: str = ""
    url: str = ""
    #: The evidence's weight in the model (log10 likelihood ratio), when known.
    weight: float | None = None


class AttributedCluster(msgspec.Struct, frozen=True, kw_only=True):
    """An activity cluster (linked attacker sessions) attributed to an actor with a STIX 2.1 confidence."""

    cluster_id: str
    #: Stable key of the actor (e.g. ``hafnium``): the STIX intrusion set's id is derived from it.
    actor_id: str
    actor_name: str
    synonyms: list[str] = msgspec.field(default_factory=list)
    #: 0–100, STIX 2.1 scale (None 0, Low 1–29, Med 30–69, High 70–100).
    confidence: int
    evidence: list[ActorEvidence] = msgspec.field(default_factory=list)
    session_ids: list[str] = msgspec.field(default_factory=list)
    source_ips: list[str] = msgspec.field(default_factory=list)
    first_seen: datetime
    last_seen: datetime
    cves: list[str] = msgspec.field(default_factory=list)
    techniques: list[str] = msgspec.field(default_factory=list)
    #: ATT&CK group id (``G0125``), when known.
    attack_group: str | None = None
    #: The MISP galaxy threat-actor value (``HAFNIUM``) for ``misp-galaxy:threat-actor`` tags.
    galaxy_name: str | None = None
    #: Which STIX object names the actor.
    actor_type: Literal["intrusion-set", "threat-actor"] = "intrusion-set"
    #: One line: why this actor (the analysis' reason).
    reason: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.confidence <= 100:
            raise ValueError(f"confidence must be 0..100 (STIX 2.1), got {self.confidence}")


def from_attribution(report: AttributionReport, clusters: Sequence[Cluster],
                     knowledge: KnowledgeBase) -> list[AttributedCluster]:
    """The attributed clusters of ``report`` (unattributed ones are left out), in the report's order."""
    by_id = {cluster.id: cluster for cluster in clusters}
    galaxy = _galaxy_by_uuid() if knowledge.galaxy_version else {}
    found: list[AttributedCluster] = []
    for result in report.clusters:
        if result.actor is None or result.confidence is None or result.best is None:
            continue
        cluster = by_id.get(result.cluster)
        profile = knowledge.actors.get(result.actor)
        matches = [galaxy[u] for u in (profile.galaxy if profile else []) if u in galaxy]
        evidence = [ActorEvidence(kind=e.kind, value=e.value, source=e.source, url=e.url, weight=e.weight)
                    for e in result.best.evidence]
        found.append(AttributedCluster(
            cluster_id=result.cluster, actor_id=result.actor, actor_name=result.actor_name or result.actor,
            synonyms=list(profile.synonyms) if profile else [], confidence=result.confidence, evidence=evidence,
            session_ids=list(cluster.sessions) if cluster else [],
            source_ips=list(cluster.source_ips if cluster else result.source_ips),
            first_seen=result.first_seen, last_seen=result.last_seen,
            cves=list(cluster.cves) if cluster else [], techniques=list(cluster.techniques) if cluster else [],
            attack_group=next((g for m in matches for g in m[1]), None),
            galaxy_name=matches[0][0] if matches else None, reason=result.reason))
    return found


def attribute_events(events: Iterable[Event], *, intel: Sequence[Path] = ()) -> list[AttributedCluster]:
    """What ``honeyscope attribute`` concludes about ``events`` (in time order): sessions → clusters →
    attribution against the built-in intel, the MISP galaxy and ``intel`` files. Unattributed clusters are
    left out. Raises ``honeyscope.analysis.knowledge.IntelError`` for a broken intel file."""
    from honeyscope.analysis.attribution import attribute
    from honeyscope.analysis.clusters import build_clusters
    from honeyscope.analysis.knowledge import load_knowledge
    from honeyscope.analysis.sessions import SessionBuilder

    builder = SessionBuilder()
    sessions = [summary for event in events for summary in builder.add(event)]
    sessions += builder.finish()
    if not sessions:
        return []
    clusters = build_clusters(sessions)
    knowledge = load_knowledge(intel)
    return from_attribution(attribute(clusters, knowledge), clusters, knowledge)


def _galaxy_by_uuid() -> dict[str, tuple[str, list[str]]]:
    """Galaxy cluster uuid → (threat-actor value, ATT&CK group ids)."""
    from honeyscope.analysis.knowledge.galaxy import load_galaxy

    return {uuid: (actor.name, actor.groups) for actor in load_galaxy().actors for uuid in actor.uuids}
