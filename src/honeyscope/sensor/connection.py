"""The asyncio shell around one client connection: bytes in → parser → persona → spool → bytes out.

Everything that decides anything is sans-io (parser, persona, recording); this module only moves bytes,
keeps time, and enforces the order that makes the spool trustworthy: a batch of events is handed to the
OS *before* the responses to those requests are written to the socket.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from honeyscope.events.codec import encode_event
from honeyscope.events.ids import new_event_id
from honeyscope.events.schema import (
    ArtifactRef,
    Endpoint,
    EventMeta,
    HsConnection,
    HsTlsHandshake,
    TlsHandshakeEvent,
)
from honeyscope.sensor.http.parser import (
    LIMIT_ERRORS,
    ErrorKind,
    HeadMemo,
    HttpParser,
    ParseLimits,
    RawRequest,
)
from honeyscope.sensor.http.response import HttpDate, Response, serialize_head
from honeyscope.sensor.personas.base import Artifact, AttackerStates, Persona, PersonaRequest, Reply
from honeyscope.sensor.recording import ConnectionFacts, Exchange, TlsFacts, encode_request_event

if TYPE_CHECKING:
    from honeyscope.clock import Clock
    from honeyscope.config import LimitSettings
    from honeyscope.events.schema import Observer
    from honeyscope.sensor.limits import LimitRecorder
    from honeyscope.sensor.spool import GroupCommit, SpoolWriter
    from honeyscope.sensor.tls.session import TlsServerSession

log = logging.getLogger(__name__)

@dataclass
class ListenerContext:
    """What all connections of one listener share."""

    name: str
    persona: Persona
    observer: Observer
    spool: SpoolWriter
    limits: LimitSettings
    parse_limits: ParseLimits
    clock: Clock
    states: AttackerStates
    recorder: LimitRecorder
    commit: GroupCommit
    trusted_proxies: frozenset[str]
    connections: set[HttpConnection]
    tls_factory: Callable[[], TlsServerSession] | None = None
    date: HttpDate = field(default_factory=HttpDate)
    scheme: str = "http"
    #: Heads parsed before, shared by this listener's connections (see ``HeadMemo``).
    head_memo: HeadMemo = field(init=False)
    turn: TurnClock = field(init=False)

    def __post_init__(self) -> None:
        self.head_memo = HeadMemo(self.parse_limits)
        self.turn = TurnClock(self.clock, self.date, self.commit)


class TurnClock:
    """The time, and the ``Date`` header text, of the event-loop turn now running.

    Read once per turn rather than once per request: the requests answered in one turn arrived in the
    same batch of reads, and reading and converting the clock was a measurable share of a request's
    cost. The turn ends with the group commit's flush, which makes the next reading fresh.
    """

    __slots__ = ("_clock", "_commit", "_date", "_moment")

    def __init__(self, clock: Clock, date: HttpDate, commit: GroupCommit) -> None:
        self._clock = clock
        self._date = date
        self._commit = commit
        self._moment: tuple[datetime, str] | None = None

    def now(self) -> tuple[datetime, str]:
        """(UTC time, HTTP date) of this turn."""
        if self._moment is None:
            self._moment = (self._clock.now(), self._date.now())
            self._commit.submit([], self._forget)
        return self._moment

    def _forget(self) -> None:
        self._moment = None


class HttpConnection(asyncio.Protocol):
    """One client connection (plain or TLS)."""

    def __init__(self, context: ListenerContext) -> None:
        self.ctx = context
        self.transport: asyncio.Transport | None = None
        self.parser = HttpParser(context.parse_limits, context.head_memo)
        self.tls: TlsServerSession | None = None
        self.facts: ConnectionFacts | None = None
        self.requests_served = 0
        self.closing = False
        self.connection_state: dict[str, Any] = {}
        now = context.clock.monotonic()
        self.last_activity = now
        #: When the request now in progress began, and how many bytes of it have arrived.
        self.head_started: float | None = None
        self.progress_bytes = 0
        self.write_paused_since: float | None = None
        self._first_byte_ns = 0

    # -- asyncio callbacks -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        transport = self.transport
        peer = transport.get_extra_info("peername") or ("0.0.0.0", 0)
        local = transport.get_extra_info("sockname") or ("0.0.0.0", 0)
        self.facts = ConnectionFacts(
            connection_id=new_event_id()[-17:].replace("-", ""),
            listener=self.ctx.name,
            persona=self.ctx.persona.name,
            observer=self.ctx.observer,
            source=Endpoint(ip=_ip_text(peer[0]), port=int(peer[1])),
            destination=Endpoint(ip=_ip_text(local[0]), port=int(local[1])),
        )
        if len(self.ctx.connections) >= self.ctx.limits.max_connections:
            self.ctx.recorder.hit("max_connections", self.ctx.limits.max_connections,
                                  len(self.ctx.connections), facts=self.facts)
            transport.abort()
            return
        self.ctx.connections.add(self)
        transport.set_write_buffer_limits(high=256 * 1024)
        if self.ctx.tls_factory is not None:
            self.tls = self.ctx.tls_factory()
            self.facts.tls = TlsFacts()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        now = self.ctx.clock.monotonic()
        self.last_activity = now
        if not self._first_byte_ns:
            self._first_byte_ns = time.perf_counter_ns()
        if self.tls is not None:
            data = self._tls_in(data)
            if not data:
                # A handshake in progress is a request in progress: header_timeout bounds it too
                # (a ClientHello trickled byte by byte is TLS slowloris).
                if self.tls.handshake_done and not self.parser.in_progress:
                    self.head_started = None
                elif self.head_started is None:
                    self.head_started = now
                    self.progress_bytes = 0
                return
        if not self.parser.in_progress:
            self.head_started = now
            self.progress_bytes = 0
        self.progress_bytes += len(data)
        requests = self.parser.feed(data)
        if requests:
            self._serve(requests)
        if not self.parser.in_progress or self.closing:
            self.head_started = None
        elif requests:
            self.head_started = now  # a pipelined request has begun behind the ones just answered

    def eof_received(self) -> bool | None:
        self._record_partial()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._record_partial()
        self.ctx.connections.discard(self)
        self.closing = True

    def pause_writing(self) -> None:
        # The client is not reading our responses: stop reading its requests (bounded memory).
        self.write_paused_since = self.ctx.clock.monotonic()
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused_since = None
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()

    # -- TLS -------------------------------------------------------------------------------------

    def _tls_in(self, data: bytes) -> bytes:
        tls = self.tls
        assert tls is not None and self.transport is not None and self.facts is not None
        was_done = tls.handshake_done
        plaintext = tls.feed(data)
        outgoing = tls.outgoing()
        if outgoing:
            self.transport.write(outgoing)
        if tls.failed:
            self._record_tls(established=False)
            if not tls.handshake_done:
                self._record_plaintext_attempt(tls.initial_bytes)
            self.close()
            return b""
        if tls.handshake_done and not was_done:
            self._record_tls(established=True)
        return plaintext

    def _record_tls(self, *, established: bool) -> None:
        tls = self.tls
        facts = self.facts
        assert tls is not None and facts is not None and facts.tls is not None
        hello = tls.client_hello
        facts.tls = TlsFacts(
            version=tls.tls_version, cipher=tls.cipher, server_name=tls.sni, alpn_selected=tls.alpn_selected,
            alpn_offered=list(tls.alpn_offered), ja4=tls.ja4,
            client_hello_bytes=hello.length if hello is not None else None,
            error=tls.error, established=established, initial_bytes=tls.initial_bytes,
        )
        now = self.ctx.clock.now()
        event = TlsHandshakeEvent(
            timestamp=now,
            event=_handshake_meta(now),
            observer=facts.observer, source=facts.source, destination=facts.destination,
            tls=facts.tls.ecs(),
            honeyscope=HsTlsHandshake(persona=facts.persona, tls=facts.tls.ours(),
                                      connection=HsConnection(id=facts.connection_id, listener=facts.listener)),
        )
        self.ctx.spool.append([encode_event(event)])

    def _record_plaintext_attempt(self, data: bytes) -> None:
        """Bytes that were not TLS at all on a TLS port (often plain HTTP): keep them as requests.

        http.sys answers nothing here and drops the connection; we do the same, but the attempt — its
        path, headers, or raw garbage — is recorded like any malformed request.
        """
        parser = HttpParser(self.ctx.parse_limits)
        requests = parser.feed(data)
        partial = parser.eof()
        if partial is not None:
            requests.append(partial)
        payloads = []
        for raw in requests:
            raw.error = ErrorKind.NOT_TLS
            raw.error_detail = "plaintext (not a TLS ClientHello) on a TLS listener; connection dropped"
            self.requests_served += 1
            exchange = Exchange(
                raw=raw, response=Response(0), reply=None, request_index=self.requests_served,
                received_at=self.ctx.clock.now(), read_us=0, handle_us=0, duration_ns=0, artifacts=[],
                forwarded_for=None, source=self._facts().source,
            )
            payloads.append(encode_request_event(self._facts(), exchange))
        self.ctx.spool.append(payloads)

    def _send(self, data: bytes) -> None:
        assert self.transport is not None
        if self.tls is None:
            self.transport.write(data)
            return
        self.tls.send(data)
        self.transport.write(self.tls.outgoing())

    # -- requests --------------------------------------------------------------------------------

    def _serve(self, requests: list[RawRequest]) -> None:
        """Answer a batch of pipelined requests: record all, then send all."""
        ctx = self.ctx
        facts = self._facts()
        max_requests = ctx.limits.max_requests_per_connection
        received_at, date = ctx.turn.now()
        read_us = (time.perf_counter_ns() - self._first_byte_ns) // 1000
        payloads: list[bytes] = []
        wire: list[bytes] = []
        close = False
        for raw in requests:
            self.requests_served += 1
            response, exchange = self._answer(raw, read_us, received_at)
            payloads.append(encode_request_event(facts, exchange))
            over_limit = self.requests_served >= max_requests
            if over_limit:
                ctx.recorder.hit("max_requests_per_connection", max_requests, self.requests_served, facts=facts)
            close = response.close or not raw.keep_alive or over_limit
            if close and not response.close:
                response = replace(response, close=True)  # never mutate: personas may share responses
            wire.append(serialize_head(response, date))
            if response.body and not (response.omit_body or raw.method == "HEAD"):
                wire.append(response.body)  # HEAD: the GET's headers (Content-Length too), no body
            if close:
                break
        self._first_byte_ns = time.perf_counter_ns() if self.parser.in_progress else 0
        if close:
            self.closing = True  # read nothing more; the response still goes out in _deliver
        ctx.commit.submit(payloads, lambda: self._deliver(wire, close))

    def _deliver(self, wire: list[bytes], close: bool) -> None:
        """Runs once this batch's events are in the spool: send the responses."""
        if self.transport is None or self.transport.is_closing():
            return
        if self.tls is None:
            self.transport.writelines(wire)  # no copy of the bodies into one buffer first
        else:
            self._send(b"".join(wire))
        if close:
            self._close_transport()

    def _answer(self, raw: RawRequest, read_us: int, received_at: datetime) -> tuple[Response, Exchange]:
        started = time.perf_counter_ns()
        source, forwarded_for = self._effective_source(raw)
        reply: Reply | None = None
        if raw.error is not None:
            if raw.error in LIMIT_ERRORS:
                self.ctx.recorder.hit(raw.error, _configured_limit(self.ctx.parse_limits, raw.error),
                                      None, facts=self.facts)
            response = self.ctx.persona.reject(raw)
        else:
            reused = self._reuse(raw, source)
            if reused is not None:
                reply, response = reused
            else:
                reply = self._handle(raw, source, received_at)
                self._remember(raw, source, reply)
                response = reply.response if reply is not None else self.ctx.persona.internal_error()
        handled = time.perf_counter_ns()
        artifacts = self._store_artifacts(reply.artifacts) if reply is not None and reply.artifacts else []
        exchange = Exchange(
            raw=raw, response=response, reply=reply, request_index=self.requests_served,
            received_at=received_at, read_us=read_us, handle_us=(handled - started) // 1000,
            duration_ns=handled - (self._first_byte_ns or started), artifacts=artifacts,
            forwarded_for=forwarded_for, source=source,
        )
        return response, exchange

    def _handle(self, raw: RawRequest, source: Endpoint, now: datetime) -> Reply | None:
        facts = self._facts()
        path, _, query = raw.target.partition("?")
        request = PersonaRequest(
            method=raw.method, target=raw.target, path=path, query=query, version=raw.version,
            headers=raw.headers, body=raw.body, body_length=raw.body_length, scheme=self.ctx.scheme,
            source_ip=source.ip, source_port=source.port, local_ip=facts.destination.ip,
            local_port=facts.destination.port, now=now,
            state=self.ctx.states.for_source(source.ip), connection_state=self.connection_state,
            server_name=facts.tls.server_name if facts.tls else None,
        )
        try:
            return self.ctx.persona.handle(request)
        except Exception:
            # A persona bug must never show a traceback to an attacker: answer as IIS's 500 and record.
            log.exception("persona %s failed on %s %r", facts.persona, raw.method, raw.target[:200])
            return None

    # Scanners repeat identical requests. A reply the persona marked reusable is kept with the parsed head
    # (``RawRequest.derived``) and given again, renewed, to the same request on this listener from any
    # source the persona holds no state for — skipping the persona's walk through its exploit-chain
    # handlers and routes, which was the largest cost of such a request.

    def _reuse_key(self) -> tuple[object, ...]:
        facts = self._facts()
        return (_REUSE, facts.destination.ip, facts.destination.port, facts.tls.server_name if facts.tls else None)

    def _reuse(self, raw: RawRequest, source: Endpoint) -> tuple[Reply, Response] | None:
        """The reply kept for this request's head (shared: read, never changed) and its response renewed,
        if it may be reused here."""
        derived = raw.derived
        if derived is None or self.connection_state or self.ctx.states.holds(source.ip):
            return None
        known = derived.get(self._reuse_key())
        if not isinstance(known, Reply):
            return None
        response = known.response.renewed()
        return (known, response) if response is not None else None

    def _remember(self, raw: RawRequest, source: Endpoint, reply: Reply | None) -> None:
        """Keep a reusable reply with its head, if nothing about this request was stateful."""
        derived = raw.derived
        if derived is None or reply is None or not reply.reusable or reply.artifacts \
                or self.connection_state or self.ctx.states.holds(source.ip) or len(derived) >= _REUSE_LIMIT:
            return
        kept = reply.renewed()
        if kept is not None:
            derived[self._reuse_key()] = kept

    def _store_artifacts(self, artifacts: list[Artifact]) -> list[ArtifactRef]:
        refs = []
        for artifact in artifacts:
            digest = self.ctx.spool.store_artifact(artifact.content)
            refs.append(ArtifactRef(sha256=digest, size=len(artifact.content), kind=artifact.kind,
                                    name=artifact.name))
        return refs

    def _effective_source(self, raw: RawRequest) -> tuple[Endpoint, str | None]:
        """The socket address, unless it is a trusted proxy that names the client in X-Forwarded-For."""
        facts = self._facts()
        claimed = raw.headers.get("x-forwarded-for")
        if claimed is None or facts.source.ip not in self.ctx.trusted_proxies:
            return facts.source, claimed
        last_hop = claimed.split(",")[-1].strip()
        try:
            return Endpoint(ip=_ip_text(last_hop), port=0), claimed
        except ValueError:
            return facts.source, claimed

    def _record_partial(self) -> None:
        """Record what arrived of a request the client never finished (no response is sent)."""
        if self.facts is None or self.closing:
            return
        tls = self.tls
        if tls is not None and not tls.handshake_done and not tls.failed:
            tls.abandon()
            if tls.initial_bytes:
                self._record_tls(established=False)
            return
        raw = self.parser.eof()
        if raw is None:
            return
        self.requests_served += 1
        response = Response(0)
        exchange = Exchange(
            raw=raw, response=response, reply=None, request_index=self.requests_served,
            received_at=self.ctx.clock.now(), read_us=0, handle_us=0, duration_ns=0, artifacts=[],
            forwarded_for=None, source=self.facts.source,
        )
        self.ctx.spool.append([encode_request_event(self.facts, exchange)])

    def _facts(self) -> ConnectionFacts:
        assert self.facts is not None
        return self.facts

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close after flushing what we wrote (as IIS does after ``Connection: close``)."""
        if self.closing:
            return
        self.closing = True
        self._close_transport()

    def _close_transport(self) -> None:
        self.ctx.connections.discard(self)
        if self.transport is not None and not self.transport.is_closing():
            if self.tls is not None:
                self.tls.close_notify()
                outgoing = self.tls.outgoing()
                if outgoing:
                    self.transport.write(outgoing)
            self.transport.close()

    def abort(self, limit: str, configured: float, observed: float) -> None:
        """Drop the connection because it hit a limit; record the unfinished request and the hit."""
        self.ctx.recorder.hit(limit, configured, observed, facts=self.facts)
        self._record_partial()
        self.closing = True
        self.ctx.connections.discard(self)
        if self.transport is not None:
            self.transport.abort()


_REUSE = "connection.reply"
#: Replies kept per head: one per local address and TLS server name, which clients choose (bounded).
_REUSE_LIMIT = 8


def _handshake_meta(now: datetime) -> EventMeta:
    return EventMeta(id=new_event_id(int(now.timestamp() * 1000)), category=["network"], type=["connection"])


def _configured_limit(limits: ParseLimits, error: str) -> float:
    mapping = {
        "request_line_too_long": limits.max_request_line_bytes,
        "head_too_large": limits.max_head_bytes,
        "too_many_headers": limits.max_header_count,
        "body_too_large": limits.max_body_bytes,
    }
    return float(mapping.get(error, 0))


def _ip_text(address: str) -> str:
    """Normalised textual address (IPv4-mapped IPv6 shown as IPv4); raises ValueError if not an IP."""
    parsed = ipaddress.ip_address(address.split("%")[0])
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)
