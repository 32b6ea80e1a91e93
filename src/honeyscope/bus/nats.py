"""NATS JetStream transport: many sensors publish, many collectors share one durable pull consumer.

Layout on the server: one file-backed stream (``bus.stream``) over ``<subject_prefix>.>`` with work-queue
retention (a message leaves the stream once a collector acknowledged it), a duplicate window that drops
re-published messages (``Nats-Msg-Id``: the event id, or a digest of a pack's ids), and ``discard: new``
so a full stream refuses publishes instead of deleting unconsumed events. One durable pull consumer
(``bus.consumer``, explicit acks) is shared by every collector: each event goes to one of them.

Speed, measured (see docs/bus.md): the protocol work per NATS message (framing, parsing, one stored
message, one ack) cost client and server more than the event itself, so consecutive events are packed
into messages of up to ``bus.pack_bytes`` (``pack_messages``; a collector gets one delivery per event
back, ``_PackAnswer`` acks the pack with its last event). nats-py's own ``publish_async`` and ``fetch``
pay a task or a JSON parse per message, so both ends are written here on nats-py's core
publish/subscribe:

* publishing sends a whole batch before waiting. With JetStream *fast-ingest* batches (nats-server 2.14+)
  the server acknowledges every 100 messages and once at the end of the batch (its commit); older
  servers get one reply subject per message and every acknowledgement is counted. Deduplication by
  ``Nats-Msg-Id`` works in both modes.
* fetching sends one pull request per batch; deliveries reach a plain function with the wire bytes
  (``_Client.subscribe_raw``: no ``Msg``, header dict, queue or task per message) and the event id and
  delivery count are read from those bytes when ``fetch`` hands them out. The acks of a batch go out as
  one write of one ``+ACK`` per message (never ``AckAll``: collectors share the consumer), fire and
  forget (no round trip). A lost ack only means a redelivery, which the store drops by event id.

nats-py retries a dead connection in the background; while it is down every call raises
``BusUnavailableError`` at once, so the shipper backs off and the collector waits, instead of stuffing
nats-py's reconnect buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import hashlib
import importlib.util
import logging
import os
import secrets
import ssl
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from honeyscope.bus.base import BusUnavailableError, Delivery, MessageTooLargeError, Outgoing
from honeyscope.config import BusSettings, ConfigError

log = logging.getLogger(__name__)

_MSG_ID: Final = "Nats-Msg-Id"
_MSG_ID_LINE: Final = b"\r\nNats-Msg-Id:"
#: Header of a pack: how many events (JSON documents, one per line) its payload holds.
_PACK_COUNT: Final = "Honeyscope-Events"
_PACK_LINE: Final = b"\r\nHoneyscope-Events:"
#: Most events one pack may hold (256 KiB of real events is under a thousand). A message claiming more,
#: or holding another number of lines than it claims, is not split: it reaches the collector as one
#: undecodable delivery, set aside with its bytes — so a malformed message cannot become millions of
#: deliveries in memory.
MAX_PACK_EVENTS: Final = 4096
#: How a packed event's id is found in its JSON (``EventMeta.id`` is the first field of ``event``).
_EVENT_ID_KEY: Final = b'"event":{"id":"'
_STATUS: Final = "Status"
_ACK: Final = b"+ACK"
#: Messages per JetStream batch (the server's per-batch ceiling for atomic batches is 1000 too).
_BATCH: Final = 1000
#: Fast-ingest: ask the server for a flow acknowledgement every this many messages.
_FLOW: Final = 100
#: Bytes one pull request may bring (JetStream ``max_bytes``), at least two of the server's largest
#: messages: what a collector holds fetched but not yet handed out stays bounded whatever the packing.
_PULL_BYTES: Final = 16 * 2**20
#: Header and protocol bytes NATS counts against ``max_payload`` beside the event itself.
_HEADER_ROOM: Final = 128
#: Pull requests outlive the caller's timeout by this much before we stop waiting for their end.
_GRACE: Final = 0.25
#: After the first deliveries of a waiting fetch arrive, how long to gather the rest of their burst.
_GATHER: Final = 0.005
#: First connection: how often nats-py tries each server before we report it unreachable.
_CONNECT_ATTEMPTS: Final = 1


class _ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _ApiReply(msgspec.Struct):
    """A JetStream reply to a publish: a PubAck, a fast-ingest flow ack, or an error."""

    error: _ApiError | None = None
    count: int | None = None


_REPLY: Final = msgspec.json.Decoder(_ApiReply)


async def connect_nats(settings: BusSettings, *, name: str) -> NatsBus:
    """Connect, create or update the stream, and return the bus. Raises ``BusUnavailableError`` with one
    clear line when no server answers or the credentials are refused, ``ConfigError`` for bad settings."""
    bus = NatsBus(settings, name=name)
    await bus.connect()
    return bus


class NatsBus:
    """One connection to NATS JetStream; hands out publishers and subscribers that use it.

    Created without connecting: the first ``connect()`` — or the first publish or fetch — connects, so a
    shipper can start while NATS is still down and catch up once it is reachable.
    """

    def __init__(self, settings: BusSettings, *, name: str) -> None:
        self.settings = settings
        self.name = name
        self._nc: Client | None = None
        self._connecting: asyncio.Future[None] | None = None
        self._publishers: weakref.WeakSet[NatsPublisher] = weakref.WeakSet()
        self._last_error: BaseException | None = None
        self._batched = False
        self._stream_ready = False
        #: Bumped on every new connection, so the ends know to subscribe their inboxes again.
        self.generation = 0
        # Built now so that missing TLS or credential files are a ConfigError at once, not at first use.
        self._connect_options = self._options()

    @property
    def servers(self) -> str:
        """The configured server URLs, without any credentials in them (for messages)."""
        return ", ".join(_redact(url) for url in self.settings.servers)

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def batch_publishing(self) -> bool:
        """True when publishes use JetStream fast-ingest batches."""
        return self._batched

    @property
    def subject_prefix(self) -> str:
        return self.settings.subject_prefix

    def publisher(self) -> NatsPublisher:
        """A publishing end (publish ``Outgoing`` events on ``<prefix>.<sensor>``)."""
        publisher = NatsPublisher(self)
        self._publishers.add(publisher)
        return publisher

    async def subscriber(self) -> NatsSubscriber:
        """A consuming end on the shared durable consumer (created or updated here)."""
        nc = await self.client()
        await self._ensure_consumer(nc)
        return NatsSubscriber(self)

    async def connect(self) -> None:
        """Connect if not connected, and ensure the stream. Raises ``BusUnavailableError``."""
        if self._nc is not None and not self._nc.is_closed:
            return
        # One attempt at a time, shared by every caller, and shielded: a caller that gives up (a shipper
        # stopping, a cancelled publish) must not cancel nats-py half way through connecting.
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(_retrieve)
        await asyncio.shield(self._connecting)

    async def _connect(self) -> None:
        self._last_error = None
        nc = _Client()
        try:
            await nc.connect(**self._connect_options)
        except Exception as error:  # nats-py ends with NoServersError; the reason came via error_cb
            raise self._unavailable(error) from None
        # The first connection gives up quickly (a clear error beats a silent minute of retries); from
        # now on nats-py reconnects in the background for as long as it takes.
        nc.options["max_reconnect_attempts"] = -1
        nc.options["reconnect_time_wait"] = 2.0
        try:
            await self._ensure_stream(nc)
        except BaseException:
            await nc.close()
            raise
        self._nc = nc
        self._stream_ready = True
        self.generation += 1
        log.info("connected to NATS at %s: stream %s, %s", self.servers, self.settings.stream,
                 "fast-ingest batch publishing" if self._batched else "one ack per event")

    async def client(self) -> Client:
        """The connected client (connecting first if needed); ``BusUnavailableError`` while it is down."""
        if self._nc is None or self._nc.is_closed:
            await self.connect()
        nc = self._nc
        assert nc is not None
        if not nc.is_connected:
            raise BusUnavailableError(f"lost the connection to NATS at {self.servers}; reconnecting in the "
                                      "background — check that nats-server runs")
        if not self._stream_ready:  # the stream vanished (a wiped server): create it again
            await self._ensure_stream(nc)
            self._stream_ready = True
        return nc

    def stream_missing(self) -> None:
        """A publish found no stream on the subject: ensure it again before the next use."""
        self._stream_ready = False

    async def close(self) -> None:
        """Send what is buffered (acks included) and close the connection."""
        if self._connecting is not None and not self._connecting.done():  # let it finish, then close it
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._connecting), 10)
        nc, self._nc = self._nc, None
        if nc is None or nc.is_closed:
            return
        with contextlib.suppress(Exception):
            if nc.is_connected:
                await nc.flush(timeout=2)
        with contextlib.suppress(Exception):
            await nc.close()

    # --- connection ---------------------------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        settings = self.settings
        options: dict[str, Any] = {
            "servers": list(settings.servers), "name": self.name, "connect_timeout": 2.0,
            "allow_reconnect": True, "max_reconnect_attempts": _CONNECT_ATTEMPTS, "reconnect_time_wait": 0.2,
            "ping_interval": 20, "max_outstanding_pings": 3, "pending_size": 8 * 1024 * 1024,
            "error_cb": self._on_error, "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
        }
        if settings.user is not None:
            options["user"] = settings.user
            options["password"] = settings.password or ""
        if settings.token is not None:
            options["token"] = settings.token
        if settings.credentials is not None:
            options["user_credentials"] = _credentials_file(settings.credentials)
        context = _tls_context(settings)
        if context is not None:
            options["tls"] = context
        return options

    async def _on_error(self, error: Exception) -> None:
        # A refused login is followed by the server closing the socket ("connection reset"): the
        # refusal is the reason worth reporting, so it is not overwritten.
        if self._last_error is None or not _is_auth_error(self._last_error):
            self._last_error = error
        log.debug("NATS: %s", _describe(error))

    async def _on_disconnected(self) -> None:
        if self._nc is not None:
            log.warning("lost the connection to NATS at %s; reconnecting in the background", self.servers)
        # Acknowledgements for what is in flight will not come: fail those publishes now rather than at
        # their timeout, so the shipper's retry starts at once.
        for publisher in list(self._publishers):
            publisher.fail_pending(f"lost the connection to NATS at {self.servers} while publishing")

    async def _on_reconnected(self) -> None:
        log.info("reconnected to NATS at %s", self.servers)

    def _unavailable(self, error: BaseException) -> BusUnavailableError:
        reason = self._last_error or error
        text = _describe(reason)
        if _is_auth_error(reason):
            return BusUnavailableError(f"NATS at {self.servers} refused the credentials ({text}) — check "
                                       "bus.user/bus.password, bus.token or bus.credentials")
        return BusUnavailableError(f"cannot reach NATS at {self.servers}: {text} — start nats-server or fix "
                                   "bus.servers")

    # --- stream and consumer ------------------------------------------------------------------------

    async def _ensure_stream(self, nc: Client) -> None:
        settings = self.settings
        js = nc.jetstream(timeout=5.0)
        version = nc.connected_server_version
        batched = settings.publish_batches and (version.major, version.minor) >= (2, 14)
        wanted: dict[str, Any] = {
            "subjects": [f"{settings.subject_prefix}.>"], "duplicate_window": settings.duplicate_window,
            "max_bytes": settings.max_bytes if settings.max_bytes > 0 else -1, "discard": DiscardPolicy.NEW,
        }
        if batched:
            wanted["allow_batched"] = True
        try:
            try:
                info = await js.stream_info(settings.stream)
            except nats.js.errors.NotFoundError:
                info = await js.add_stream(StreamConfig(name=settings.stream, retention=RetentionPolicy.WORK_QUEUE,
                                                        storage=StorageType.FILE, **wanted))
            else:
                self._check_kind(info.config)
                updated = dataclasses.replace(info.config, **wanted)
                if updated != info.config:
                    info = await js.update_stream(updated)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
            raise BusUnavailableError(f"NATS at {self.servers} has no JetStream — start nats-server with -js "
                                      "(JetStream enabled)") from None
        except nats.js.errors.APIError as error:
            raise ConfigError(f"bus.stream {settings.stream!r}: NATS refused the stream settings "
                              f"({error.description}) — fix [bus] or the stream on the server") from None
        self._batched = batched and bool(info.config.allow_batched)

    def _check_kind(self, config: StreamConfig) -> None:
        if config.retention != RetentionPolicy.WORK_QUEUE or config.storage != StorageType.FILE:
            raise ConfigError(
                f"bus.stream {self.settings.stream!r} exists on NATS with retention "
                f"{_value(config.retention)} and {_value(config.storage)} storage; honeyscope needs a workqueue "
                f"stream on file storage — delete it (nats stream rm {self.settings.stream}) or set bus.stream "
                "to another name")

    async def _ensure_consumer(self, nc: Client) -> None:
        settings = self.settings
        config = ConsumerConfig(durable_name=settings.consumer, ack_policy=AckPolicy.EXPLICIT,
                                deliver_policy=DeliverPolicy.ALL, ack_wait=settings.ack_wait, max_deliver=-1,
                                max_ack_pending=settings.max_ack_pending)
        js = nc.jetstream(timeout=5.0)
        try:
            await js.add_consumer(settings.stream, config)
        except nats.js.errors.APIError as error:
            raise ConfigError(f"bus.consumer {settings.consumer!r}: NATS refused the consumer settings "
                              f"({error.description}) — fix [bus] or remove the consumer on the server") from None
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
            raise BusUnavailableError(f"NATS at {self.servers} did not answer the JetStream API") from None


#: A raw delivery handler: (subject, reply, payload, header block) exactly as they came off the wire.
_RawHandler = Callable[[bytes, bytes, bytes, bytes | None], None]


class _Client(Client):
    """nats-py's client with two lean paths for the collector's hot loop (everything else is nats-py's).

    * ``subscribe_raw``: messages to that subscription go straight to a plain function with the bytes
      the protocol parser produced — no header dict, no ``Msg``, no subscription queue or task, no
      coroutine per message. (In nats-py those were ≈ 40 % of the consume CPU; see docs/bus.md.)
    * ``publish_many``: many ready-made ``PUB`` commands appended to the outgoing buffer as one, with
      the checks ``publish`` makes (closed, draining, buffer limit while reconnecting).

    Both rest on nats-py internals (``_process_msg``, ``_send_command``, ``_flush_pending``) that have
    kept their shape through the 2.x releases; the bus tests exercise them against a real server.
    """

    def __init__(self) -> None:
        super().__init__()
        self._raw: dict[int, _RawHandler] = {}

    async def subscribe_raw(self, subject: str, handler: _RawHandler) -> Subscription:
        subscription = await self.subscribe(subject, cb=_never_called, pending_msgs_limit=-1,
                                            pending_bytes_limit=-1)
        self._raw[subscription._id] = handler
        return subscription

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes,
                           headers: bytes | None) -> None:
        handler = self._raw.get(sid)
        if handler is None or sid not in self._subs:
            if handler is not None:  # unsubscribed
                del self._raw[sid]
            await super()._process_msg(sid, subject, reply, data, headers)  # type: ignore[arg-type]
            return
        stats = self.stats
        stats["in_msgs"] += 1
        stats["in_bytes"] += len(data)
        handler(subject, reply, data, headers)

    async def publish_many(self, commands: bytes, count: int) -> None:
        """Send ``count`` protocol commands joined in ``commands``; raises like ``publish``."""
        if self.is_closed:
            raise nats.errors.ConnectionClosedError
        if self.is_draining_pubs:
            raise nats.errors.ConnectionDrainingError
        if not self.is_connected and (self._max_pending_size <= 0
                                      or len(commands) + self._pending_data_size > self._max_pending_size):
            raise nats.errors.OutboundBufferLimitError
        self.stats["out_msgs"] += count
        await self._send_command(commands)
        if self._flush_queue is not None and self._flush_queue.empty():
            await self._flush_pending()


async def _never_called(msg: Msg) -> None:
    """The callback nats-py keeps for a raw subscription (its messages never reach it)."""


class _Pending:
    """One batch on its way: how many acknowledgements are missing, and who waits for them."""

    __slots__ = ("acked", "batched", "count", "future")

    def __init__(self, count: int, batched: bool, future: asyncio.Future[None]) -> None:
        self.count = count
        self.acked = 0
        self.batched = batched
        self.future = future

    def fail(self, text: str) -> None:
        if not self.future.done():
            self.future.set_exception(BusUnavailableError(text))

    def succeed(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class _Message(msgspec.Struct, gc=False):
    """One NATS message to publish: a single event, or a pack of several (``count`` > 1)."""

    sensor: str
    msg_id: str
    payload: bytes
    count: int


def pack_messages(messages: Sequence[Outgoing], limit: int) -> list[_Message]:
    """Consecutive events of one sensor packed into messages of at most ``limit`` payload bytes, one JSON
    document per line (msgspec escapes newlines inside strings, so a document never holds one).

    A pack's ``Nats-Msg-Id`` is a digest of its event ids in order: the same batch re-sent after a
    crash gives the same packs (the shipper re-reads the spool from its offset in the same batch sizes),
    which JetStream drops within its duplicate window; a pack that differs only partly is stored again and
    the store's primary key drops its repeated events. ``limit`` 0 gives one message per event."""
    packed: list[_Message] = []
    group: list[Outgoing] = []
    size = 0
    for message in messages:
        grows = len(message.payload) + (1 if group else 0)
        if group and (limit <= 0 or size + grows > limit or message.sensor != group[0].sensor
                      or len(group) >= MAX_PACK_EVENTS):
            packed.append(_pack(group))
            group, size, grows = [], 0, len(message.payload)
        group.append(message)
        size += grows
    if group:
        packed.append(_pack(group))
    return packed


def _pack(group: list[Outgoing]) -> _Message:
    first = group[0]
    if len(group) == 1:
        return _Message(first.sensor, first.event_id, first.payload, 1)
    digest = hashlib.blake2b("\n".join(message.event_id for message in group).encode("utf-8", "replace"),
                             digest_size=16).hexdigest()
    return _Message(first.sensor, f"pack-{digest}", b"\n".join(message.payload for message in group), len(group))


class NatsPublisher:
    """Publishes events to JetStream packed into messages (``bus.pack_bytes``), each with a
    ``Nats-Msg-Id``; returns when all are stored."""

    def __init__(self, bus: NatsBus) -> None:
        self._bus = bus
        self._generation = -1
        self._inbox = ""
        self._subscription: Subscription | None = None
        self._pending: dict[str, _Pending] = {}
        self._subjects: dict[str, str] = {}
        self._subscribing = asyncio.Lock()

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Publish every message and wait until JetStream stored (or recognised as duplicate) all of them.
        ``BusUnavailableError`` on any failure or timeout (some may be stored: republish them all);
        ``MessageTooLargeError`` before sending anything if one event exceeds the server's limit."""
        if not messages:
            return
        nc = await self._bus.client()
        limit = nc.max_payload
        for message in messages:
            if len(message.payload) + _HEADER_ROOM > limit:
                raise MessageTooLargeError(message.event_id, len(message.payload), limit)
        await self._subscribe(nc)
        pack_bytes = self._bus.settings.pack_bytes
        packed = pack_messages(messages, min(pack_bytes, limit - _HEADER_ROOM) if pack_bytes else 0)
        for start in range(0, len(packed), _BATCH):
            await self._publish_batch(nc, packed[start:start + _BATCH])

    def fail_pending(self, reason: str) -> None:
        """Fail every publish waiting for acknowledgements (the connection is gone)."""
        for pending in self._pending.values():
            pending.fail(reason)

    async def close(self) -> None:
        """Stop listening for acknowledgements (the bus owns the connection)."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _subscribe(self, nc: Client) -> None:
        async with self._subscribing:  # concurrent first publishes must share one reply inbox
            if self._subscription is not None and self._generation == self._bus.generation:
                return
            inbox = nc.new_inbox() + "."
            self._subscription = await nc.subscribe(inbox + ">", cb=self._on_reply)
            self._inbox, self._generation = inbox, self._bus.generation

    async def _publish_batch(self, nc: Client, batch: Sequence[_Message]) -> None:
        token = secrets.token_urlsafe(12)
        batched = self._bus.batch_publishing
        pending = _Pending(len(batch), batched, asyncio.get_running_loop().create_future())
        self._pending[token] = pending
        try:
            if batched:
                await self._send_fast_batch(nc, token, batch)
            else:
                await self._send_each(nc, token, batch)
            await asyncio.wait_for(pending.future, self._bus.settings.publish_timeout)
        except BusUnavailableError:
            raise
        except TimeoutError:
            raise BusUnavailableError(f"NATS at {self._bus.servers} did not acknowledge "
                                      f"{len(batch) - pending.acked} of {len(batch)} messages "
                                      f"({sum(message.count for message in batch)} events) within "
                                      f"{self._bus.settings.publish_timeout:g} s") from None
        except (nats.errors.Error, OSError) as error:
            raise BusUnavailableError(f"publishing to NATS at {self._bus.servers} failed: "
                                      f"{_describe(error)}") from None
        finally:
            del self._pending[token]
            if not pending.future.done():
                pending.future.cancel()

    async def _send_fast_batch(self, nc: Client, token: str, batch: Sequence[_Message]) -> None:
        # Fast-ingest reply subjects carry the protocol: <inbox>.<batch id>.<flow>.<gap>.<seq>.<op>.$FI with
        # op 0 = first message, 1 = further message, 3 = end of batch (commit without a message).
        prefix = f"{self._inbox}{token}.{_FLOW}.fail."
        for sequence, message in enumerate(batch, 1):
            await nc.publish(self._subject(message.sensor), message.payload,
                             reply=f"{prefix}{sequence}.{0 if sequence == 1 else 1}.$FI",
                             headers=_headers(message))
        await nc.publish(self._subject(batch[-1].sensor), b"", reply=f"{prefix}{len(batch) + 1}.3.$FI")

    async def _send_each(self, nc: Client, token: str, batch: Sequence[_Message]) -> None:
        prefix = f"{self._inbox}{token}."
        for index, message in enumerate(batch):
            await nc.publish(self._subject(message.sensor), message.payload, reply=f"{prefix}{index}",
                             headers=_headers(message))

    def _subject(self, sensor: str) -> str:
        subject = self._subjects.get(sensor)
        if subject is None:
            subject = self._subjects[sensor] = f"{self._bus.subject_prefix}.{subject_token(sensor)}"
        return subject

    async def _on_reply(self, msg: Msg) -> None:
        token = _reply_token(msg.subject)
        pending = self._pending.get(token)
        if pending is None or pending.future.done():
            return  # a late reply to a batch we gave up on
        data = msg.data
        if not data and msg.headers and msg.headers.get(_STATUS) == "503":
            self._bus.stream_missing()
            pending.fail(f"no JetStream stream takes {self._bus.subject_prefix}.* on NATS at {self._bus.servers} "
                         "(deleted, or the server's store was wiped); it is created again at the next attempt")
        elif b'"error"' in data:
            pending.fail(self._refusal(data))
        elif not pending.batched:
            pending.acked += 1
            if pending.acked == pending.count:
                pending.succeed()
        elif b'"batch"' in data:  # the commit: every event of the batch is stored
            reply = _REPLY.decode(data)
            pending.acked = reply.count or 0
            if pending.acked == pending.count:
                pending.succeed()
            else:
                pending.fail(f"NATS stored {pending.acked} of {pending.count} events of a batch")

    def _refusal(self, data: bytes) -> str:
        try:
            error = _REPLY.decode(data).error or _ApiError()
        except msgspec.DecodeError:
            error = _ApiError(description=data[:200].decode(errors="replace"))
        text = f"NATS refused events: {error.description} (error {error.err_code})"
        if "maximum bytes" in error.description or "maximum messages" in error.description:
            text += (f" — stream {self._bus.settings.stream} is full: collectors are behind, or raise "
                     "bus.max_bytes")
        return text


class _PackAnswer:
    """The acknowledgement a pack of events owes JetStream: ``+ACK`` once every event in it was
    acknowledged (they may be stored in different collector batches), ``-NAK`` as soon as one is handed
    back — the whole pack is then redelivered and the store drops the events it holds already."""

    __slots__ = ("pending", "reply")

    def __init__(self, reply: bytes, pending: int) -> None:
        self.reply = reply
        #: Events not yet acknowledged; -1 once the pack was answered with a nak.
        self.pending = pending


class NatsSubscriber:
    """Pulls from the shared durable consumer; acks are sent without waiting for a round trip.

    Messages arrive on a raw subscription (``_Client.subscribe_raw``) and wait in ``_buffer`` as
    ``(reply subject, payload, header block)``; when ``fetch`` hands them out they become one
    ``Delivery`` per event (a pack is split into its events, ``_ready`` keeps those not yet handed out),
    with the event id and delivery count read from those bytes. Acks for a whole batch leave as one
    write: one ``+ACK`` per message on the wire (never ``AckAll``: collectors share the consumer).
    """

    def __init__(self, bus: NatsBus) -> None:
        self._bus = bus
        self._generation = -1
        self._inbox = ""
        self._subscription: Subscription | None = None
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{bus.settings.stream}.{bus.settings.consumer}"
        # A first delivery's ack subject starts so, with 9 tokens (no JetStream domain): attempt 1.
        self._first = f"$JS.ACK.{bus.settings.stream}.{bus.settings.consumer}.1.".encode()
        self._buffer: deque[tuple[bytes, bytes, bytes | None]] = deque()
        self._ready: deque[Delivery] = deque()
        self._request_subject = b""
        self._request = 0
        self._want = 0
        self._finished = False
        self._wake: asyncio.Future[None] | None = None

    async def fetch(self, max_messages: int, timeout: float) -> list[Delivery]:
        """Up to ``max_messages`` deliveries: what is there at once, else whatever arrives within
        ``timeout`` s. ``BusUnavailableError`` while NATS is unreachable."""
        if max_messages < 1:
            return []
        nc = await self._bus.client()
        await self._subscribe(nc)
        if not self._buffer and not self._ready:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            # First ask for what is available now (the server answers "404 No Messages" after a partial
            # batch); only if there is nothing, wait for new events — and return soon after the first
            # ones arrive, since deliveries sitting here count against ack_wait. What the still-open
            # request delivers later waits in the buffer for the next fetch.
            await self._pull(nc, max_messages, {"no_wait": True}, deadline + _GRACE, max_messages)
            remaining = deadline - loop.time()
            if not self._buffer and remaining > 0.001:
                await self._pull(nc, max_messages, {"expires": int(remaining * 1e9)}, deadline + _GRACE, 1)
                if self._buffer and not self._finished and len(self._buffer) < max_messages:
                    await asyncio.sleep(_GATHER)
        return self._take(max_messages)

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge (fire and forget: a lost ack means a redelivery, which the store drops). A pack is
        acknowledged with its last event."""
        await self._answer(_replies(deliveries, acknowledge=True), _ACK)

    async def nak(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Ask JetStream to redeliver the deliveries after ``delay`` seconds (a pack: all its events)."""
        body = b'-NAK {"delay":%d}' % int(delay * 1e9) if delay > 0 else b"-NAK"
        await self._answer(_replies(deliveries, acknowledge=False), body)

    async def close(self) -> None:
        """Stop receiving; deliveries fetched and not acknowledged return after ``ack_wait``."""
        subscription, self._subscription = self._subscription, None
        self._buffer.clear()
        self._ready.clear()
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _answer(self, replies: list[bytes], body: bytes) -> None:
        nc = self._bus._nc
        if not isinstance(nc, _Client) or nc.is_closed or not replies:
            return
        # "PUB <reply> <size>\r\n<body>\r\n" per delivery, joined in C.
        tail = b" %d\r\n%s\r\n" % (len(body), body)
        try:
            await nc.publish_many(b"PUB " + (tail + b"PUB ").join(replies) + tail, len(replies))
        except (nats.errors.Error, OSError) as error:  # JetStream will redeliver; the store drops duplicates
            log.warning("could not answer %d deliveries to NATS (%s); they will be redelivered",
                        len(replies), _describe(error))

    async def _subscribe(self, nc: Client) -> None:
        if self._subscription is not None and self._generation == self._bus.generation:
            return
        assert isinstance(nc, _Client)
        self._inbox = nc.new_inbox() + "."
        self._subscription = await nc.subscribe_raw(self._inbox + "*", self._on_message)
        self._generation = self._bus.generation

    async def _pull(self, nc: Client, batch: int, options: dict[str, Any], deadline: float, want: int) -> None:
        """Send one pull request for ``batch`` deliveries and wait until ``want`` are here, the request
        ended, or ``deadline``."""
        self._request += 1
        self._want, self._finished = want, False
        pull_bytes = max(_PULL_BYTES, 2 * (nc.max_payload + _HEADER_ROOM))
        request = msgspec.json.encode({"batch": batch, "max_bytes": pull_bytes, **options})
        reply = f"{self._inbox}{self._request}"
        self._request_subject = reply.encode()
        await nc.publish(self._next, request, reply=reply)
        loop = asyncio.get_running_loop()
        while len(self._buffer) < want and not self._finished:
            remaining = deadline - loop.time()
            if remaining <= 0 or not nc.is_connected:
                return
            self._wake = loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake, remaining)
            self._wake = None

    def _on_message(self, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        buffer = self._buffer
        if reply:
            buffer.append((reply, data, headers))
            if len(buffer) >= self._want:
                self._signal()
            return
        status, description = _status(headers)
        if status is None or status == "100":  # not a delivery, or an idle heartbeat
            return
        if subject == self._request_subject:  # the current pull request has ended
            if status not in ("404", "408", "409"):
                log.warning("NATS pull request ended with status %s: %s", status, description)
            self._finished = True
            self._signal()

    def _signal(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _take(self, count: int) -> list[Delivery]:
        """Up to ``count`` events: those left from a pack first, then the buffered messages in order."""
        ready, buffer, first = self._ready, self._buffer, self._first
        while len(ready) < count and buffer:
            reply, data, headers = buffer.popleft()
            attempt = 1 if reply.startswith(first) and reply.count(b".") == 8 else _delivered_count(reply)
            documents = _pack_documents(data, headers)
            if documents is not None:
                answer = _PackAnswer(reply, len(documents))
                ready.extend([Delivery(_packed_event_id(document), document, attempt, answer)
                              for document in documents])
            else:
                ready.append(Delivery(_event_id(headers), data, attempt, reply))
        if count >= len(ready):
            taken = list(ready)
            ready.clear()
            return taken
        popleft = ready.popleft
        return [popleft() for _ in range(count)]


def _headers(message: _Message) -> dict[str, str]:
    if message.count == 1:
        return {_MSG_ID: message.msg_id}
    return {_MSG_ID: message.msg_id, _PACK_COUNT: str(message.count)}


def _retrieve(task: asyncio.Future[None]) -> None:
    """Mark a shared attempt's outcome as seen (its callers may all have gone)."""
    if not task.cancelled():
        task.exception()


def _reply_token(subject: str) -> str:
    """The batch token of a reply subject ``_INBOX.<nuid>.<token>...`` (whichever inbox it came to)."""
    parts = subject.split(".", 3)
    return parts[2] if len(parts) > 2 else ""


def _event_id(headers: bytes | None) -> str:
    """The ``Nats-Msg-Id`` value of a raw header block (``NATS/1.0\\r\\nName: value\\r\\n...``), or ""."""
    if headers is None:
        return ""
    start = headers.find(_MSG_ID_LINE)
    if start < 0:
        return ""
    start += len(_MSG_ID_LINE)
    return headers[start:headers.find(b"\r\n", start)].strip().decode("utf-8", "replace")


def _replies(deliveries: Sequence[Delivery], *, acknowledge: bool) -> list[bytes]:
    """The ack subjects to answer for ``deliveries``: each single event's, and a pack's once — on an ack
    when its last event is acknowledged, on a nak at once (a later ack of its other events must then not
    acknowledge the redelivery the nak asked for)."""
    replies: list[bytes] = []
    for delivery in deliveries:
        token = delivery.token
        if isinstance(token, bytes):
            replies.append(token)
        elif isinstance(token, _PackAnswer) and token.pending > 0:
            token.pending = token.pending - 1 if acknowledge else -1
            if token.pending <= 0:
                replies.append(token.reply)
    return replies


def _pack_documents(data: bytes, headers: bytes | None) -> list[bytes] | None:
    """The documents of a well-formed pack (as many lines as its ``Honeyscope-Events`` header says,
    2 to ``MAX_PACK_EVENTS``); None for a single event or a malformed pack."""
    if headers is None:
        return None
    start = headers.find(_PACK_LINE)
    if start < 0:
        return None
    start += len(_PACK_LINE)
    try:
        declared = int(headers[start:headers.find(b"\r\n", start)])
    except ValueError:
        return None
    if not 1 < declared <= MAX_PACK_EVENTS or data.count(b"\n") != declared - 1:
        return None
    return data.split(b"\n")


def _packed_event_id(document: bytes) -> str:
    """The event id of one document of a pack (its ``event.id``), or "" when it has none."""
    start = document.find(_EVENT_ID_KEY)
    if start < 0:
        return ""
    start += len(_EVENT_ID_KEY)
    end = document.find(b'"', start)
    return document[start:end].decode("utf-8", "replace") if end > 0 else ""


def _status(headers: bytes | None) -> tuple[str | None, str]:
    """The inline status of a raw header block (``NATS/1.0 404 No Messages``) and its description."""
    if not headers:
        return None, ""
    parts = headers.split(b"\r\n", 1)[0].decode("utf-8", "replace").split(None, 2)
    if len(parts) < 2:
        return None, ""
    return parts[1], parts[2] if len(parts) > 2 else ""


def _delivered_count(reply: bytes) -> int:
    """How many times JetStream delivered the message, from its ack subject
    (``$JS.ACK.<stream>.<consumer>.<delivered>...``, or with domain and account hash in front)."""
    tokens = reply.split(b".")
    index = 4 if len(tokens) == 9 else 6
    try:
        return int(tokens[index])
    except (IndexError, ValueError):
        return 1


def subject_token(name: str) -> str:
    """A sensor name as one NATS subject token (dots, wildcards and spaces become ``_``)."""
    cleaned = "".join("_" if ch in ".*> \t\r\n" else ch for ch in name)
    return cleaned or "_"


def _redact(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"


def _describe(error: BaseException) -> str:
    """A short reason: 'connection refused', 'timed out', 'Authorization Violation', ..."""
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno).lower() if error.errno in errno.errorcode else str(error)
    if isinstance(error, TimeoutError | asyncio.TimeoutError | nats.errors.TimeoutError):
        return "timed out"
    text = str(error).strip() or type(error).__name__
    return text.removeprefix("nats: ").strip("'")


def _is_auth_error(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, nats.errors.AuthorizationError) or "authorization" in text or "authentication" in text


def _value(item: object) -> str:
    return str(getattr(item, "value", item))


def _credentials_file(path: str) -> str:
    if not Path(path).is_file():
        raise ConfigError(f"bus.credentials: file not found: {path} — give the path of a NATS .creds file")
    if importlib.util.find_spec("nkeys") is None:  # nats-py signs with it when given a .creds file
        raise ConfigError("bus.credentials needs the 'nkeys' package — pip install nkeys")
    return path


def _tls_context(settings: BusSettings) -> ssl.SSLContext | None:
    """A TLS context from bus.tls_ca / tls_certificate / tls_key, or None (tls:// URLs then use the
    system's CA store)."""
    if settings.tls_ca is None and settings.tls_certificate is None:
        if settings.tls_key is not None:
            raise ConfigError("bus.tls_key is set without bus.tls_certificate — set both for mutual TLS")
        return None
    for key, value in (("tls_ca", settings.tls_ca), ("tls_certificate", settings.tls_certificate),
                       ("tls_key", settings.tls_key)):
        if value is not None and not Path(value).is_file():
            raise ConfigError(f"bus.{key}: file not found: {value} — give the path of a PEM file")
    try:
        context = ssl.create_default_context(cafile=settings.tls_ca)
        if settings.tls_certificate is not None:
            context.load_cert_chain(settings.tls_certificate, settings.tls_key)
    except (ssl.SSLError, ValueError) as error:
        raise ConfigError(f"bus TLS files could not be loaded ({error}) — check bus.tls_ca, "
                          "bus.tls_certificate and bus.tls_key") from None
    return context


__all__ = ["NatsBus", "NatsPublisher", "NatsSubscriber", "connect_nats", "subject_token"]
