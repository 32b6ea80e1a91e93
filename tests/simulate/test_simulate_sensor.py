"""Sensor mode: a few hundred requests of the plan sent for real to a started decoy over loopback."""

from __future__ import annotations

from pathlib import Path

from honeyscope.events.schema import HttpRequestEvent
from honeyscope.simulate import parse_scenario, simulate

from .conftest import SMALL
from .test_simulate_store import open_run_store, requests


def test_sensor_mode_stores_what_it_sent_from_the_simulated_sources(tmp_path: Path) -> None:
    report = simulate(tmp_path / "live", parse_scenario(SMALL, "test"), seed=4, scenario_text=SMALL, mode="sensor",
                      max_requests=300)
    truth = report.truth
    assert truth.mode == "sensor" and not truth.trends
    store = open_run_store(tmp_path / "live")
    try:
        events = requests(store)
    finally:
        store.close()
    assert 200 <= len(events) == truth.events <= 400
    assert all(isinstance(e, HttpRequestEvent) and e.source.ip != "127.0.0.1" for e in events)
    assert {e.observer.name for e in events} == {"simulated-sensor"}
    located = [e for e in events if e.source.geo is not None]
    assert len(located) > 0.9 * len(events)
    hafnium = next(c for c in truth.campaigns if c.id == "hafnium-proxylogon")
    assert hafnium.events > 0 and set(hafnium.event_ids) <= {e.event.id for e in events}
    stages = {e.honeyscope.stage for e in events if e.source.ip in hafnium.source_ips}
    assert "proxylogon.oab_reset_write" in stages
