"""The sensor process: listeners, the per-second sweeper (timeouts, limit summaries), start and stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from honeyscope.clock import Clock, SystemClock
from honeyscope.config import (
    ConfigError,
    LimitSettings,
    ListenerSettings,
    SensorSettings,
    default_sensor_name,
    parse_address,
)
from honeyscope.events.codec import encode_event
from honeyscope.events.ids import new_event_id
from honeyscope.events.schema import EventMeta, HsLifecycle, HsLifecycleNs, SensorLifecycleEvent
from honeyscope.sensor.connection import HttpConnection, ListenerContext
from honeyscope.sensor.http.parser import ParseLimits
from honeyscope.sensor.limits import LimitRecorder
from honeyscope.sensor.personas.base import AttackerStates, Persona
from honeyscope.sensor.recording import make_observer
from honeyscope.sensor.spool import GroupCommit, SpoolWriter

if TYPE_CHECKING:
    from honeyscope.sensor.tls.session import TlsServerSession

log = logging.getLogger(__name__)


@dataclass
class BoundListener:
    """A listener that is accepting connections, with the address it really bound (port 0 resolved)."""

    settings: ListenerSettings
    host: str
    port: int
    server: asyncio.Server
    context: ListenerContext


@dataclass
class Sensor:
    """One sensor process: several listeners, each serving one persona, one shared spool."""

    settings: SensorSettings
    personas: dict[str, Persona]
    clock: Clock = field(default_factory=SystemClock)
    listeners: list[BoundListener] = field(default_factory=list)
    _sweeper: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        name = self.settings.name or default_sensor_name()
        self.observer = make_observer(name)
        spool = self.settings.spool
        self.spool = SpoolWriter(Path(spool.directory), segment_bytes=spool.segment_bytes, fsync=spool.fsync)
        self.recorder = LimitRecorder(self.spool, self.clock, self.observer)
        self.states: dict[str, AttackerStates] = {}
        self.connections: set[HttpConnection] = set()
        self._group_commit: GroupCommit | None = None

    async def start(self) -> list[BoundListener]:
        """Bind every listener; raises ConfigError with one clear line if one cannot be bound."""
        if not self.settings.listeners:
            raise ConfigError("no listener configured — pass --http HOST:PORT and/or --https HOST:PORT")
        for listener in self.settings.listeners:
            self.listeners.append(await self._bind(listener))
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        self._lifecycle("start")
        return self.listeners

    async def _bind(self, listener: ListenerSettings) -> BoundListener:
        host, port = parse_address(listener.address)
        persona = self.personas.get(listener.persona)
        if persona is None:
            raise ConfigError(f"listener {listener.address}: persona {listener.persona!r} is not loaded")
        context = self._context(listener, persona)
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(lambda: HttpConnection(context), host, port,
                                              reuse_address=True, backlog=4096)
        except OSError as error:
            hint = "use a port above 1023 or see docs/operations.md" if port < 1024 else "pick a free port"
            raise ConfigError(f"cannot listen on {listener.address}: {error.strerror} — {hint}") from None
        bound = server.sockets[0].getsockname()
        log.info("listening on %s:%s (%s, persona %s)", bound[0], bound[1],
                 "https" if listener.tls else "http", listener.persona)
        return BoundListener(listener, str(bound[0]), int(bound[1]), server, context)

    def _context(self, listener: ListenerSettings, persona: Persona) -> ListenerContext:
        limits = self.settings.limits
        return ListenerContext(
            name=listener.address, persona=persona, observer=self.observer, spool=self.spool, limits=limits,
            parse_limits=ParseLimits(
                max_request_line_bytes=limits.max_request_line_bytes, max_head_bytes=limits.max_head_bytes,
                max_header_count=limits.max_header_count, body_store_bytes=limits.body_store_bytes,
                max_body_bytes=limits.max_body_bytes,
            ),
            clock=self.clock,
            states=self.states.setdefault(persona.name, AttackerStates(limits.max_attackers)),
            recorder=self.recorder, commit=self._commit(), trusted_proxies=frozenset(self.settings.trusted_proxies),
            connections=self.connections,
            tls_factory=self._tls_factory(listener, persona) if listener.tls else None,
            scheme="https" if listener.tls else "http",
        )

    def _commit(self) -> GroupCommit:
        if self._group_commit is None:
            self._group_commit = GroupCommit(self.spool, asyncio.get_running_loop().call_soon)
        return self._group_commit

    def _tls_factory(self, listener: ListenerSettings, persona: Persona) -> Callable[[], TlsServerSession]:
        import ssl

        from honeyscope.sensor.tls.certs import CertificateConfigError, ensure_certificate, load_user_certificate
        from honeyscope.sensor.tls.session import TlsServerSession, make_server_context

        if listener.certificate or listener.key:
            if not (listener.certificate and listener.key):
                raise ConfigError(f"listener {listener.address}: give both certificate and key, or neither")
            cert, key = Path(listener.certificate), Path(listener.key)
            try:
                load_user_certificate(cert, key)
            except CertificateConfigError as error:
                raise ConfigError(f"listener {listener.address}: {error}") from None
        else:
            common_name, names = persona.certificate_names()
            cert, key = ensure_certificate(Path(self.settings.state_dir) / persona.name,
                                           common_name=common_name, dns_names=names)
        # The emulated Windows decides the highest TLS version (Server 2016/2019 SChannel: TLS 1.2).
        maximum = ssl.TLSVersion.TLSv1_3 if persona.tls_maximum_version == "1.3" else ssl.TLSVersion.TLSv1_2
        context = make_server_context(cert, key, maximum_version=maximum)
        return lambda: TlsServerSession(context)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.sweep()
            except Exception:  # the sweeper must survive anything; it guards every other connection
                log.exception("sweeper failed")

    def sweep(self) -> None:
        """Enforce timeouts on every connection and write folded limit events."""
        now = self.clock.monotonic()
        limits = self.settings.limits
        for connection in list(self.connections):
            verdict = _timeout_verdict(connection, now, limits)
            if verdict is not None:
                connection.abort(*verdict)
        self.recorder.flush()

    def _lifecycle(self, action: str, detail: str | None = None) -> None:
        now = self.clock.now()
        event = SensorLifecycleEvent(
            timestamp=now,
            event=EventMeta(id=new_event_id(int(now.timestamp() * 1000)), category=["host"], type=[action]),
            observer=self.observer,
            honeyscope=HsLifecycleNs(sensor=HsLifecycle(
                action=action, listeners=[f"{b.host}:{b.port}" for b in self.listeners],
                personas=sorted(self.personas), dropped_events=self.spool.dropped_events, detail=detail)),
        )
        self.spool.append([encode_event(event)])

    async def stop(self) -> None:
        """Stop accepting, close connections, write the stop event, close the spool."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for bound in self.listeners:
            bound.server.close()
        for connection in list(self.connections):
            connection.close()
        for bound in self.listeners:
            await bound.server.wait_closed()
        self.recorder.flush()
        if self._group_commit is not None:
            self._group_commit.flush()
        self._lifecycle("stop")
        self.spool.close()


def _timeout_verdict(connection: HttpConnection, now: float, limits: LimitSettings) -> tuple[str, float, float] | None:
    """Which timeout (name, configured value, observed value) this connection has exceeded, if any.

    A request in progress gets ``header_timeout`` seconds; after that it may continue only while its
    bytes keep arriving at ``min_body_rate`` or better (slowloris and slow-POST both fail this).
    """
    paused = connection.write_paused_since
    if paused is not None and now - paused > limits.send_timeout:
        return "send_timeout", limits.send_timeout, now - paused
    started = connection.head_started
    if started is not None and now - started > limits.header_timeout:
        rate = connection.progress_bytes / (now - started)
        if not connection.parser.receiving_body:
            return "header_timeout", limits.header_timeout, now - started
        if rate < limits.min_body_rate:
            return "min_body_rate", limits.min_body_rate, rate
    if now - connection.last_activity > limits.idle_timeout:
        return "idle_timeout", limits.idle_timeout, now - connection.last_activity
    return None


def install_fast_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory where available (Linux/macOS); None means asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory

