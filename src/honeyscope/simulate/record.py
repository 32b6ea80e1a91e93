"""Store mode's source of events: each template played once through the real persona, then cloned.

Playing goes through ``honeyscope.testing.record.InProcessRecorder`` — request bytes, the lenient parser,
the persona, artifacts stored, ``recording.request_event`` — so a template's events are built exactly as
the sensor builds them. A clone replaces only what differs between visits (``msgspec.structs.replace``):
id, time, source, sensor, destination, connection; and it gets fresh ``detections``/``enrichment`` slots
because the collector's stages write into those in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

import msgspec

from honeyscope.events.schema import Endpoint, EventMeta, HsConnection, HttpRequestEvent, Observer
from honeyscope.sensor.personas.base import Persona
from honeyscope.simulate.chains import Answer
from honeyscope.simulate.templates import Chain, Template
from honeyscope.testing.record import InProcessRecorder

#: The address templates are recorded from (TEST-NET-1): replaced in every clone.
TEMPLATE_SOURCE: Final = "192.0.2.1"


class TemplateStore:
    """Events of each (template, TLS or not), recorded on first use and kept."""

    def __init__(self, persona: Persona, work: Path, *, host: str, when: datetime) -> None:
        self._when = when
        self._recorders = {
            tls: InProcessRecorder(persona, work, source_ip=TEMPLATE_SOURCE, host=host, start=when, tls=tls,
                                   sensor_name="template")
            for tls in (True, False)
        }
        self._cache: dict[tuple[bool, Template], tuple[HttpRequestEvent, ...]] = {}
        self.artifacts = work / "artifacts"

    def __len__(self) -> int:
        return len(self._cache)

    def events(self, template: Template, tls: bool) -> tuple[HttpRequestEvent, ...]:
        """The template's events (recorded now if new)."""
        key = (tls, template)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._record(template, tls)
        return found

    def _record(self, template: Template, tls: bool) -> tuple[HttpRequestEvent, ...]:
        recorder = self._recorders[tls]
        # Every template starts as a stranger on a new connection, at the same moment: the same template
        # gives the same events whatever was recorded before it.
        recorder.state, recorder.connection_state, recorder.now = {}, {}, self._when

        def send(method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> Answer:
            reply, _ = recorder.send(method, target, headers, body)
            return Answer(reply.response.status, reply.response.headers, reply.response.body)

        if isinstance(template, Chain):
            template.warm_up(send)
        first = len(recorder.events)
        template.play(send)
        events = tuple(recorder.events[first:])
        recorder.events.clear()
        return events

    def close(self) -> None:
        """Close the template recorders' spool."""
        for recorder in self._recorders.values():
            recorder.close()


def clone(template: HttpRequestEvent, *, event_id: str, timestamp: datetime, observer: Observer, source: Endpoint,
          destination: Endpoint, connection: HsConnection) -> HttpRequestEvent:
    """The template's event as a visit's own."""
    namespace = msgspec.structs.replace(template.honeyscope, connection=connection, detections=[], enrichment=None)
    meta = EventMeta(id=event_id, duration=template.event.duration)
    return msgspec.structs.replace(template, timestamp=timestamp, event=meta, observer=observer, source=source,
                                   destination=destination, honeyscope=namespace)
