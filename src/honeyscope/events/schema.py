"""The event schema: the contract every stage reads and writes.

Field names follow ECS where ECS has them (``@timestamp``, ``event.*``, ``source.*``, ``http.*``,
``url.*``, ``user_agent.*``, ``tls.*``, ``observer.*``); everything ECS lacks (raw head bytes, the
header list in order, JA4, persona, route, credentials, artifacts) lives under ``honeyscope``.

Evolution rules (msgspec schema evolution): add fields with defaults, never change a field's type,
never reuse a name. A breaking change bumps ``SCHEMA_VERSION``; readers refuse versions they don't know.
Every event type is one tagged ``Struct``; the tag is the top-level ``type`` field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec

SCHEMA_VERSION: Final = 1


class _Base(msgspec.Struct, omit_defaults=True, kw_only=True):
    pass


class EventMeta(msgspec.Struct, kw_only=True):
    """ECS ``event.*``. ``id`` is a UUIDv7: unique and ordered by creation time."""

    id: str
    kind: str = "event"
    category: list[str] = msgspec.field(default_factory=lambda: ["web", "network"])
    type: list[str] = msgspec.field(default_factory=lambda: ["access"])
    dataset: str = "honeyscope.sensor"
    #: Time from the request's first byte to the response handed to the socket, in nanoseconds.
    duration: int | None = None


class Observer(msgspec.Struct, kw_only=True):
    """ECS ``observer.*``: which sensor saw it."""

    name: str
    type: str = "honeypot"
    hostname: str | None = None
    product: str = "honeyscope"
    version: str | None = None


class Geo(_Base, kw_only=True):
    """ECS ``*.geo``: filled by the collector's enrichment, never by the sensor."""

    country_iso_code: str | None = None
    country_name: str | None = None
    continent_code: str | None = None


class AsOrganization(_Base, kw_only=True):
    name: str | None = None


class AutonomousSystem(_Base, kw_only=True):
    """ECS ``*.as``: ``number`` may be unknown when the data source only names the network."""

    number: int | None = None
    organization: AsOrganization = msgspec.field(default_factory=AsOrganization)


class Endpoint(_Base, kw_only=True):
    """ECS ``source``/``destination``: address and port as seen on the socket."""

    ip: str
    port: int
    geo: Geo | None = None
    as_: AutonomousSystem | None = msgspec.field(default=None, name="as")


class HttpBody(_Base, kw_only=True):
    """ECS ``http.request.body``: ``bytes`` is the full length received (not only what is stored)."""

    bytes: int = 0


class HttpRequestMeta(_Base, kw_only=True):
    method: str | None = None
    body: HttpBody = msgspec.field(default_factory=HttpBody)


class HttpResponseMeta(_Base, kw_only=True):
    status_code: int | None = None
    body: HttpBody = msgspec.field(default_factory=HttpBody)


class Http(_Base, kw_only=True):
    """ECS ``http.*``."""

    version: str | None = None
    request: HttpRequestMeta = msgspec.field(default_factory=HttpRequestMeta)
    response: HttpResponseMeta = msgspec.field(default_factory=HttpResponseMeta)


class Url(_Base, kw_only=True):
    """ECS ``url.*``: ``original`` is the request target exactly as sent (latin-1 decoded)."""

    original: str = ""
    path: str = ""
    query: str | None = None
    domain: str | None = None


class UserAgent(_Base, kw_only=True):
    original: str


class TlsClient(_Base, kw_only=True):
    server_name: str | None = None


class Tls(_Base, kw_only=True):
    """ECS ``tls.*`` (version like ``1.3``; ``next_protocol`` = negotiated ALPN)."""

    established: bool = False
    version: str | None = None
    version_protocol: str = "tls"
    cipher: str | None = None
    next_protocol: str | None = None
    client: TlsClient = msgspec.field(default_factory=TlsClient)


