"""Events (+ attributed clusters) → a stream of STIX 2.1 objects, aggregated per UTC day, in bounded memory.

Per UTC day and per indicator (a source address, the path of an exploit attempt, the SHA-256 of a stored web
shell or payload) one ``sighting`` counts the events, with first/last seen, the sensor network as
``where_sighted_refs`` and up to ``max_observations`` ``observed-data`` as samples. An ``observed-data``
groups one address's identical requests of the day (``number_observed``). Observables are written when first
seen, indicators once (when their first day closes); attack-patterns and vulnerabilities come from the
detections' ATT&CK ids and CVEs.

Memory: the open day's aggregates (two days when events arrive slightly out of order; ≈ 1 KB per source
address and day) plus the ids already written (≈ 100 bytes per distinct observable or indicator). A day is
written as soon as an event two days later arrives; an event of a day already written (input far out of
order) opens a second part of that day, with ids of its own (written at the next new day), so nothing is
counted twice under one id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, NamedTuple

import msgspec

from honeyscope.events.schema import Detection, Event, HttpRequestEvent
from honeyscope.share.stix.actors import AttributedCluster
from honeyscope.share.stix.attack import cve_id, technique, technique_id
from honeyscope.share.stix.campaigns import attribution_objects
from honeyscope.share.stix.ids import object_id, stix_time
from honeyscope.share.stix.objects import REFERENCE_TIME, StixFactory, ip_pattern, path_pattern, sha256_pattern
from honeyscope.share.stix.observables import Observation, observe
from honeyscope.share.stix.selection import exclusion
from honeyscope.share.stix.text import MAX_TEXT, clean, is_clean
from honeyscope.share.tlp import Tlp, marking_definition

__all__ = ["ExportStats", "StixOptions", "StixRecord", "stix_objects", "stix_records"]

#: Longest path that becomes an indicator (longer ones are random junk, and would be cut).
_MAX_PATTERN_PATH: Final = 1024
#: Observables an ``observed-data`` lists beside the address, the request and files.
_ALSO_OBSERVED: Final = frozenset({"ipv6-addr", "ipv4-addr", "autonomous-system", "url"})
_REFERENCE: Final = datetime.fromisoformat(REFERENCE_TIME.replace("Z", "+00:00"))
_WHAT: Final = {"ip": "Source of requests to decoys", "path": "Request path of exploit attempts on decoys",
                "sha256": "File dropped or sent in exploit attempts on decoys"}


class StixOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What an export contains and how it is marked."""

    #: Name of the sensor network's ``identity`` (producer of every object, where things were sighted).
    network_name: str = "honeyscope sensor network"
    tlp: Tlp = "amber"
    #: Only events that matched a detection rule.
    only_detected: bool = False
    #: Events from known research scanners (Shodan, Censys …): left out by default.
    include_scanners: bool = False
    #: Sources that are not public addresses (private, loopback, documentation …): left out by default.
    include_non_public: bool = False
    #: Share the decoys' addresses and ``Host`` headers (they tell recipients which hosts are honeypots).
    reveal_decoys: bool = False
    #: ``observed-data`` samples per sighting, and distinct requests kept per source address and day.
    max_observations: int = 20
    #: Characters kept per attacker string (longer ones are cut with a marker).
    max_text: int = MAX_TEXT
    #: Distinct header names kept per request.
    max_headers: int = 32


class StixRecord(NamedTuple):
    """One object and the (event) time it became known: a TAXII server's ``date_added``."""

    obj: dict[str, Any]
    added: datetime


@dataclass
class ExportStats:
    """What an export read and wrote."""

    events: int = 0
    exported: int = 0
    #: Events left out, by reason (``not http.request``, ``research scanner``, ``non-public source`` …).
    skipped: dict[str, int] = field(default_factory=dict)
    #: Objects written, by STIX type.
    objects: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    @property
    def total_objects(self) -> int:
        return sum(self.objects.values())


@dataclass(slots=True)
class _Group:
    """Identical requests of one source on one day: one ``observed-data``."""

    first: datetime
    last: datetime
    refs: tuple[str, ...]
    count: int = 0


