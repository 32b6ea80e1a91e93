"""Time-ordered unique event ids (UUIDv7, RFC 9562).

Python 3.11's ``uuid`` has no v7, so we build it: 48-bit Unix milliseconds, then a 12-bit and a 62-bit
field. The 12-bit field is a per-process counter that keeps ids strictly increasing within one
millisecond (RFC 9562 method 1); the rest is random, so ids from different sensors do not collide.
"""

from __future__ import annotations

import random
import threading
import time

# Ids need uniqueness, not secrecy: a per-process Mersenne Twister seeded from the OS is enough and
# several times cheaper than os.urandom per id.
_RANDOM = random.Random()


class UuidV7:
    """Generator of monotonically increasing UUIDv7 strings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def new(self, unix_ms: int | None = None) -> str:
        """A new id; ``unix_ms`` lets callers stamp ids with the event's own time."""
        ms = int(time.time() * 1000) if unix_ms is None else unix_ms
        with self._lock:
            if ms <= self._last_ms:
                ms = self._last_ms
                self._counter += 1
                if self._counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                    ms += 1
                    self._counter = 0
            else:
                self._counter = _RANDOM.getrandbits(10)
            self._last_ms = ms
            counter = self._counter
        tail = _RANDOM.getrandbits(62)
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | tail
        text = f"{value:032x}"  # formatting by hand: uuid.UUID() costs more than the rest together
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_DEFAULT = UuidV7()


def new_event_id(unix_ms: int | None = None) -> str:
    """A new time-ordered event id from the process-wide generator."""
    return _DEFAULT.new(unix_ms)


def event_id_time_ms(event_id: str) -> int:
    """The Unix milliseconds encoded in a UUIDv7 event id."""
    return int(event_id.replace("-", "")[:12], 16)