class Credential(_Base, kw_only=True):
    """A credential presented by the client. ``scheme``: form, basic, ntlm."""

    scheme: str
    username: str
    password: str | None = None
    domain: str | None = None
    workstation: str | None = None


class ArtifactRef(_Base, kw_only=True):
    """A stored artifact (content-addressed under the spool's ``artifacts/`` directory)."""

    sha256: str
    size: int
    kind: str
    name: str = ""


class HsConnection(_Base, kw_only=True):
    """The TCP connection a request came on; ``request_index`` counts from 1."""

    id: str
    request_index: int = 0
    listener: str = ""


class HsTls(_Base, kw_only=True):
    """TLS facts ECS has no field for."""

    ja4: str | None = None
    alpn_offered: list[str] = msgspec.field(default_factory=list)
    client_hello_bytes: int | None = None
    error: str | None = None
    #: On a failed handshake: the bytes received before it failed (a partial ClientHello, plain HTTP,
    #: scanner probes), at most 64 KiB.
    initial_bytes: bytes = b""


class HsRequest(_Base, kw_only=True):
    """What we keep of the request beyond ECS: raw head bytes and the header list in order."""

    #: The request head exactly as received: request line, headers, terminator (order, case, dupes).
    head: bytes = b""
    target: str = ""
    headers: list[tuple[str, str]] = msgspec.field(default_factory=list)
    #: Body bytes as stored (up to the configured limit); ``body_sha256`` covers the full body.
    body: bytes = b""
    body_sha256: str = ""
    body_truncated: bool = False
    body_complete: bool = True
    chunked: bool = False
    #: Set when the request was malformed; the decoy answered as the emulated server would.
    error: str | None = None
    error_detail: str | None = None
    #: Source address claimed by a forwarding header from a trusted proxy (socket address kept in source).
    forwarded_for: str | None = None


class HsEnrichment(_Base, kw_only=True):
    """What the collector added about the source address (beside ECS ``source.geo``/``source.as``)."""

    #: ``public``, ``private``, ``loopback``, ``link_local``, ``shared`` (CGNAT), ``multicast``,
    #: ``documentation``, ``reserved`` or ``invalid`` (not an address); only public addresses are geolocated.
    network: str = "public"
    #: A known research scanner (e.g. ``Shodan``, ``Censys``) and what identified it.
    scanner: str | None = None
    #: ``ip_range`` or ``user_agent``.
    scanner_evidence: str | None = None
    #: Which data answered the geo/AS lookup (e.g. ``geoip2fast 2024-06-18``, an MMDB file name).
    geo_source: str | None = None


class Detection(_Base, kw_only=True):
    """A rule that matched this event: which rule, what it means, and the evidence it matched on."""

    rule_id: str
    title: str
    #: ``sigma`` or ``yara``.
    engine: str = "sigma"
    #: ``informational``, ``low``, ``medium``, ``high`` or ``critical`` (Sigma levels).
    severity: str = "medium"
    cves: list[str] = msgspec.field(default_factory=list)
    #: ATT&CK technique ids, e.g. ``T1190``.
    techniques: list[str] = msgspec.field(default_factory=list)
    #: Exploit-chain step, e.g. ``proxylogon.mapi_sid_leak``.
    stage: str | None = None
    #: ``field: value`` strings that made the rule match.
    evidence: list[str] = msgspec.field(default_factory=list)


class HsTiming(_Base, kw_only=True):
    """Microseconds: reading the request, and the persona producing its answer."""

    read_us: int = 0
    handle_us: int = 0


