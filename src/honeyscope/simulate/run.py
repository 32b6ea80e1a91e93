"""``simulate``: plan a scenario with a seed, generate it in the chosen mode, write the ground truth."""

from __future__ import annotations

import argparse
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from honeyscope.config import ConfigError, Settings
from honeyscope.enrich import Enricher
from honeyscope.simulate.addresses import AddressBook
from honeyscope.simulate.plan import Planner, Sources
from honeyscope.simulate.scenario import Scenario
from honeyscope.simulate.sensor_mode import SENSOR_NAME
from honeyscope.simulate.tally import Tally
from honeyscope.simulate.truth import SCENARIO_FILE, GroundTruth, write_truth

Mode = Literal["store", "sensor"]
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """What a run produced and how fast."""

    truth: GroundTruth
    truth_path: Path
    seconds: float
    templates: int
    address_samples: int

    @property
    def events_per_second(self) -> float:
        """Events generated per second of the run (wall time)."""
        return self.truth.events / self.seconds if self.seconds > 0 else 0.0


def node_settings_for(data_dir: Path, config: Path | None) -> Settings:
    """The settings ``honeyscope up --data DATA_DIR [--config FILE]`` runs with (same store path)."""
    from honeyscope.cli import up
    from honeyscope.collector.node import NodeLayout

    # Parsed by up's own parser, so every option it reads has its default.
    parser = argparse.ArgumentParser(add_help=False)
    up.register(parser.add_subparsers())
    arguments = parser.parse_args(["up", "--data", str(data_dir), *(["--config", str(config)] if config else [])])
    return up.node_settings(arguments, NodeLayout(data_dir.resolve()))


def simulate(data_dir: Path, scenario: Scenario, *, seed: int, scenario_text: str, mode: Mode = "store",
             config: Path | None = None, settings: Settings | None = None, noise_only: bool = False,
             max_requests: int = 2000, progress: Progress | None = None) -> SimulationReport:
    """Generate ``scenario`` into ``data_dir``'s store and write ``data_dir/simulation/ground-truth.json``.

    The store is the one ``honeyscope up --data DATA_DIR [--config FILE]`` uses, unless ``settings`` are
    given. ``scenario_text`` is saved beside the truth as the scenario used (``scenario.toml``).
    ``max_requests`` bounds ``sensor`` mode, which sends every request over a socket."""
    began = clock.perf_counter()
    data_dir = data_dir.resolve()
    directory = data_dir / "simulation"
    directory.mkdir(parents=True, exist_ok=True)
    if mode == "sensor" and (config is not None or settings is not None):
        raise ConfigError("--config is not used in sensor mode: it starts 'honeyscope up' with its defaults and "
                          "127.0.0.1 as a trusted proxy — drop --config, or use --mode store")
    settings = settings or node_settings_for(data_dir, config)
    require_empty(settings, data_dir)
    enricher = Enricher.from_settings(settings.enrich)
    try:
        book = AddressBook(enricher, seed)
        planner = Planner(scenario, seed, book, enricher.scanners.entries)
        tally = Tally(scenario, planner.sources, _countries(planner.sources, book))
    finally:
        enricher.close()
    if progress is not None:
        progress(f"addresses ready ({book.samples} looked up); generating {scenario.simulation.days} days "
                 f"in {mode} mode")
    if mode == "sensor":
        from honeyscope.simulate.sensor_mode import emit_sensor

        templates = emit_sensor(scenario, planner, tally, data_dir, max_requests, progress)
    else:
        from honeyscope.simulate.store_mode import emit_store

        templates = emit_store(scenario, seed, planner, tally, settings, directory, data_dir, progress)
    truth = tally.truth(mode=mode, seed=seed, noise_only=noise_only, trends=mode == "store",
                        sensors=[SENSOR_NAME] if mode == "sensor" else None)
    (directory / SCENARIO_FILE).write_text(scenario_text, encoding="utf-8")
    path = write_truth(truth, directory)
    return SimulationReport(truth, path, clock.perf_counter() - began, templates, book.samples)


def require_empty(settings: Settings, data_dir: Path) -> None:
    """Refuse a store that already holds events: the ground truth must describe the whole store."""
    from honeyscope.collector.wiring import open_store_for

    store = open_store_for(settings.store)
    try:
        stored = store.count()
    finally:
        store.close()
    if stored:
        raise ConfigError(f"the store of {data_dir} already holds {stored} events — simulate into an empty --data "
                          "directory (a simulation's ground truth must describe the whole store)")


def _countries(sources: Sources, book: AddressBook) -> dict[str, str | None]:
    """Country of every source address the plan can use."""
    addresses = [*(a for pool in sources.noise.values() for a in pool),
                 *(a for pool in sources.scanners.values() for a in pool),
                 *(a for pool in sources.campaigns.values() for a in pool)]
    return {address: book.country_of(address) for address in addresses}
