"""Events (+ attributed clusters) → one MISP event, built offline with ``pymisp`` and written as feed JSON.

The event holds, aggregated over the exported period (first/last seen on every attribute):

- ``ip-src`` per source address (``to_ids`` when a rule matched one of its requests), with country, AS and
  counts in the comment;
- ``uri`` per path of an exploit attempt (a request that matched a rule), tagged with its ATT&CK techniques;
- ``user-agent`` of exploit attempts, ``vulnerability`` per CVE detected, ``sha256`` per stored web shell or
  payload;
- one ``http-request`` object per distinct exploit request (address, method, URI, user agent, cookie);
- per attributed cluster a ``threat-actor`` attribute (category Attribution) with the evidence in its comment,
  tagged with ``misp-galaxy:threat-actor`` and the ``estimative-language`` words of its confidence;
- event tags: the TLP level (``tlp:amber`` …), ``misp-galaxy:mitre-attack-pattern`` per technique and
  ``misp-galaxy:threat-actor`` per attributed actor.

Paths are ``uri`` attributes: MISP's ``url`` type means a full URL, whose host would be the decoy's. With
``reveal_decoys`` the request objects also carry ``host`` and ``url``. Every uuid is derived from the
organisation, TLP, period and value, and timestamps from the events, so an export is reproducible and a
re-import updates the event instead of duplicating it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Final

import msgspec

from honeyscope.analysis.attribution.confidence import dni_words, stix_level
from honeyscope.events.schema import Event, HttpRequestEvent
from honeyscope.share.stix.actors import AttributedCluster
from honeyscope.share.stix.attack import cve_id, technique, technique_id
from honeyscope.share.stix.ids import HONEYSCOPE_NAMESPACE
from honeyscope.share.stix.observables import HASHED_ARTIFACTS, parse_address
from honeyscope.share.stix.selection import exclusion
from honeyscope.share.stix.text import MAX_TEXT, clean
from honeyscope.share.tlp import Tlp, misp_tag

if TYPE_CHECKING:
    from pymisp import MISPAttribute, MISPEvent

__all__ = ["MispOptions", "MispStats", "misp_event", "write_misp"]

#: MISP distribution by TLP: 0 your organisation, 1 this community, 3 all communities.
_DISTRIBUTION: Final[dict[str, int]] = {"clear": 3, "green": 1, "amber": 0, "amber+strict": 0, "red": 0}
#: MISP threat level by the highest detection severity: 1 high, 2 medium, 3 low, 4 undefined.
_THREAT_LEVEL: Final = {"critical": 1, "high": 1, "medium": 2, "low": 3}
#: ``estimative-language:likelihood-probability`` by confidence (the DNI scale of STIX 2.1 appendix A.5).
_LIKELIHOOD: Final = ((9, "almost-no-chance"), (19, "very-unlikely"), (39, "unlikely"),
                      (59, "roughly-even-chance"), (79, "likely"), (89, "very-likely"), (100, "almost-certain"))
#: Attributes and objects take the event's distribution.
_INHERIT: Final = 5
_JUDGMENT: Final = {"None": "low", "Low": "low", "Med": "moderate", "High": "high"}


class MispOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What the event contains and how it is marked (selection options as in ``StixOptions``)."""

    #: The creating organisation (``Orgc``): the sensor network.
    org_name: str = "honeyscope sensor network"
    #: The event's title; by default names the network and the period.
    info: str | None = None
    tlp: Tlp = "amber"
    only_detected: bool = False
    include_scanners: bool = False
    include_non_public: bool = False
    reveal_decoys: bool = False
    #: ``http-request`` objects (distinct exploit requests) and distinct user agents kept.
    max_requests: int = 1000
    max_user_agents: int = 200
    max_text: int = MAX_TEXT


@dataclass
class MispStats:
    """What an export read and wrote."""

    events: int = 0
    exported: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    attributes: int = 0
    objects: int = 0


@dataclass
class _Seen:
    first: datetime
    last: datetime
    count: int = 0
    notes: dict[str, None] = field(default_factory=dict)
    techniques: dict[str, None] = field(default_factory=dict)

    def add(self, moment: datetime) -> None:
        self.first, self.last, self.count = min(self.first, moment), max(self.last, moment), self.count + 1