@dataclass(slots=True)
class _Rules:
    """What the detections on an indicator's events said (kept only for indicators that have any)."""

    techniques: dict[str, None] = field(default_factory=dict)
    cves: dict[str, None] = field(default_factory=dict)
    titles: dict[str, None] = field(default_factory=dict)


@dataclass(slots=True)
class _Sighting:
    """One indicator on one day: its sighting, and what its indicator says when first written."""

    first: datetime
    last: datetime
    context: str
    count: int = 0
    observed: list[tuple[str, ...]] | None = None
    rules: _Rules | None = None


@dataclass
class _Day:
    day: date
    part: int
    groups: dict[tuple[str, ...], _Group] = field(default_factory=dict)
    groups_per_source: dict[str, int] = field(default_factory=dict)
    sightings: dict[tuple[str, str], _Sighting] = field(default_factory=dict)
    #: (relationship kind, source type, source id or technique, target type, target value) → first use.
    links: dict[tuple[str, str, str, str, str], datetime] = field(default_factory=dict)


def stix_objects(events: Iterable[Event], *, options: StixOptions | None = None,
                 clusters: Sequence[AttributedCluster] = (),
                 stats: ExportStats | None = None) -> Iterator[dict[str, Any]]:
    """The export's objects, in an order where everything referenced comes first."""
    for record in stix_records(events, options=options, clusters=clusters, stats=stats):
        yield record.obj


def stix_records(events: Iterable[Event], *, options: StixOptions | None = None,
                 clusters: Sequence[AttributedCluster] = (),
                 stats: ExportStats | None = None) -> Iterator[StixRecord]:
    """Like ``stix_objects``, each object with the time it became known (for TAXII's ``date_added``)."""
    exporter = _Exporter(options or StixOptions(), stats if stats is not None else ExportStats())
    for event in events:
        yield from exporter.add(event)
    yield from exporter.finish(clusters)


