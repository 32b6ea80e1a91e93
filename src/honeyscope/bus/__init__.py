"""The bus between shippers and collectors: ``memory`` (in-process) and ``nats`` (JetStream) transports
behind the contract in ``base`` (imported here; the transports are imported where they are used, so the
in-process path never loads nats-py)."""

from honeyscope.bus.base import (
    BusUnavailableError,
    Delivery,
    MessageTooLargeError,
    Outgoing,
    Publisher,
    Subscriber,
)

__all__ = ["BusUnavailableError", "Delivery", "MessageTooLargeError", "Outgoing", "Publisher", "Subscriber"]
