"""Score activity clusters against actor profiles and decide: an actor with a confidence, or unattributed.

    report = attribute(clusters, knowledge)          # AttributionReport
    for result in report.clusters: result.actor, result.confidence, result.evidence, result.hypotheses

Only profiles that an indicator or a tool/TTP item points at become hypotheses; timing and geography are then
added to those as context. Context alone never makes a hypothesis, and a hypothesis with nothing but context
is never attributed, whatever the weights.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import PurePosixPath

import msgspec

from honeyscope.analysis.attribution.confidence import dni_words, stix_level
from honeyscope.analysis.attribution.index import Claimants, EvidenceIndex, build_index, specific_weight
from honeyscope.analysis.attribution.model import EVIDENCE_CLASS, AttributionModel
from honeyscope.analysis.clusters.build import Cluster
from honeyscope.analysis.knowledge.model import ActorProfile, KnowledgeBase, Source, normalize_user_agent

#: Evidence weighing less than this (after the shared-by-k correction) is left out.
_NEGLIGIBLE = 0.05


# gc=False: these structs hold strings, numbers, lists of those and other such structs, never a cycle;
# leaving them out of the cycle collector makes 100k-session runs faster (bench/attribution.py).
class Evidence(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One reason for a hypothesis: what was observed, the public source that ties it to the actor, its weight."""

    kind: str
    value: str
    weight: float
    category: str
    source: str
    url: str
    note: str = ""