@dataclass
class _Aggregate:
    """Everything the event will hold, keyed by value (bounded by the distinct values seen)."""

    addresses: dict[str, _Seen] = field(default_factory=dict)
    detected: set[str] = field(default_factory=set)
    paths: dict[str, _Seen] = field(default_factory=dict)
    #: Paths cut or escaped when cleaned: shared, but not as detection indicators (they match no traffic).
    mangled: set[str] = field(default_factory=set)
    agents: dict[str, _Seen] = field(default_factory=dict)
    cves: dict[str, _Seen] = field(default_factory=dict)
    hashes: dict[str, _Seen] = field(default_factory=dict)
    requests: dict[tuple[str, ...], _Seen] = field(default_factory=dict)
    techniques: dict[str, None] = field(default_factory=dict)
    severity: int = 4


def misp_event(events: Iterable[Event], *, options: MispOptions | None = None,
               clusters: Sequence[AttributedCluster] = (), event_key: Sequence[str] = (),
               stats: MispStats | None = None) -> MISPEvent:
    """One ``MISPEvent`` for ``events`` and the attributed clusters; ``event_key`` (e.g. the period) goes
    into the event's uuid."""
    options = options or MispOptions()
    stats = stats if stats is not None else MispStats()
    aggregate = _Aggregate()
    for event in events:
        stats.events += 1
        reason = _excluded(event, options)
        if reason:
            stats.skipped[reason] = stats.skipped.get(reason, 0) + 1
            continue
        assert isinstance(event, HttpRequestEvent)
        _add(aggregate, event, options)
        stats.exported += 1
    built = _Builder(options, event_key, aggregate, clusters).build()
    stats.attributes = len(built.attributes) + sum(len(o.attributes) for o in built.objects)
    stats.objects = len(built.objects)
    return built


def write_misp(events: Iterable[Event], output: IO[bytes], *, options: MispOptions | None = None,
               clusters: Sequence[AttributedCluster] = (), event_key: Sequence[str] = ()) -> MispStats:
    """Write the MISP event as feed JSON (``{"Event": {...}}``, what MISP feeds and imports read)."""
    stats = MispStats()
    built = misp_event(events, options=options, clusters=clusters, event_key=event_key, stats=stats)
    output.write(msgspec.json.format(msgspec.json.encode(built.to_feed(with_distribution=True)), indent=1) + b"\n")
    return stats


def _excluded(event: Event, options: MispOptions) -> str | None:
    if not isinstance(event, HttpRequestEvent):
        return f"not http.request ({type(event).__name__})"
    if parse_address(event.source.ip) is None:
        return "source is not an IP address"
    return exclusion(event, only_detected=options.only_detected, include_scanners=options.include_scanners,
                     include_non_public=options.include_non_public)


def _seen(table: dict[Any, _Seen], key: Any, moment: datetime, limit: int | None = None) -> _Seen | None:
    entry = table.get(key)
    if entry is None:
        if limit is not None and len(table) >= limit:
            return None
        entry = table[key] = _Seen(moment, moment)
    entry.add(moment)
    return entry


def _add(aggregate: _Aggregate, event: HttpRequestEvent, options: MispOptions) -> None:
    moment, address = event.timestamp, str(parse_address(event.source.ip))
    entry = _seen(aggregate.addresses, address, moment)
    assert entry is not None
    if entry.count == 1:
        entry.notes.setdefault(_where(event), None)
    for artifact in event.honeyscope.artifacts:
        if artifact.kind in HASHED_ARTIFACTS and len(artifact.sha256) == 64:
            found = _seen(aggregate.hashes, artifact.sha256.lower(), moment)
            if found is not None:
                found.notes.setdefault(f"{clean(artifact.kind, 40)} artifact, {artifact.size} bytes", None)
    detections = event.honeyscope.detections
    if not detections:
        return
    aggregate.detected.add(address)
    aggregate.severity = min([aggregate.severity, *(_THREAT_LEVEL.get(d.severity, 4) for d in detections)])
    techniques = [t for d in detections for t in map(technique_id, d.techniques) if t]
    aggregate.techniques.update(dict.fromkeys(techniques))
    for cve in (c for d in detections for c in map(cve_id, d.cves) if c):
        _seen(aggregate.cves, cve, moment)
    path = clean(event.url.path or "/", options.max_text)
    if path != event.url.path:
        aggregate.mangled.add(path)
    found = _seen(aggregate.paths, path, moment)
    if found is not None:
        found.techniques.update(dict.fromkeys(techniques))
        found.notes.update(dict.fromkeys(clean(f"{d.rule_id} {d.title}", 200) for d in detections))
    agent = event.user_agent.original if event.user_agent else ""
    if agent:
        _seen(aggregate.agents, clean(agent, options.max_text), moment, options.max_user_agents)
    _seen(aggregate.requests, _request_key(event, address, options), moment, options.max_requests)


