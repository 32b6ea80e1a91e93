"""The bus contract: shippers publish spooled events, collectors fetch and acknowledge them.

Two transports implement it: ``memory`` (in-process, one node) and ``nats`` (JetStream, many hosts).
The delivery guarantee is at-least-once; duplicates are removed by event id (JetStream's
``Nats-Msg-Id`` within its window — per event, or per pack of events —, the store's primary key always).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class BusUnavailableError(ConnectionError):
    """The bus cannot be reached or did not acknowledge in time; the caller retries with backoff."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One event to publish: its id (the deduplication key) and its JSON bytes exactly as spooled."""

    event_id: str
    payload: bytes
    #: The sensor that spooled it (NATS subject suffix).
    sensor: str = ""


@dataclass(slots=True)
class Delivery:
    """One event handed to a collector; ``token`` is the transport's handle for acknowledging it."""

    event_id: str
    payload: bytes
    #: How many times the bus has delivered it (1 on first delivery).
    attempt: int = 1
    token: object = field(default=None, repr=False)


class Publisher(Protocol):
    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Return only once the bus has durably taken every message (JetStream: each publish acked;
        in-process: the collector committed them to the store). Raise ``BusUnavailableError`` otherwise;
        a partial failure may leave some published — the caller republishes all, dedup handles it."""
        ...

    async def close(self) -> None: ...


class Subscriber(Protocol):
    async def fetch(self, max_messages: int, timeout: float) -> list[Delivery]:
        """Up to ``max_messages`` deliveries, waiting at most ``timeout`` s; empty list when idle."""
        ...

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """The deliveries are committed downstream; the bus forgets them."""
        ...

    async def nak(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """The deliveries were not committed; redeliver them (after ``delay`` seconds)."""
        ...

    async def close(self) -> None: ...


class MessageTooLargeError(ValueError):
    """The bus refuses one message for good (it exceeds the transport's size limit): republishing the
    same message cannot succeed, so the caller sets it aside and publishes the others. Nothing of the
    call was published when this is raised."""

    def __init__(self, event_id: str, size: int, limit: int) -> None:
        super().__init__(f"event {event_id} is {size} bytes, over the bus limit of {limit} bytes "
                         "(NATS max_payload) — raise max_payload in nats-server's configuration")
        self.event_id = event_id
        self.size = size
        self.limit = limit