class Hypothesis(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    actor: str
    name: str
    confidence: int
    level: str
    words: str
    #: log10 posterior odds.
    score: float
    evidence: list[Evidence]


class Attribution(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The judgement on one cluster. ``actor`` is None when it stays unattributed."""

    cluster: str
    sessions: int
    events: int
    source_ips: list[str]
    first_seen: datetime
    last_seen: datetime
    countries: list[str]
    scanners: list[str]
    actor: str | None
    actor_name: str | None
    confidence: int | None
    level: str | None
    words: str | None
    reason: str
    #: The strongest hypothesis (the attributed actor, or the lead when unattributed) with its evidence.
    best: Hypothesis | None
    #: The next-best hypotheses, strongest first.
    alternatives: list[Hypothesis]


class AttributionReport(msgspec.Struct, frozen=True, kw_only=True):
    clusters: list[Attribution]
    sessions: int
    attributed: int
    #: Set when there was nothing to judge (e.g. an empty store).
    message: str | None = None
    knowledge: list[str] = msgspec.field(default_factory=list)


def attribute(clusters: Sequence[Cluster], knowledge: KnowledgeBase,
              model: AttributionModel | None = None) -> AttributionReport:
    """Judge every cluster; clusters keep their order."""
    model = model or AttributionModel()
    provenance = [*knowledge.files, *([f"MISP galaxy ({knowledge.galaxy_version})"] if knowledge.galaxy_version
                                     else [])]
    if not clusters:
        return AttributionReport(clusters=[], sessions=0, attributed=0, knowledge=provenance,
                                 message="no sessions: the store holds no http.request or tls.handshake events "
                                         "for this period — nothing to attribute")
    index = build_index(knowledge)
    results = [judge(cluster, index, model) for cluster in clusters]
    return AttributionReport(clusters=results, sessions=sum(c.size for c in clusters),
                             attributed=sum(r.actor is not None for r in results), knowledge=provenance)


def judge(cluster: Cluster, index: EvidenceIndex, model: AttributionModel) -> Attribution:
    """Hypotheses for one cluster, best first, and the verdict."""
    found = _evidence(cluster, index, model)
    hypotheses = sorted((_hypothesis(index.actors[actor], items, model) for actor, items in found.items()),
                        key=lambda h: (-h.score, h.actor))
    best = hypotheses[0] if hypotheses else None
    named = best if best is not None and best.confidence >= model.min_confidence and \
        any(e.category != "context" for e in best.evidence) else None
    return Attribution(
        cluster=cluster.id, sessions=cluster.size, events=cluster.events, source_ips=cluster.source_ips[:20],
        first_seen=cluster.first_seen, last_seen=cluster.last_seen, countries=cluster.countries,
        scanners=cluster.scanners, actor=named.actor if named else None, actor_name=named.name if named else None,
        confidence=named.confidence if named else None, level=named.level if named else None,
        words=named.words if named else None, reason=_reason(best, named is not None, model), best=best,
        alternatives=hypotheses[1:1 + model.alternatives],
    )


def _reason(best: Hypothesis | None, attributed: bool, model: AttributionModel) -> str:
    if best is None:
        return "no indicator, tool or TTP of any profile matched (geography and timing alone never attribute)"
    if attributed:
        kinds = sorted({e.kind for e in best.evidence if e.category == "indicator"})
        return f"{best.name}: {best.level} confidence from " + (", ".join(kinds) if kinds else "tool/TTP overlap")
    if not any(e.category == "indicator" for e in best.evidence):
        return (f"lead only: {best.name} at {best.confidence} ({best.level}) on tool/TTP overlap and context; no "
                "exact indicator matched")
    return f"best hypothesis {best.name} at {best.confidence} ({best.level}) is below {model.min_confidence}"


def _hypothesis(profile: ActorProfile, items: list[Evidence], model: AttributionModel) -> Hypothesis:
    totals: dict[str, float] = {}
    for item in items:
        totals[item.category] = totals.get(item.category, 0.0) + item.weight
    evidence_sum = sum(min(total, model.caps.get(category, math.inf)) for category, total in totals.items())
    if "indicator" not in totals and "tool" not in totals:
        evidence_sum = 0.0  # context alone is no evidence of who
    score = model.prior + evidence_sum
    probability = 1.0 / (1.0 + 10 ** (-score))
    confidence = min(99, max(0, round(100 * probability)))
    ordered = sorted(items, key=lambda e: (-e.weight, e.kind, e.value))
    return Hypothesis(actor=profile.id, name=profile.name, confidence=confidence, level=stix_level(confidence),
                      words=dni_words(confidence), score=round(score, 3), evidence=ordered)


class _Collector:
    """Evidence per actor, keeping the strongest item per (actor, kind, value)."""

    def __init__(self, model: AttributionModel) -> None:
        self.model = model
        self.items: dict[str, dict[tuple[str, str], Evidence]] = {}

    def add(self, kind: str, observed: str, claimants: Claimants) -> None:
        """The item for every profile that claims it."""
        weight = round(specific_weight(self.model.weights[kind], claimants.count), 3)
        if weight < _NEGLIGIBLE:
            return
        for actor, source, note in claimants.entries:
            self.put(actor, kind, observed, weight, source, note)

    def weighted(self, actor: str, kind: str, observed: str, sharing: int, source: Source, *, scale: float = 1.0,
                 note: str = "") -> None:
        """One item for one actor whose value ``sharing`` profiles share."""
        weight = round(specific_weight(self.model.weights[kind] * scale, sharing), 3)
        if weight >= _NEGLIGIBLE:
            self.put(actor, kind, observed, weight, source, note)

    def put(self, actor: str, kind: str, observed: str, weight: float, source: Source, note: str = "") -> None:
        bucket = self.items.setdefault(actor, {})
        current = bucket.get((kind, observed))
        if current is None or current.weight < weight:
            bucket[(kind, observed)] = Evidence(kind=kind, value=observed, weight=weight,
                                                category=EVIDENCE_CLASS[kind], source=source.publication,
                                                url=source.url, note=note)


def _evidence(cluster: Cluster, index: EvidenceIndex, model: AttributionModel) -> dict[str, list[Evidence]]:
    found = _Collector(model)
    _indicators(cluster, index, found)
    _shells(cluster, index, model, found)
    _ttps(cluster, index, model, found)
    candidates = set(found.items)
    if candidates:
        _context(cluster, index, candidates, found)
    return {actor: list(items.values()) for actor, items in found.items.items()}


def _indicators(cluster: Cluster, index: EvidenceIndex, found: _Collector) -> None:
    hosts = [h for h in cluster.callbacks if not _is_ip(h)] if cluster.callbacks else []
    for address in [*cluster.source_ips, *(h for h in cluster.callbacks if _is_ip(h))]:
        # Sensors write socket addresses in canonical form; only IPv6 text needs normalising first.
        normal = _normal_ip(address) if ":" in address else address
        if normal is None:
            continue
        if (claimants := index.exact.get(("ip", normal))) is not None:
            found.add("ip", normal, claimants)
        if index.networks and _is_ip(normal):
            ip = ipaddress.ip_address(normal)
            for network, claimants in index.networks:
                if ip.version == network.version and ip in network:
                    found.add("cidr", f"{normal} in {network}", claimants)
    for host in hosts:
        labels = host.lower().split(".")
        for start in range(max(0, len(labels) - 6), len(labels) - 1):
            domain = ".".join(labels[start:])
            if (claimants := index.exact.get(("domain", domain))) is not None:
                found.add("domain", host, claimants)
        if (claimants := index.url_hosts.get(host.lower())) is not None:
            found.add("url", host, claimants)
    for digest in [*cluster.payload_sha256, *cluster.artifacts]:
        if (claimants := index.exact.get(("sha256", digest.lower()))) is not None:
            found.add("sha256", digest, claimants)
    for agent in cluster.user_agents:
        if (claimants := index.exact.get(("user_agent", _agent(agent)))) is not None:
            found.add("user_agent", agent, claimants)
    for path in {p.lower() for p in cluster.paths}:
        if (claimants := index.exact.get(("request_path", path))) is not None:
            found.add("request_path", path, claimants)
        for _, claimants in index.any_pattern("request_path", path):
            found.add("request_path", path, claimants)


def _shells(cluster: Cluster, index: EvidenceIndex, model: AttributionModel, found: _Collector) -> None:
    used = {p.lower() for p in cluster.webshells}
    for path in used:
        for claimants in _shell_claimants(path, index, "webshell_path"):
            found.add("webshell_path", path, claimants)
        for claimants in _shell_claimants(path, index, "webshell_name"):
            found.add("webshell_name", path, claimants)
    probes = {p.lower() for p in cluster.webshell_probes} - used
    if len(probes) <= model.max_probe_paths:
        for path in probes:
            for claimants in _shell_claimants(path, index, "webshell_path", "webshell_name"):
                found.add("webshell_probe", path, claimants)
    for key in cluster.shell_keys:
        if (keyed := index.exact.get(("shell_key", key[:128]))) is not None:
            found.add("shell_key", key, keyed)


def _shell_claimants(path: str, index: EvidenceIndex, *kinds: str) -> list[Claimants]:
    """Who claims a web-shell URL path: by the whole path (exact or pattern) and/or by its file name."""
    found: list[Claimants] = []
    if "webshell_path" in kinds:
        exact = index.exact.get(("webshell_path", path))
        found += [exact] if exact is not None else []
        found += [claimants for _, claimants in index.any_pattern("webshell_path", path)]
    if "webshell_name" in kinds:
        named = index.exact.get(("webshell_name", PurePosixPath(path).name))
        found += [named] if named is not None else []
    return found


def _ttps(cluster: Cluster, index: EvidenceIndex, model: AttributionModel, found: _Collector) -> None:
    for cve in cluster.cves:
        if (claimants := index.cves.get(cve.upper())) is not None:
            found.add("cve", cve.upper(), claimants)
    for technique in cluster.techniques:
        if (claimants := index.techniques.get(technique.upper())) is not None:
            found.add("technique", technique.upper(), claimants)
    stages = set(cluster.stages)
    followed = [(p, ratio) for p in index.chains if not stages.isdisjoint(p.chain)
                and (ratio := _in_order(p.chain, cluster.stages)) >= model.min_chain_ratio]
    for profile, ratio in followed:
        if profile.chain_source is not None:
            found.weighted(profile.id, "chain", f"{ratio:.0%} of the reported chain, in order", len(followed),
                           profile.chain_source, scale=ratio, note=" → ".join(profile.chain))


def _context(cluster: Cluster, index: EvidenceIndex, candidates: set[str], found: _Collector) -> None:
    """Timing and geography, for hypotheses that already have other evidence."""
    day = cluster.first_seen.date()
    active = index.active_on(day)
    for profile in active:
        if profile.id in candidates:
            window = next(w for w in profile.windows if w.contains(day))
            found.weighted(profile.id, "window", f"{day}: {window.name}", len(active), window.source,
                           note=f"profiles active then: {len(active)}")
    for country in {c.upper() for c in cluster.countries}:
        sharing = index.countries.get(country, 0)
        for actor in sorted(candidates):
            profile = index.actors[actor]
            if profile.country and profile.country.upper() == country:
                source = Source(url="https://github.com/MISP/misp-galaxy",
                                publication=f"MISP galaxy: country of {profile.name}")
                found.weighted(actor, "geography", f"source country {country}", sharing, source,
                               note=f"profiles with this country: {sharing}")


def _in_order(chain: list[str], stages: list[str]) -> float:
    """Longest common subsequence of the actor's chain and the observed stage order, over the chain length."""
    previous = [0] * (len(stages) + 1)
    for step in chain:
        current = [0]
        for j, stage in enumerate(stages):
            current.append(previous[j] + 1 if step == stage else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1] / len(chain) if chain else 0.0


@functools.lru_cache(maxsize=4096)
def _agent(user_agent: str) -> str:
    return normalize_user_agent(user_agent)


def _is_ip(value: str) -> bool:
    return _normal_ip(value) is not None


def _normal_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        return None