class Honeyscope(_Base, kw_only=True):
    """Our namespace on an HTTP event."""

    persona: str
    route: str = ""
    stage: str | None = None
    connection: HsConnection
    request: HsRequest = msgspec.field(default_factory=HsRequest)
    tls: HsTls | None = None
    credentials: list[Credential] = msgspec.field(default_factory=list)
    artifacts: list[ArtifactRef] = msgspec.field(default_factory=list)
    callbacks: list[str] = msgspec.field(default_factory=list)
    tags: list[str] = msgspec.field(default_factory=list)
    timing: HsTiming = msgspec.field(default_factory=HsTiming)
    #: Added by the collector.
    enrichment: HsEnrichment | None = None
    detections: list[Detection] = msgspec.field(default_factory=list)
    #: The attacker session this event belongs to (set by session grouping).
    session_id: str | None = None


class HttpRequestEvent(msgspec.Struct, tag="http.request", tag_field="type", kw_only=True,
                       rename={"timestamp": "@timestamp"}):
    """One HTTP request received by a decoy and the answer it got (malformed requests included)."""

    schema_version: int = SCHEMA_VERSION
    timestamp: datetime
    event: EventMeta
    observer: Observer
    source: Endpoint
    destination: Endpoint
    http: Http = msgspec.field(default_factory=Http)
    url: Url = msgspec.field(default_factory=Url)
    user_agent: UserAgent | None = None
    tls: Tls | None = None
    honeyscope: Honeyscope


class HsLimit(_Base, kw_only=True):
    """Which limit was hit: name, the configured value, and what was observed."""

    limit: str
    configured: float
    observed: float | None = None
    connection_id: str | None = None
    #: Hits of the same limit folded into this event (floods are summarised, not one event each).
    count: int = 1
    listener: str = ""


class HsLimitNs(_Base, kw_only=True):
    persona: str = ""
    limit: HsLimit
    enrichment: HsEnrichment | None = None


class LimitEvent(msgspec.Struct, tag="sensor.limit", tag_field="type", kw_only=True,
                 rename={"timestamp": "@timestamp"}):
    """A configured limit was reached (connections, head size, timeouts, ...)."""

    schema_version: int = SCHEMA_VERSION
    timestamp: datetime
    event: EventMeta
    observer: Observer
    source: Endpoint | None = None
    destination: Endpoint | None = None
    honeyscope: HsLimitNs


class HsTlsHandshake(_Base, kw_only=True):
    persona: str = ""
    connection: HsConnection
    tls: HsTls
    enrichment: HsEnrichment | None = None


class TlsHandshakeEvent(msgspec.Struct, tag="tls.handshake", tag_field="type",
                        kw_only=True, rename={"timestamp": "@timestamp"}):
    """A TLS handshake attempt (successful or not), with the client's JA4."""

    schema_version: int = SCHEMA_VERSION
    timestamp: datetime
    event: EventMeta
    observer: Observer
    source: Endpoint
    destination: Endpoint
    tls: Tls
    honeyscope: HsTlsHandshake


class HsLifecycle(_Base, kw_only=True):
    action: str
    listeners: list[str] = msgspec.field(default_factory=list)
    personas: list[str] = msgspec.field(default_factory=list)
    #: Events that could not be written since the last lifecycle event (e.g. disk full).
    dropped_events: int = 0
    detail: str | None = None


class HsLifecycleNs(_Base, kw_only=True):
    sensor: HsLifecycle


class SensorLifecycleEvent(msgspec.Struct, tag="sensor.lifecycle", tag_field="type",
                           kw_only=True, rename={"timestamp": "@timestamp"}):
    """The sensor started, stopped, or reports its health."""

    schema_version: int = SCHEMA_VERSION
    timestamp: datetime
    event: EventMeta
    observer: Observer
    honeyscope: HsLifecycleNs


Event = HttpRequestEvent | LimitEvent | TlsHandshakeEvent | SensorLifecycleEvent

#: Every event type, by its ``type`` tag (documentation and the docs test iterate this).
EVENT_TYPES: Final[dict[str, type[msgspec.Struct]]] = {
    "http.request": HttpRequestEvent,
    "sensor.limit": LimitEvent,
    "tls.handshake": TlsHandshakeEvent,
    "sensor.lifecycle": SensorLifecycleEvent,
}
