"""Event and connection ids a seed reproduces.

Sensor ids are UUIDv7 with random bits from the process (``honeyscope.events.ids``), so two runs never
repeat them. A simulation must: the same seed gives the same ids, so a store written twice holds every
event once and a ground-truth file names the same events on every run. The layout is still RFC 9562
version 7 — 48-bit Unix milliseconds of the simulated timestamp, version, 12 + 62 bits — with the random
bits drawn from a generator seeded by the run's seed.
"""

from __future__ import annotations

import random
from datetime import datetime


class SeededIds:
    """UUIDv7 event ids and connection ids drawn from one seeded generator."""

    def __init__(self, seed: int) -> None:
        # A stream of its own (not the planner's), so a change in how ids are drawn never changes the plan.
        self._random = random.Random(f"honeyscope-simulate-ids-{seed}")

    def event_id(self, moment: datetime) -> str:
        """A UUIDv7 whose time field is ``moment`` (milliseconds) and whose other bits are seeded."""
        ms = int(moment.timestamp() * 1000) & ((1 << 48) - 1)
        bits = self._random.getrandbits(74)
        value = ms << 80 | 0x7 << 76 | (bits >> 62) << 64 | 0b10 << 62 | (bits & ((1 << 62) - 1))
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def connection_id(self) -> str:
        """16 hex digits, the shape the sensor gives connection ids."""
        return f"{self._random.getrandbits(64):016x}"

    def port(self) -> int:
        """A client's ephemeral source port (Linux's default range)."""
        return self._random.randint(32768, 60999)
