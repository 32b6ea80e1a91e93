"""Attribution as STIX 2.1: each attributed cluster a ``campaign``, ``attributed-to`` the actor with a confidence.

    campaign (activity cluster) ──attributed-to (confidence, evidence, sources)──▶ intrusion-set / threat-actor
    indicator (source address) ──indicates──▶ campaign ──uses──▶ attack-pattern, ──targets──▶ vulnerability

The relationship carries the STIX 2.1 ``confidence`` (0–100), a description naming the level (None/Low/Med/High),
the DNI words and each evidence item, and the evidence's public sources as external references.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Final

from honeyscope.analysis.attribution.confidence import dni_words, stix_level
from honeyscope.share.stix.actors import AttributedCluster
from honeyscope.share.stix.attack import cve_id, technique_id
from honeyscope.share.stix.ids import object_id, stix_time
from honeyscope.share.stix.objects import StixFactory
from honeyscope.share.stix.observables import parse_address
from honeyscope.share.stix.text import clean

__all__ = ["attribution_objects"]

#: Evidence items and references written on an ``attributed-to`` relationship.
_MAX_EVIDENCE: Final = 20

#: Writes an object once (if its id was not written yet) with the time it became known.
Once = Callable[[dict[str, Any], datetime], Iterator[Any]]


def attribution_objects(factory: StixFactory, cluster: AttributedCluster, once: Once,
                        written: set[str]) -> Iterator[Any]:
    """The cluster's campaign, actor and relationships; indicators link only when ``written`` has them."""
    first, last = cluster.first_seen, cluster.last_seen
    campaign = factory.campaign(
        cluster.cluster_id, name=f"honeyscope activity cluster {cluster.cluster_id}",
        description=f"{len(cluster.session_ids)} attacker session(s) from {len(cluster.source_ips)} address(es) "
                    "linked by shared infrastructure, tools and payloads (honeyscope clustering). "
                    + clean(cluster.reason, 500),
        first=first, last=last)
    yield from once(campaign, last)
    actor = factory.actor(cluster.actor_type, cluster.actor_id, name=clean(cluster.actor_name, 256),
                          aliases=[clean(s, 256) for s in cluster.synonyms], attack_group=cluster.attack_group,
                          description="")
    yield from once(actor, first)
    yield from once(_attributed_to(factory, cluster, campaign["id"], actor["id"]), last)
    created = stix_time(first)
    for address in cluster.source_ips:
        parsed = parse_address(address)
        indicator = object_id("indicator", "ip", str(parsed)) if parsed else ""
        if indicator in written:
            yield from once(factory.relationship("indicates", indicator, campaign["id"], created=created), first)
    targets = [("uses", factory.attack_pattern(t)) for t in map(technique_id, cluster.techniques) if t]
    targets += [("targets", factory.vulnerability(c)) for c in map(cve_id, cluster.cves) if c]
    for kind, target in targets:
        yield from once(target, first)
        yield from once(factory.relationship(kind, campaign["id"], target["id"], created=created), first)


def _attributed_to(factory: StixFactory, cluster: AttributedCluster, campaign: str, actor: str) -> dict[str, Any]:
    evidence = cluster.evidence[:_MAX_EVIDENCE]
    items = "; ".join(f"{clean(e.kind, 40)} {clean(e.value, 200)}" + (f" ({clean(e.source, 200)})" if e.source else "")
                      for e in evidence)
    description = (f"{clean(cluster.actor_name, 256)}: {stix_level(cluster.confidence)} confidence "
                   f"({cluster.confidence}, {dni_words(cluster.confidence)}). Evidence: {items or 'none listed'}")
    references: dict[str, dict[str, str]] = {}
    for item in evidence:
        if item.url.startswith(("https://", "http://")) and item.url not in references:
            references[item.url] = {"source_name": clean(item.source or "source", 200), "url": clean(item.url, 2048)}
    extra: dict[str, Any] = {"confidence": cluster.confidence, "description": clean(description, 8192)}
    if references:
        extra["external_references"] = list(references.values())
    return factory.relationship("attributed-to", campaign, actor, created=stix_time(cluster.first_seen),
                                modified=stix_time(cluster.last_seen), **extra)
