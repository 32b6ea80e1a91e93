"""Activity clusters: sessions joined by shared infrastructure, tools, web shells and payloads (union-find).

Deterministic: sessions are processed sorted by (start, id), keys in a fixed order, and each session links to
the previous session that offered the same key; the cluster id hashes the sorted member ids. The result
does not depend on input order, and re-running gives the same ids. Each cluster keeps the links that joined
it (a spanning tree: one link per merge) with the kinds and values that made each link.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

import msgspec

from honeyscope.analysis.clusters.links import LINK_KINDS, KeyMaker, LinkModel, session_values
from honeyscope.analysis.clusters.payloads import payload_families
from honeyscope.analysis.sessions import SessionSummary

#: Distinct values kept per aggregated list of a cluster (sessions keep their own full lists).
MAX_CLUSTER_VALUES: Final = 256


# gc=False: these structs hold strings, numbers, lists of those and other such structs, never a cycle;
# leaving them out of the cycle collector makes 100k-session runs faster (bench/attribution.py).
class Link(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Why session ``joined`` was put with session ``to``: the kinds they share and the shared values."""

    to: str
    joined: str
    kinds: list[str]
    values: list[str]
    weight: float


class Cluster(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Sessions that look like one operator's activity, and what they have in common."""

    id: str
    sessions: list[str]
    first_seen: datetime
    last_seen: datetime
    events: int
    source_ips: list[str]
    links: list[Link] = msgspec.field(default_factory=list)
    countries: list[str] = msgspec.field(default_factory=list)
    asns: list[int] = msgspec.field(default_factory=list)
    as_orgs: list[str] = msgspec.field(default_factory=list)
    scanners: list[str] = msgspec.field(default_factory=list)
    sensors: list[str] = msgspec.field(default_factory=list)
    personas: list[str] = msgspec.field(default_factory=list)
    #: Stages in the order first reached across the cluster's sessions.
    stages: list[str] = msgspec.field(default_factory=list)
    cves: list[str] = msgspec.field(default_factory=list)
    techniques: list[str] = msgspec.field(default_factory=list)
    tools: list[str] = msgspec.field(default_factory=list)
    user_agents: list[str] = msgspec.field(default_factory=list)
    ja4: list[str] = msgspec.field(default_factory=list)
    paths: list[str] = msgspec.field(default_factory=list)
    webshells: list[str] = msgspec.field(default_factory=list)
    webshell_probes: list[str] = msgspec.field(default_factory=list)
    shell_keys: list[str] = msgspec.field(default_factory=list)
    payload_sha256: list[str] = msgspec.field(default_factory=list)
    artifacts: list[str] = msgspec.field(default_factory=list)
    callbacks: list[str] = msgspec.field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.sessions)


def cluster_id(session_ids: Iterable[str]) -> str:
    """Stable id of a set of sessions."""
    return "c-" + hashlib.sha256("\n".join(sorted(session_ids)).encode()).hexdigest()[:20]


def build_clusters(sessions: Iterable[SessionSummary], model: LinkModel | None = None) -> list[Cluster]:
    """Cluster sessions; clusters come ordered by first activity, then id."""
    model = model or LinkModel()
    ordered = sorted(sessions, key=lambda s: (s.first_seen, s.id))
    families = payload_families((d for s in ordered for d in s.payload_tlsh), model.tlsh_threshold)
    maker = KeyMaker(model)
    parent = list(range(len(ordered)))
    owners: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[int, float]] = {}
    links: list[tuple[int, Link]] = []

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    window = model.window_seconds
    offered = [session_values(session, families, model) for session in ordered]
    common = _shared_only(offered)
    for index, session in enumerate(ordered):
        start = session.first_seen.timestamp()
        for key in maker.keys(common[index]):
            previous = owners.get(key)
            owners[key] = (index, start)
            if previous is None:
                continue  # first to offer this key: nothing to join yet
            owner, when = previous
            if maker.timed[key[0]] and start - when > window:
                continue
            a, b = root(owner), root(index)
            if a == b:
                continue
            parent[max(a, b)] = min(a, b)
            kinds, shared = key
            weight = round(sum(model.weights[k] for k in kinds), 2)
            links.append((owner, Link(to=ordered[owner].id, joined=session.id, kinds=list(kinds),
                                      values=[f"{k}={v}" for k, v in zip(kinds, shared, strict=True)],
                                      weight=weight)))
    members: dict[int, list[int]] = {}
    for index in range(len(ordered)):
        members.setdefault(root(index), []).append(index)
    by_root: dict[int, list[Link]] = {}
    for owner, link in links:
        by_root.setdefault(root(owner), []).append(link)
    clusters = [_cluster([ordered[i] for i in indexes], by_root.get(top, [])) for top, indexes in members.items()]
    return sorted(clusters, key=lambda c: (c.first_seen, c.id))


