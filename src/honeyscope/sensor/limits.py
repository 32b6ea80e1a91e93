"""Limit hits become ``sensor.limit`` events — summarised, so a flood cannot flood the spool.

The first hit of a limit in each one-second window is written at once; further hits in that window are
counted and written as one event (``count`` = hits) when the window closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from honeyscope.events.codec import encode_event
from honeyscope.events.schema import HsLimit
from honeyscope.sensor.recording import limit_event

if TYPE_CHECKING:
    from honeyscope.clock import Clock
    from honeyscope.events.schema import Observer
    from honeyscope.sensor.recording import ConnectionFacts
    from honeyscope.sensor.spool import SpoolWriter


@dataclass
class _Window:
    started: float
    folded: int
    configured: float
    last_observed: float | None


class LimitRecorder:
    """Records limit hits for one sensor."""

    def __init__(self, spool: SpoolWriter, clock: Clock, observer: Observer, persona: str = "") -> None:
        self.spool = spool
        self.clock = clock
        self.observer = observer
        self.persona = persona
        self.hits: dict[str, int] = {}
        self._windows: dict[str, _Window] = {}

    def hit(self, limit: str, configured: float, observed: float | None, *, facts: ConnectionFacts | None) -> None:
        """Count one hit; write it now if it is the first in its window."""
        self.hits[limit] = self.hits.get(limit, 0) + 1
        now = self.clock.monotonic()
        window = self._windows.get(limit)
        if window is not None and now - window.started < 1.0:
            window.folded += 1
            window.last_observed = observed
            return
        if window is not None and window.folded:
            self._write(limit, window.configured, window.last_observed, window.folded, None)
        self._windows[limit] = _Window(now, 0, configured, observed)
        self._write(limit, configured, observed, 1, facts)

    def flush(self) -> None:
        """Write the folded hits of windows that have closed (called every second by the sensor)."""
        now = self.clock.monotonic()
        for limit, window in list(self._windows.items()):
            if now - window.started >= 1.0:
                if window.folded:
                    self._write(limit, window.configured, window.last_observed, window.folded, None)
                del self._windows[limit]

    def _write(self, limit: str, configured: float, observed: float | None, count: int,
               facts: ConnectionFacts | None) -> None:
        record = HsLimit(limit=limit, configured=float(configured),
                         observed=None if observed is None else float(observed), count=count,
                         connection_id=facts.connection_id if facts else None,
                         listener=facts.listener if facts else "")
        event = limit_event(self.clock.now(), self.observer, facts.persona if facts else self.persona, record,
                            facts.source if facts else None, facts.destination if facts else None)
        self.spool.append([encode_event(event)])
