"""``store`` mode: the plan's visits become events in-process and go through enrichment and detection into
the store — what the sensor, shipper and collector would have stored, with simulated timestamps.

Each distinct request or chain is played once through the real persona (``record.TemplateStore``); every
visit clones those events with its own seeded ids, time, source and sensor. The collector's own stages
(``collector.wiring.build_stages``: enrichment, Sigma, YARA) run on each day's events, which are written to
the store ``honeyscope up`` uses for the same data directory, ``WRITE_EVENTS`` at a time.
"""

from __future__ import annotations

import shutil
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import msgspec

from honeyscope.collector.wiring import build_stages, open_store_for
from honeyscope.config import ConfigError, Settings, explain_validation_error
from honeyscope.events.schema import Endpoint, Event, HsConnection, HttpRequestEvent
from honeyscope.sensor.personas.base import Persona
from honeyscope.sensor.personas.registry import UnknownPersonaError, load_persona
from honeyscope.sensor.recording import make_observer
from honeyscope.simulate.ids import SeededIds
from honeyscope.simulate.plan import Planner, Visit
from honeyscope.simulate.record import TemplateStore, clone
from honeyscope.simulate.scenario import Scenario
from honeyscope.simulate.tally import Tally

Progress = Callable[[str], None]
#: Events written to the store per transaction (several days' worth at the default volumes).
WRITE_EVENTS = 5_000


def emit_store(scenario: Scenario, seed: int, planner: Planner, tally: Tally, settings: Settings, directory: Path,
               data_dir: Path, progress: Progress | None = None) -> int:
    """Generate, enrich, detect and store every day's events; returns how many templates were recorded."""
    store = open_store_for(settings.store)
    templates: TemplateStore | None = None
    try:
        work = directory / "templates"
        stages = build_stages(settings, artifact_root=work / "artifacts")
        start = datetime.combine(scenario.simulation.start, time(0), UTC)
        templates = TemplateStore(_persona(settings), work, host=scenario.simulation.host, when=start)
        emitter = _Emitter(scenario, SeededIds(seed), templates)
        began = clock.perf_counter()
        pending: list[Event] = []
        for number, day in enumerate(scenario.days, 1):
            batch = emitter.day(day, planner.day(day), tally)
            for _, stage in stages:
                stage(batch.events)
            for event, (origin, phase) in zip(batch.events, batch.origins, strict=True):
                if isinstance(event, HttpRequestEvent):
                    tally.event(origin, phase, event)
            pending += batch.events
            if len(pending) >= WRITE_EVENTS or number == len(scenario.days):
                store.write(pending)  # one transaction: each write has a fixed cost of its own
                pending = []
            if progress is not None and (number % 10 == 0 or number == len(scenario.days)):
                rate = tally.events / max(clock.perf_counter() - began, 1e-9)
                progress(f"{day}: {tally.events} events so far ({rate:,.0f}/s), {len(templates)} templates")
        _publish_artifacts(work / "artifacts", data_dir / "spool" / "artifacts")
        return len(templates)
    finally:
        if templates is not None:
            templates.close()
        store.close()


class _Batch:
    __slots__ = ("events", "origins")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.origins: list[tuple[str, int]] = []


class _Emitter:
    """Turns visits into cloned events."""

    def __init__(self, scenario: Scenario, ids: SeededIds, templates: TemplateStore) -> None:
        self.ids = ids
        self.templates = templates
        self.campaigns = {campaign.id: campaign for campaign in scenario.campaign}
        names = scenario.sensor_names()
        self.observers = {name: make_observer(name) for name in names}
        # Each sensor's own address on its (private) listening interface.
        self.destinations = {(name, tls): Endpoint(ip=f"10.0.1.{index}", port=443 if tls else 80)
                             for index, name in enumerate(names, 1) for tls in (True, False)}

    def day(self, day: date, visits: list[Visit], tally: Tally) -> _Batch:
        """The day's visits as cloned events, each with its origin."""
        batch = _Batch()
        for visit in visits:
            phase = self._phase(visit.origin, day)
            tally.visit(visit.origin, day, phase)
            source = Endpoint(ip=visit.source_ip, port=self.ids.port())
            connection = self.ids.connection_id()
            observer, destination = self.observers[visit.sensor], self.destinations[(visit.sensor, visit.tls)]
            listener = "https" if visit.tls else "http"
            index = 0
            for template in visit.templates:
                for event in self.templates.events(template, visit.tls):
                    moment = visit.start + timedelta(seconds=visit.gap * index)
                    index += 1
                    batch.events.append(clone(
                        event, event_id=self.ids.event_id(moment), timestamp=moment, observer=observer,
                        source=source, destination=destination,
                        connection=HsConnection(id=connection, request_index=index, listener=listener)))
                    batch.origins.append((visit.origin, phase))
        return batch

    def _phase(self, origin: str, day: date) -> int:
        kind, _, name = origin.partition(":")
        campaign = self.campaigns.get(name) if kind == "campaign" else None
        return int(campaign is not None and campaign.checks_since is not None and day >= campaign.checks_since)


def _persona(settings: Settings) -> Persona:
    """The Exchange persona with the configuration's ``[personas.exchange]`` options."""
    try:
        return load_persona("exchange", settings.personas.get("exchange", {}))
    except UnknownPersonaError as error:
        raise ConfigError(str(error)) from None
    except msgspec.ValidationError as error:
        raise explain_validation_error(error, "settings", prefix="personas.exchange") from None


def _publish_artifacts(source: Path, target: Path) -> None:
    """Artifacts the templates stored, where ``honeyscope up`` keeps a data directory's artifacts."""
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
