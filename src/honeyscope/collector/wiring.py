"""Builds the pipeline's parts from settings: the bus transport, the store, and the annotating stages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from honeyscope.bus.base import Publisher, Subscriber
from honeyscope.collector.pipeline import Stage
from honeyscope.config import ConfigError, DetectSettings, Settings, StoreSettings
from honeyscope.events import Event, HttpRequestEvent
from honeyscope.store.base import EventStore

log = logging.getLogger("honeyscope.collector")


@dataclass
class Transport:
    """Both ends of the configured bus for this process, and how to close it."""

    publisher: Publisher
    subscriber: Subscriber
    close: Callable[[], Awaitable[None]]


async def open_transport(settings: Settings, *, client_name: str) -> Transport:
    """The in-process bus, or a connection to NATS JetStream (raises ``BusUnavailableError``)."""
    if settings.bus.kind == "nats":
        from honeyscope.bus.nats import connect_nats

        nats_bus = await connect_nats(settings.bus, name=client_name)
        return Transport(nats_bus.publisher(), await nats_bus.subscriber(), nats_bus.close)
    from honeyscope.bus.memory import MemoryBus

    memory_bus = MemoryBus()

    async def close() -> None:
        await memory_bus.close()

    return Transport(memory_bus.publisher(), memory_bus.subscriber(), close)


def open_store_for(settings: StoreSettings) -> EventStore:
    """Open and migrate the configured store, turning failures into one clear line."""
    from honeyscope.store import open_store

    try:
        store = open_store(settings)
        store.migrate()
    except ConfigError:
        raise
    except Exception as error:
        where = settings.dsn if settings.kind == "postgres" else settings.path
        hint = ("is another honeyscope using this data directory? stop it or choose another --data"
                if settings.kind == "duckdb" else "check that PostgreSQL runs and store.dsn is right")
        raise ConfigError(f"cannot open the {settings.kind} store at {where}: {error} — {hint}") from None
    return store


def build_stages(settings: Settings, *, artifact_root: Path | None) -> list[tuple[str, Stage]]:
    """Enrichment, then Sigma detection, then YARA over bodies and artifacts (``artifact_root`` is the
    spool's ``artifacts`` directory when this process can read it)."""
    from honeyscope.enrich import Enricher

    enricher = Enricher.from_settings(settings.enrich)
    stages: list[tuple[str, Stage]] = [("enrich", enricher.enrich_batch)]
    sigma = _sigma_stage(settings.detect)
    if sigma is not None:
        stages.append(("sigma", sigma))
    yara = _yara_stage(settings.detect, artifact_root)
    if yara is not None:
        stages.append(("yara", yara))
    return stages


def _sigma_stage(settings: DetectSettings) -> Stage | None:
    from honeyscope.detect import Detector, builtin_rule_paths, load_rules

    paths = [*(builtin_rule_paths() if settings.builtin else []), *map(Path, settings.sigma)]
    if not paths:
        return None
    rules = load_rules(paths)
    _report_problems("Sigma", [str(problem) for problem in rules.errors], [str(w) for w in rules.warnings])
    detector = Detector(rules)
    return detector.detect_batch


def _yara_stage(settings: DetectSettings, artifact_root: Path | None) -> Stage | None:
    from honeyscope.detect.yara import YaraScanner, builtin_yara_paths

    paths = [*(builtin_yara_paths() if settings.builtin else []), *map(Path, settings.yara)]
    if not paths:
        return None
    scanner = YaraScanner.load(paths)
    _report_problems("YARA", [str(error) for error in scanner.errors], [str(w) for w in scanner.warnings])

    def scan(events: list[Event]) -> None:
        for event in events:
            if isinstance(event, HttpRequestEvent):
                scanner.scan_event(event, artifact_root)

    return scan


def _report_problems(kind: str, errors: list[str], warnings: list[str]) -> None:
    """Rule problems are logged, and the rules that loaded run: one bad rule never stops ingestion."""
    for error in errors:
        log.error("%s rule not loaded: %s", kind, error)
    for warning in warnings:
        log.warning("%s rule: %s", kind, warning)