class _Exporter:
    def __init__(self, options: StixOptions, stats: ExportStats) -> None:
        self.options = options
        self.stats = stats
        self.factory = StixFactory(options.network_name, options.tlp)
        self.written: set[str] = set()
        self.open: dict[date, _Day] = {}
        self.closed: dict[date, int] = {}
        self.newest: date | None = None
        self.started = False

    def add(self, event: Event) -> Iterator[StixRecord]:
        self.stats.events += 1
        if not isinstance(event, HttpRequestEvent):
            self.stats.skip(f"not http.request ({type(event).__name__})")
            return
        options = self.options
        reason = exclusion(event, only_detected=options.only_detected, include_scanners=options.include_scanners,
                           include_non_public=options.include_non_public)
        observation = None if reason else observe(event, reveal_decoys=options.reveal_decoys,
                                                  max_text=options.max_text, max_headers=options.max_headers)
        if observation is None:
            self.stats.skip(reason or "source is not an IP address")
            return
        yield from self._start(event.timestamp)
        stamp = event.timestamp
        day = (stamp.astimezone(UTC) if stamp.tzinfo is not None else stamp).date()
        yield from self._close_before(day)
        for sco_id_, (kind, properties) in observation.objects.items():
            if sco_id_ not in self.written:  # observables never change: written at once, not kept
                yield from self._once(self.factory.sco(kind, sco_id_, properties), event.timestamp)
        _record(self._bucket(day), event, observation, options)
        self.stats.exported += 1

    def finish(self, clusters: Sequence[AttributedCluster]) -> Iterator[StixRecord]:
        for day in sorted(self.open):
            yield from self._flush(self.open.pop(day))
        # even an export of nothing names its producer and marking (a bundle's object list must not be empty)
        yield from self._start(min((c.first_seen for c in clusters), default=_REFERENCE))
        for cluster in clusters:
            yield from attribution_objects(self.factory, cluster, self._once, self.written)

    def _start(self, first: datetime) -> Iterator[StixRecord]:
        if not self.started:
            self.started = True
            yield from self._once(marking_definition(self.options.tlp), first)
            yield from self._once(self.factory.identity(), first)

    def _bucket(self, day: date) -> _Day:
        bucket = self.open.get(day)
        if bucket is None:
            bucket = self.open[day] = _Day(day, self.closed.get(day, -1) + 1)
        return bucket

    def _close_before(self, day: date) -> Iterator[StixRecord]:
        """When time moves to a new day, write the days before yesterday (late parts included)."""
        if self.newest is not None and day <= self.newest:
            return
        self.newest = day
        horizon = day - timedelta(days=1)
        for old in sorted(d for d in self.open if d < horizon):
            yield from self._flush(self.open.pop(old))

    def _emit(self, obj: dict[str, Any], added: datetime) -> Iterator[StixRecord]:
        self.stats.objects[obj["type"]] = self.stats.objects.get(obj["type"], 0) + 1
        yield StixRecord(obj, added)

    def _once(self, obj: dict[str, Any], added: datetime) -> Iterator[StixRecord]:
        if obj["id"] not in self.written:
            self.written.add(obj["id"])
            yield from self._emit(obj, added)

    def _flush(self, bucket: _Day) -> Iterator[StixRecord]:
        self.closed[bucket.day] = bucket.part
        day, part = bucket.day.isoformat(), str(bucket.part)
        for key, group in bucket.groups.items():
            group_id = object_id("observed-data", day, part, *key)
            yield from self._emit(self.factory.observed_data(group_id, first=group.first, last=group.last,
                                                             count=group.count, refs=list(group.refs)), group.last)
        for key, tally in bucket.sightings.items():
            yield from self._indicator(key, tally)
        for (kind, source_kind, source, target_kind, target), first in bucket.links.items():
            yield from self._link(kind, source_kind, source, target_kind, target, first)
        for key, tally in bucket.sightings.items():
            of = object_id("indicator", *key)
            observed = [object_id("observed-data", day, part, *k) for k in tally.observed or ()]
            yield from self._emit(self.factory.sighting(object_id("sighting", of, day, part), of=of, first=tally.first,
                                                        last=tally.last, count=tally.count, observed=observed),
                                  tally.last)

    def _indicator(self, key: tuple[str, str], tally: _Sighting) -> Iterator[StixRecord]:
        if object_id("indicator", *key) in self.written:
            return
        kind, value = key
        what, rules = _WHAT[kind], tally.rules
        detail = [tally.context] if tally.context else []
        if rules is not None:
            detail.append("detections: " + "; ".join(list(rules.titles)[:10]))
            detail += [f"CVEs: {', '.join(rules.cves)}"] if rules.cves else []
            detail += [f"ATT&CK: {', '.join(rules.techniques)}"] if rules.techniques else []
        pattern = (ip_pattern(value, 6 if ":" in value else 4) if kind == "ip" else
                   path_pattern(value) if kind == "path" else sha256_pattern(value))
        tactics = dict.fromkeys(t for tid in (rules.techniques if rules else ()) for t in technique(tid).tactics)
        malicious = rules is not None or kind != "ip"
        obj = self.factory.indicator(
            key, name=f"{what}: {clean(value, 256)}", pattern=pattern, valid_from=tally.first, tactics=list(tactics),
            description=f"{what} ({self.options.network_name}), first seen {stix_time(tally.first)}. "
                        + ". ".join(detail),
            types=["malicious-activity" if malicious else "anomalous-activity"])
        yield from self._once(obj, tally.first)

    def _link(self, kind: str, source_kind: str, source: str, target_kind: str, target: str,
              first: datetime) -> Iterator[StixRecord]:
        """A relationship to an attack-pattern or vulnerability, from an indicator (by id) or a technique."""
        target_obj = (self.factory.attack_pattern(target) if target_kind == "attack-pattern"
                      else self.factory.vulnerability(target))
        yield from self._once(target_obj, first)
        if source_kind == "attack-pattern":
            source_obj = self.factory.attack_pattern(source)
            yield from self._once(source_obj, first)
            yield from self._once(self.factory.relationship(kind, source_obj["id"], target_obj["id"]), first)
            return
        yield from self._once(self.factory.relationship(kind, source, target_obj["id"], created=stix_time(first)),
                              first)