def _request_key(event: HttpRequestEvent, address: str, options: MispOptions) -> tuple[str, ...]:
    headers = {name.lower(): value for name, value in reversed(event.honeyscope.request.headers)}
    limit = options.max_text
    host = clean(headers.get("host", ""), 256) if options.reveal_decoys else ""
    return (address, clean(event.http.request.method or "", 64), clean(event.url.original or event.url.path, limit),
            clean(event.user_agent.original if event.user_agent else "", limit),
            clean(headers.get("cookie", ""), limit), host, "https" if event.tls is not None else "http")


def _where(event: HttpRequestEvent) -> str:
    parts = []
    if event.source.geo is not None and event.source.geo.country_iso_code:
        parts.append(f"country {clean(event.source.geo.country_iso_code, 8)}")
    autonomous = event.source.as_
    if autonomous is not None and (autonomous.number is not None or autonomous.organization.name):
        number = f"AS{autonomous.number} " if autonomous.number is not None else ""
        parts.append((number + clean(autonomous.organization.name or "", 120)).strip())
    return ", ".join(parts)


class _Builder:
    def __init__(self, options: MispOptions, key: Sequence[str], aggregate: _Aggregate,
                 clusters: Sequence[AttributedCluster]) -> None:
        self.options = options
        self.aggregate = aggregate
        self.clusters = clusters
        self.event_uuid = uuid.uuid5(HONEYSCOPE_NAMESPACE, "\x1f".join(["misp-event", options.org_name,
                                                                          options.tlp, *key]))
        times = [s.first for s in aggregate.addresses.values()] + [c.first_seen for c in clusters]
        lasts = [s.last for s in aggregate.addresses.values()] + [c.last_seen for c in clusters]
        self.first = min(times, default=datetime.now(UTC))  # an empty export is dated today
        self.last = max(lasts, default=self.first)

    def _uuid(self, *parts: str) -> str:
        return str(uuid.uuid5(self.event_uuid, "\x1f".join(parts)))

    def build(self) -> MISPEvent:
        from pymisp import MISPEvent, MISPOrganisation

        event = MISPEvent()
        event.uuid = str(self.event_uuid)
        event.info = self.options.info or (f"{self.options.org_name}: attacks on decoys, "
                                           f"{self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}")
        event.date = self.first.date()
        event.threat_level_id = self.aggregate.severity
        event.analysis = 2
        event.distribution = _DISTRIBUTION[self.options.tlp]
        event.published = True
        organisation = MISPOrganisation()
        organisation.name = self.options.org_name
        organisation.uuid = str(uuid.uuid5(HONEYSCOPE_NAMESPACE, "misp-org\x1f" + self.options.org_name))
        event.Orgc = organisation
        event.add_tag(misp_tag(self.options.tlp))
        for tid in self.aggregate.techniques:
            galaxy = technique(tid).galaxy_value
            if galaxy:
                event.add_tag(f'misp-galaxy:mitre-attack-pattern="{galaxy}"')
        self._attributes(event)
        self._requests(event)
        self._attribution(event)
        stamp = int(self.last.timestamp())
        event.timestamp = event.publish_timestamp = stamp
        for item in [*event.attributes, *event.objects, *(a for o in event.objects for a in o.attributes)]:
            item.timestamp = stamp
        return event

    def _attribute(self, event: MISPEvent, kind: str, value: str, seen: _Seen, *, to_ids: bool, comment: str,
                   category: str | None = None) -> MISPAttribute:
        extra: dict[str, Any] = {"category": category} if category else {}
        attribute = event.add_attribute(kind, value, uuid=self._uuid(kind, value), to_ids=to_ids,
                                        comment=clean(comment, 4096), first_seen=seen.first, last_seen=seen.last,
                                        disable_correlation=False, distribution=_INHERIT, **extra)
        assert not isinstance(attribute, list)  # a list only when ``value`` is a list
        return attribute

    def _attributes(self, event: MISPEvent) -> None:
        aggregate = self.aggregate
        for address, seen in aggregate.addresses.items():
            detected = address in aggregate.detected
            what = "requests to decoys, exploit attempts among them" if detected else "requests to decoys"
            comment = f"{seen.count} {what}; " + "; ".join(n for n in seen.notes if n)
            self._attribute(event, "ip-src", address, seen, to_ids=detected, comment=comment.rstrip("; "))
        for path, seen in aggregate.paths.items():
            attribute = self._attribute(event, "uri", path, seen, to_ids=path not in aggregate.mangled,
                                        comment=f"{seen.count} exploit attempts; " + "; ".join(seen.notes))
            for tid in seen.techniques:
                galaxy = technique(tid).galaxy_value
                if galaxy:
                    attribute.add_tag(f'misp-galaxy:mitre-attack-pattern="{galaxy}"')
        for agent, seen in aggregate.agents.items():
            self._attribute(event, "user-agent", agent, seen, to_ids=False,
                            comment=f"{seen.count} exploit attempts with this user agent")
        for cve, seen in aggregate.cves.items():
            self._attribute(event, "vulnerability", cve, seen, to_ids=False, category="External analysis",
                            comment=f"{seen.count} exploit attempts detected")
        for digest, seen in aggregate.hashes.items():
            self._attribute(event, "sha256", digest, seen, to_ids=True, category="Payload delivery",
                            comment="; ".join(seen.notes) + f"; seen {seen.count} times")

    def _requests(self, event: MISPEvent) -> None:
        from pymisp import MISPObject

        for key, seen in self.aggregate.requests.items():
            address, method, target, agent, cookie, host, scheme = key
            request = MISPObject("http-request", standalone=False)
            request.uuid = self._uuid("http-request", *key)
            request.first_seen, request.last_seen = seen.first, seen.last
            request.comment = f"exploit requests like this one: {seen.count}"
            request.distribution = _INHERIT
            values = [("ip-src", address), ("method", method), ("uri", target), ("user-agent", agent),
                      ("cookie", cookie)]
            if host:
                values += [("host", host), ("url", f"{scheme}://{host}{target}")]
            for relation, value in values:
                if value:
                    request.add_attribute(relation, value=value, uuid=self._uuid("http-request", *key, relation),
                                          to_ids=False, disable_correlation=relation != "ip-src",
                                          distribution=_INHERIT)
            event.add_object(request)

    def _attribution(self, event: MISPEvent) -> None:
        for cluster in self.clusters:
            name = cluster.galaxy_name or cluster.actor_name
            event.add_tag(f'misp-galaxy:threat-actor="{name}"')
            level = stix_level(cluster.confidence)
            evidence = "; ".join(f"{e.kind} {clean(e.value, 200)}" + (f" ({clean(e.source, 200)})" if e.source else "")
                                 for e in cluster.evidence[:20])
            comment = (f"Activity cluster {cluster.cluster_id} ({len(cluster.session_ids)} sessions, "
                       f"{len(cluster.source_ips)} addresses) attributed to {cluster.actor_name}: {level} confidence "
                       f"({cluster.confidence}, {dni_words(cluster.confidence)}). "
                       f"Evidence: {evidence or 'none listed'}")
            seen = _Seen(cluster.first_seen, cluster.last_seen)
            attribute = self._attribute(event, "threat-actor", clean(cluster.actor_name, 256), seen, to_ids=False,
                                        comment=comment, category="Attribution")
            attribute.uuid = self._uuid("threat-actor", cluster.cluster_id, cluster.actor_id)
            attribute.add_tag(f'misp-galaxy:threat-actor="{name}"')
            attribute.add_tag(f'estimative-language:likelihood-probability="{_likelihood(cluster.confidence)}"')
            attribute.add_tag(f'estimative-language:confidence-in-analytic-judgment="{_JUDGMENT[level]}"')


def _likelihood(confidence: int) -> str:
    return next(word for upper, word in _LIKELIHOOD if confidence <= upper)
