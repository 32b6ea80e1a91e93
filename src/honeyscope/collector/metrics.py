"""Prometheus metrics of the pipeline, read from the same status snapshot ``honeyscope status`` shows.

The components keep plain integer counters (cheap on the hot path); at scrape time a custom collector turns
the latest snapshot into metric families, so the two views can never disagree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from honeyscope.config import ConfigError, parse_address

log = logging.getLogger("honeyscope.metrics")

Snapshot = Callable[[], Mapping[str, Any]]

#: (component, counter in its status, ``stage`` label value)
_EVENT_COUNTERS = (
    ("shipper", "shipped", "shipped"),
    ("collector", "received", "received"),
    ("collector", "stored", "stored"),
    ("collector", "duplicates", "duplicate"),
    ("collector", "rejected", "rejected"),
)


class PipelineCollector(Collector):
    """Prometheus collector over a status snapshot (see ``honeyscope.collector.status``)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        status = self._snapshot()
        components: Mapping[str, Any] = status.get("components", {})
        events = CounterMetricFamily("honeyscope_events", "Events through each pipeline stage", labels=["stage"])
        for component, key, stage in _EVENT_COUNTERS:
            value = components.get(component, {}).get(key)
            if value is not None:
                events.add_metric([stage], float(value))
        yield events
        skipped = CounterMetricFamily("honeyscope_spool_records_skipped",
                                      "Spool records that could not be read (torn or corrupt)", labels=["reason"])
        for reason in ("corrupt", "torn"):
            skipped.add_metric([reason], float(components.get("shipper", {}).get(reason, 0)))
        yield skipped
        yield self._errors(components)
        dropped = CounterMetricFamily("honeyscope_sensor_dropped_events",
                                      "Events a sensor could not spool (e.g. disk full), as it reported them",
                                      labels=["sensor"])
        for sensor, count in components.get("collector", {}).get("sensor_dropped", {}).items():
            dropped.add_metric([sensor], float(count))
        yield dropped
        yield from self._gauges(status, components)

    @staticmethod
    def _errors(components: Mapping[str, Any]) -> Metric:
        errors = CounterMetricFamily("honeyscope_stage_errors", "Failures per pipeline stage", labels=["stage"])
        collector = components.get("collector", {})
        errors.add_metric(["store"], float(collector.get("store_errors", 0)))
        bus_errors = components.get("shipper", {}).get("bus_errors", 0) + collector.get("bus_errors", 0)
        errors.add_metric(["bus"], float(bus_errors))
        for stage, count in collector.get("stage_errors", {}).items():
            errors.add_metric([stage], float(count))
        return errors

    @staticmethod
    def _gauges(status: Mapping[str, Any], components: Mapping[str, Any]) -> Iterator[Metric]:
        gauges = (
            ("honeyscope_spool_lag_bytes", "Spooled bytes not yet acknowledged by the bus",
             status.get("spool_lag_bytes")),
            ("honeyscope_events_stored", "Events in the store", status.get("events_stored")),
            ("honeyscope_store_size_bytes", "Bytes the store occupies", status.get("store_size_bytes")),
            ("honeyscope_collector_queue_batches", "Decoded batches waiting for the store",
             components.get("collector", {}).get("queued_batches")),
            ("honeyscope_events_per_second", "Events stored per second over the last interval",
             status.get("events_per_second")),
        )
        for name, help_text, value in gauges:
            if value is not None:
                yield GaugeMetricFamily(name, help_text, value=float(value))


class MetricsServer:
    """The ``/metrics`` HTTP endpoint (prometheus_client's server in a thread) and its URL."""

    def __init__(self, server: WSGIServer, thread: threading.Thread, url: str) -> None:
        self._server = server
        self._thread = thread
        self.url = url

    def close(self) -> None:
        """Stop serving and join the thread: a server thread alive at exit breaks interpreter shutdown."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(address: str, snapshot: Snapshot) -> MetricsServer | None:
    """Serve ``/metrics`` on ``host:port`` (port 0 picks one); None when ``address`` is empty (disabled)."""
    if not address:
        return None
    host, port = parse_address(address)
    registry = CollectorRegistry()
    registry.register(PipelineCollector(snapshot))
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        raise ConfigError(f"collector.metrics_address {address}: cannot listen ({error.strerror}) — choose a "
                          "free port or set metrics_address = \"\" to disable metrics") from None
    bound_port = server.server_address[1]
    url_host = f"[{host}]" if ":" in host else host
    return MetricsServer(server, thread, f"http://{url_host}:{bound_port}/metrics")
