"""Turn what happened on a connection into typed events (pure functions, no I/O)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from honeyscope import __version__
from honeyscope.events.codec import encode_event
from honeyscope.events.ids import new_event_id
from honeyscope.events.schema import (
    ArtifactRef,
    Credential,
    Endpoint,
    EventMeta,
    Honeyscope,
    HsConnection,
    HsLimit,
    HsLimitNs,
    HsRequest,
    HsTiming,
    HsTls,
    Http,
    HttpBody,
    HttpRequestEvent,
    HttpRequestMeta,
    HttpResponseMeta,
    LimitEvent,
    Observer,
    Tls,
    TlsClient,
    Url,
    UserAgent,
)
from honeyscope.sensor.auth import ntlm
from honeyscope.sensor.http.parser import RawRequest
from honeyscope.sensor.http.response import Response
from honeyscope.sensor.personas.base import Credential as PersonaCredential
from honeyscope.sensor.personas.base import Reply


@dataclass(slots=True)
class TlsFacts:
    """What the TLS layer learned about a connection (copied onto each request's event)."""

    version: str | None = None
    cipher: str | None = None
    server_name: str | None = None
    alpn_selected: str | None = None
    alpn_offered: list[str] = field(default_factory=list)
    ja4: str | None = None
    client_hello_bytes: int | None = None
    error: str | None = None
    established: bool = False
    initial_bytes: bytes = b""

    def ecs(self) -> Tls:
        return Tls(established=self.established, version=self.version, cipher=self.cipher,
                   next_protocol=self.alpn_selected, client=TlsClient(server_name=self.server_name))

    def ours(self) -> HsTls:
        return HsTls(ja4=self.ja4, alpn_offered=list(self.alpn_offered),
                     client_hello_bytes=self.client_hello_bytes, error=self.error,
                     initial_bytes=self.initial_bytes if self.error else b"")


@dataclass(slots=True)
class ConnectionFacts:
    """Per-connection constants every event of the connection repeats."""

    connection_id: str
    listener: str
    persona: str
    observer: Observer
    source: Endpoint
    destination: Endpoint
    tls: TlsFacts | None = None


def authorization_credentials(authorization: str | None) -> list[PersonaCredential]:
    """Credentials carried in an Authorization header: Basic user:password, NTLM type-3 identity."""
    if not authorization:
        return []
    scheme, _, blob = authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(blob.strip(), validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return []
        user, colon, password = decoded.partition(":")
        return [PersonaCredential(scheme="basic", username=user, password=password if colon else None)]
    if scheme in ("ntlm", "negotiate"):
        return _ntlm_credentials(blob.strip())
    return []


def _ntlm_credentials(blob: str) -> list[PersonaCredential]:
    try:
        message = base64.b64decode(blob, validate=False)
        identity = ntlm.parse_authenticate(message)
    except (binascii.Error, ValueError):
        return []
    if identity is None:
        return []
    return [PersonaCredential(scheme="ntlm", username=identity.user, domain=identity.domain or None,
                              workstation=identity.workstation or None)]


def merge_credentials(first: list[PersonaCredential], second: list[PersonaCredential]) -> list[Credential]:
    """Both lists, duplicates once, as event credentials."""
    if not first and not second:
        return []
    seen: set[PersonaCredential] = set()
    merged: list[Credential] = []
    for credential in [*first, *second]:
        if credential in seen:
            continue
        seen.add(credential)
        merged.append(Credential(scheme=credential.scheme, username=credential.username,
                                 password=credential.password, domain=credential.domain,
                                 workstation=credential.workstation))
    return merged


@dataclass(slots=True)
class Exchange:
    """One request/response exchange ready to be recorded."""

    raw: RawRequest
    response: Response
    reply: Reply | None
    request_index: int
    received_at: datetime
    read_us: int
    handle_us: int
    duration_ns: int
    artifacts: list[ArtifactRef]
    forwarded_for: str | None
    source: Endpoint


def request_event(facts: ConnectionFacts, exchange: Exchange) -> HttpRequestEvent:
    """The ``http.request`` event for one exchange (well-formed or not)."""
    parts = _head_parts(exchange.raw, exchange.forwarded_for)
    return _request_event(facts, exchange, parts, parts.request_meta, parts.url, parts.user_agent, parts.request)


def encode_request_event(facts: ConnectionFacts, exchange: Exchange) -> bytes:
    """``encode_event(request_event(facts, exchange))``, the same bytes, made faster for requests that
    share a head (``RawRequest.derived``): the sub-objects that depend on the head alone (raw head, header
    list, URL, user agent) are encoded once and spliced in as ``msgspec.Raw``. A test compares both."""
    parts = _head_parts(exchange.raw, exchange.forwarded_for)
    spliced = parts.spliced()
    if spliced is None:
        return encode_event(request_event(facts, exchange))
    request_meta, url, user_agent, request = spliced
    return encode_event(_request_event(facts, exchange, parts, request_meta, url, user_agent, request))


def _request_event(
    facts: ConnectionFacts, exchange: Exchange, parts: _HeadParts, request_meta: HttpRequestMeta, url: Url,
    user_agent: UserAgent | None, request: HsRequest,
) -> HttpRequestEvent:
    reply = exchange.reply
    received_at = exchange.received_at
    return HttpRequestEvent(
        timestamp=received_at,
        event=EventMeta(id=new_event_id(int(received_at.timestamp() * 1000)), kind="event",
                        duration=exchange.duration_ns),
        observer=facts.observer,
        source=exchange.source,
        destination=facts.destination,
        http=Http(
            version=parts.version,
            request=request_meta,
            response=HttpResponseMeta(status_code=exchange.response.status,
                                      body=HttpBody(bytes=len(exchange.response.body))),
        ),
        url=url,
        user_agent=user_agent,
        tls=facts.tls.ecs() if facts.tls else None,
        honeyscope=Honeyscope(
            persona=facts.persona,
            route=reply.route if reply else "sensor.rejected",
            stage=reply.stage if reply else None,
            connection=HsConnection(id=facts.connection_id, request_index=exchange.request_index,
                                    listener=facts.listener),
            request=request,
            tls=facts.tls.ours() if facts.tls else None,
            credentials=merge_credentials(parts.credentials, reply.credentials if reply else []),
            artifacts=exchange.artifacts,
            callbacks=list(reply.callbacks) if reply else [],
            tags=list(reply.tags) if reply else [],
            timing=HsTiming(read_us=exchange.read_us, handle_us=exchange.handle_us),
        ),
    )


#: Encodes the spliced parts; configured as ``honeyscope.events.codec``'s encoder (the defaults).
_PART_ENCODER = msgspec.json.Encoder()


class _HeadParts:
    """The parts of a request's event that depend on the request alone, not on the answer or the time.

    For a request without a body they depend on its head bytes only, so requests that share a head
    (``RawRequest.derived``) share one instance: events only read these structs, and they are encoded
    as soon as they are built.
    """

    __slots__ = ("_spliced", "credentials", "forwarded_for", "request", "request_meta", "shared", "url",
                 "user_agent", "version")

    def __init__(self, raw: RawRequest, forwarded_for: str | None, *, shared: bool) -> None:
        path, _, query = raw.target.partition("?")
        user_agent = raw.headers.get("user-agent")
        self.shared = shared
        self.forwarded_for = forwarded_for
        self.credentials = authorization_credentials(raw.headers.get("authorization"))
        self.version = raw.version.removeprefix("HTTP/") or None
        self.request_meta = HttpRequestMeta(method=raw.method or None, body=HttpBody(bytes=raw.body_length))
        self.url = Url(original=raw.target, path=path, query=query or None, domain=_host_only(raw.headers.get("host")))
        self.user_agent = UserAgent(original=user_agent) if user_agent is not None else None
        self.request = HsRequest(
            head=raw.head, target=raw.target, headers=raw.headers.items, body=raw.body,
            body_sha256=raw.body_sha256, body_truncated=len(raw.body) < raw.body_length,
            body_complete=raw.body_complete, chunked=raw.chunked, error=raw.error,
            error_detail=raw.error_detail or None, forwarded_for=forwarded_for,
        )
        self._spliced: tuple[Any, Any, Any, Any] | None = None

    def spliced(self) -> tuple[Any, Any, Any, Any] | None:
        """request_meta, url, user_agent and request as pre-encoded JSON (typed Any: ``msgspec.Raw``
        stands where the event expects those structs, which the encoder writes out verbatim); None
        unless shared, where encoding once pays off."""
        if not self.shared:
            return None
        if self._spliced is None:
            encode = _PART_ENCODER.encode
            self._spliced = (
                msgspec.Raw(encode(self.request_meta)), msgspec.Raw(encode(self.url)),
                msgspec.Raw(encode(self.user_agent)) if self.user_agent is not None else None,
                msgspec.Raw(encode(self.request)),
            )
        return self._spliced


def _head_parts(raw: RawRequest, forwarded_for: str | None) -> _HeadParts:
    derived = raw.derived
    shareable = derived is not None and raw.error is None and not raw.body_length and not raw.chunked
    if not shareable or derived is None:
        return _HeadParts(raw, forwarded_for, shared=False)
    parts = derived.get("recording")
    if not isinstance(parts, _HeadParts) or parts.forwarded_for != forwarded_for:
        parts = _HeadParts(raw, forwarded_for, shared=True)
        derived["recording"] = parts
    return parts


def _host_only(host: str | None) -> str | None:
    if not host:
        return None
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def limit_event(
    now: datetime, observer: Observer, persona: str, limit: HsLimit,
    source: Endpoint | None = None, destination: Endpoint | None = None,
) -> LimitEvent:
    """A ``sensor.limit`` event."""
    return LimitEvent(
        timestamp=now,
        event=EventMeta(id=new_event_id(int(now.timestamp() * 1000)), kind="event",
                        category=["network"], type=["denied"]),
        observer=observer,
        source=source,
        destination=destination,
        honeyscope=HsLimitNs(persona=persona, limit=limit),
    )


def make_observer(name: str) -> Observer:
    return Observer(name=name, hostname=name, version=__version__)
