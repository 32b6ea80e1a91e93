"""Fakes and builders shipped for tests — ours and our users' (personas, rules, pipelines).

Only what a test cannot have for real lives here: a controllable clock, and ways to build requests
without a network. Servers (the sensor itself, NATS, PostgreSQL) are always the real thing.
"""

from honeyscope.testing.clock import FakeClock
from honeyscope.testing.live import LiveSensor, exchange_raw, live_sensor
from honeyscope.testing.requests import persona_request, raw_request_bytes

__all__ = ["FakeClock", "LiveSensor", "exchange_raw", "live_sensor", "persona_request", "raw_request_bytes"]