def _record(bucket: _Day, event: HttpRequestEvent, observation: Observation, options: StixOptions) -> None:
    """Add one event to its day's aggregates."""
    moment, detections = event.timestamp, event.honeyscope.detections
    observed = _observed_group(bucket, observation, moment, options.max_observations)
    ip_key = ("ip", observation.address)
    _sight(bucket, ip_key, moment, observed, options, detections,
           "" if ip_key in bucket.sightings else _where(event))
    if detections:
        _exploit_path(bucket, event, moment, observed, options)
    for detection in detections:
        for tid in filter(None, map(technique_id, detection.techniques)):
            for cve in filter(None, map(cve_id, detection.cves)):
                bucket.links.setdefault(("targets", "attack-pattern", tid, "vulnerability", cve), moment)
    for shared in observation.files:
        _sight(bucket, ("sha256", shared.sha256), moment, observed, options, detections,
               f"{clean(shared.kind, 40)} artifact, {shared.size} bytes")


def _exploit_path(bucket: _Day, event: HttpRequestEvent, moment: datetime, observed: tuple[str, ...] | None,
                  options: StixOptions) -> None:
    """The path of a request that matched a rule becomes an indicator, linked to its techniques or CVEs."""
    path = event.url.path
    if not (path.startswith("/") and is_clean(path, _MAX_PATTERN_PATH)):
        return  # junk or control characters: a pattern from the cleaned text would not match the traffic
    detections = event.honeyscope.detections
    _sight(bucket, ("path", path), moment, observed, options, detections, "")
    indicator = object_id("indicator", "path", path)
    techniques = [t for d in detections for t in map(technique_id, d.techniques) if t]
    for tid in techniques:
        bucket.links.setdefault(("indicates", "indicator", indicator, "attack-pattern", tid), moment)
    if not techniques:
        for cve in (c for d in detections for c in map(cve_id, d.cves) if c):
            bucket.links.setdefault(("related-to", "indicator", indicator, "vulnerability", cve), moment)


def _observed_group(bucket: _Day, observation: Observation, moment: datetime, limit: int) -> tuple[str, ...] | None:
    """The key of the event's ``observed-data`` (``None`` past ``limit`` distinct requests of its source)."""
    key = (observation.traffic_id, *(shared.object_id for shared in observation.files))
    group = bucket.groups.get(key)
    if group is None:
        count = bucket.groups_per_source.get(observation.address, 0)
        if count >= limit:
            return None  # counted by the sightings; no further samples of this source today
        bucket.groups_per_source[observation.address] = count + 1
        refs = [observation.address_id, *key]
        refs += [i for i, (kind, _) in observation.objects.items() if kind in _ALSO_OBSERVED and i not in refs]
        group = bucket.groups[key] = _Group(moment, moment, tuple(refs))
    group.first, group.last, group.count = min(group.first, moment), max(group.last, moment), group.count + 1
    return key


def _sight(bucket: _Day, key: tuple[str, str], moment: datetime, observed: tuple[str, ...] | None,
           options: StixOptions, detections: list[Detection], context: str) -> None:
    tally = bucket.sightings.get(key)
    if tally is None:
        tally = bucket.sightings[key] = _Sighting(moment, moment, context)
    tally.first, tally.last, tally.count = min(tally.first, moment), max(tally.last, moment), tally.count + 1
    if observed is not None:
        if tally.observed is None:
            tally.observed = []
        if len(tally.observed) < options.max_observations and observed not in tally.observed:
            tally.observed.append(observed)
    if detections:
        rules = tally.rules = tally.rules or _Rules()
        for detection in detections:
            rules.titles.setdefault(clean(f"{detection.rule_id} {detection.title}", 200), None)
            rules.techniques.update(dict.fromkeys(filter(None, map(technique_id, detection.techniques))))
            rules.cves.update(dict.fromkeys(filter(None, map(cve_id, detection.cves))))


def _where(event: HttpRequestEvent) -> str:
    """``country CN, AS4134 CHINANET`` from the collector's enrichment (empty when unknown)."""
    parts = []
    geo, autonomous = event.source.geo, event.source.as_
    if geo is not None and geo.country_iso_code:
        parts.append(f"country {clean(geo.country_iso_code, 8)}")
    if autonomous is not None and (autonomous.number is not None or autonomous.organization.name):
        number = f"AS{autonomous.number} " if autonomous.number is not None else ""
        parts.append((number + clean(autonomous.organization.name or "", 120)).strip())
    return ", ".join(parts)