def _shared_only(offered: list[dict[str, list[str]]]) -> list[dict[str, list[str]]]:
    """Each session's values that at least one other session also has: a value nobody shares cannot be part of
    a shared key, so leaving it out loses no link and saves building most keys (most values are unique)."""
    every: dict[str, list[str]] = {kind: [] for kind in LINK_KINDS}
    for values in offered:
        for kind, found in values.items():
            every[kind] += found
    counts = {kind: Counter(found) for kind, found in every.items()}
    kept: list[dict[str, list[str]]] = []
    for values in offered:
        mine: dict[str, list[str]] = {}
        for kind, found in values.items():
            seen = counts[kind]
            if len(found) == 1:  # the usual case, without building a new list
                if seen[found[0]] > 1:
                    mine[kind] = found
            elif common := [value for value in found if seen[value] > 1]:
                mine[kind] = common
        kept.append(mine)
    return kept


def _cluster(sessions: Sequence[SessionSummary], links: list[Link]) -> Cluster:
    if len(sessions) == 1:
        return _single(sessions[0])
    def union(name: str, *, keep_order: bool = False) -> list[str]:
        seen = list(dict.fromkeys(itertools.chain.from_iterable(getattr(s, name) for s in sessions)))
        return seen[:MAX_CLUSTER_VALUES] if keep_order else sorted(seen[:MAX_CLUSTER_VALUES])

    def single(name: str) -> list[str]:
        return sorted({str(v) for s in sessions if (v := getattr(s, name)) is not None})

    return Cluster(
        id=cluster_id(s.id for s in sessions), sessions=[s.id for s in sessions],
        first_seen=min(s.first_seen for s in sessions), last_seen=max(s.last_seen for s in sessions),
        events=sum(s.events for s in sessions), source_ips=sorted({s.source_ip for s in sessions}), links=links,
        countries=single("country"), asns=sorted({s.asn for s in sessions if s.asn is not None}),
        as_orgs=single("as_org"), scanners=single("scanner"), sensors=union("sensors"), personas=union("personas"),
        stages=union("stages", keep_order=True), cves=union("cves"), techniques=union("techniques"),
        tools=union("tools"), user_agents=union("user_agents", keep_order=True), ja4=union("ja4"),
        paths=union("paths", keep_order=True), webshells=union("webshells", keep_order=True),
        webshell_probes=union("webshell_probes", keep_order=True), shell_keys=union("shell_keys", keep_order=True),
        payload_sha256=union("payload_sha256"), artifacts=union("artifacts"), callbacks=union("callbacks"),
    )


def _single(s: SessionSummary) -> Cluster:
    """A cluster of one session shares the session's lists (they are already ordered the same way)."""
    return Cluster(
        id=cluster_id([s.id]), sessions=[s.id], first_seen=s.first_seen, last_seen=s.last_seen, events=s.events,
        source_ips=[s.source_ip], countries=[s.country] if s.country else [],
        asns=[s.asn] if s.asn is not None else [], as_orgs=[s.as_org] if s.as_org else [],
        scanners=[s.scanner] if s.scanner else [], sensors=s.sensors, personas=s.personas, stages=s.stages,
        cves=s.cves, techniques=s.techniques, tools=s.tools, user_agents=s.user_agents, ja4=s.ja4, paths=s.paths,
        webshells=s.webshells, webshell_probes=s.webshell_probes, shell_keys=s.shell_keys,
        payload_sha256=s.payload_sha256, artifacts=s.artifacts, callbacks=s.callbacks,
    )
