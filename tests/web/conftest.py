"""A simulated campaign in a real DuckDB store, apps over it, and a real uvicorn server for browser tests.

The campaign is recorded through the real Exchange persona (``InProcessRecorder``), enriched with the
built-in geolocation data, run through the built-in Sigma rules and written with the store:
ProxyLogon chains from a few addresses on different days (one from infrastructure Volexity published for
HAFNIUM), scanner noise from many, sensor lifecycle reports, and hostile events carrying script tags,
event handlers, ``javascript:`` URLs, CSS injection, CSV formulas, ANSI escapes, a 100 KB path and
invalid UTF-8 in every attacker-controlled place.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from honeyscope.config import EnrichSettings
from honeyscope.detect import Detector, builtin_rule_paths, load_rules
from honeyscope.enrich import Enricher
from honeyscope.events import Event
from honeyscope.events.ids import new_event_id
from honeyscope.events.schema import (
    EventMeta,
    HsLifecycle,
    HsLifecycleNs,
    HttpRequestEvent,
    Observer,
    SensorLifecycleEvent,
    UserAgent,
)
from honeyscope.sensor.personas.exchange import ExchangePersona
from honeyscope.store.duckdb import DuckDBStore
from honeyscope.testing import exploits
from honeyscope.testing.record import InProcessRecorder, proxylogon_in_the_wild
from honeyscope.web import WebServer, WebSettings, create_app
from honeyscope.web.settings import AccessPolicy

DAY0 = datetime(2021, 3, 1, 8, 0, tzinfo=UTC)
#: Published HAFNIUM infrastructure (Volexity, March 2021) and two other sources of the chain.
CHAIN_SOURCES = ("104.140.114.110", "61.135.169.121", "1.180.236.10")
NOISE_SOURCES = ("185.220.101.4", "45.155.205.233", "5.188.206.14", "193.106.191.30", "89.248.165.2",
                 "218.92.0.112", "112.85.42.87", "222.186.30.76", "58.218.92.5", "190.2.131.7")
HOSTILE_SOURCE = "91.240.118.172"
XSS = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_URL = "javascript:alert(1)"
CSS = '</style><style>body{display:none}</style><div style="position:fixed;inset:0;background:red">'
FORMULA = "=cmd|' /C calc'!A0"
ANSI = "\x1b[31mRED\x1b[0m\x1b]0;owned\x07"
LONG = "A" * 100_000


@dataclass
class Campaign:
    """The store and what went into it (tests get the constants here: importlib mode cannot import conftest)."""

    store: DuckDBStore
    events: list[Event]
    hostile_ids: list[str]
    chain_event_ids: list[str]
    chain_sources: tuple[str, ...] = CHAIN_SOURCES
    noise_sources: tuple[str, ...] = NOISE_SOURCES
    hostile_source: str = HOSTILE_SOURCE
    xss: str = XSS
    formula: str = FORMULA


def _record_campaign(spool: Path) -> tuple[list[Event], list[str]]:
    events: list[Event] = []
    chain_ids: list[str] = []
    for day, source in enumerate(CHAIN_SOURCES):
        recorder = InProcessRecorder(ExchangePersona(), spool / f"chain{day}", source_ip=source,
                                     start=DAY0 + timedelta(days=2 * day + 1, hours=day + 1))
        proxylogon_in_the_wild(recorder, shell=f"Outlook{day}.aspx")
        recorder.close()
        events += recorder.events
        chain_ids += [e.event.id for e in recorder.events]
    noise = [exploits.css_nse_check(), exploits.msf_proxylogon_check(), exploits.nuclei_0688_check(),
             exploits.lijiejie_check(), exploits.nuclei_34473_checks()[0]]
    for index, source in enumerate(NOISE_SOURCES):
        for day in range(0, 8, 1 + index % 3):
            recorder = InProcessRecorder(ExchangePersona(), spool / f"noise{index}-{day}", source_ip=source,
                                         start=DAY0 + timedelta(days=day, hours=index), tls=index % 2 == 0)
            for request in noise[: 1 + (index + day) % len(noise)]:
                recorder.send(*request.args())
            recorder.send("GET", "/owa/auth/logon.aspx", [("User-Agent", "Mozilla/5.0 zgrab/0.x")])
            recorder.close()
            events += recorder.events
    return events, chain_ids


def _hostile(spool: Path) -> list[Event]:
    """Requests carrying hostile text everywhere an attacker writes, some on the wire, some set directly
    (control bytes, 100 KB values and invalid UTF-8 cannot all pass through a well-formed request)."""
    recorder = InProcessRecorder(ExchangePersona(), spool / "hostile", source_ip=HOSTILE_SOURCE,
                                 start=DAY0 + timedelta(days=7, hours=5))
    recorder.send("GET", f"/owa/{XSS}?q={XSS}", [("User-Agent", IMG), ("Referer", JS_URL), ("X-Css", CSS)])
    recorder.send("POST", "/ecp/x.ashx", [("User-Agent", FORMULA), ("Content-Type", "text/html")],
                  (IMG + CSS + FORMULA).encode())
    _, base = recorder.send("GET", "/owa/auth/logon.aspx", [("User-Agent", "Mozilla/5.0")])
    recorder.close()
    variants = [
        ("ansi", {"path": f"/{ANSI}", "agent": ANSI, "head": b"GET /\x1b[31m HTTP/1.1\r\nX: \x1b[2J\r\n\r\n",
                  "body": b""}),
        ("long", {"path": "/" + LONG, "agent": LONG, "head": b"GET /" + LONG.encode() + b" HTTP/1.1\r\n\r\n",
                      "body": LONG.encode()}),
        ("binary", {"path": "/\xff\xfe\xc3(" + XSS, "agent": "\ufffd" + XSS, "head": b"GET /\xff\xfe HTTP/1.1\r\n\r\n",
                        "body": bytes(range(256)) * 8 + b"\xff\xfe\xfd"}),
        ("jsurl", {"path": JS_URL, "agent": JS_URL, "head": b"GET javascript:alert(1) HTTP/1.1\r\n\r\n",
                       "body": b"\"><svg onload=alert(1)>"}),
    ]
    out: list[Event] = list(recorder.events[:2])
    for offset, (_, parts) in enumerate(variants, start=1):
        hs = base.honeyscope
        request = msgspec.structs.replace(hs.request, head=parts["head"], body=parts["body"],
                                          headers=[("Host", XSS), ("User-Agent", str(parts["agent"]))])
        event = msgspec.structs.replace(
            base, timestamp=base.timestamp + timedelta(seconds=offset),
            event=msgspec.structs.replace(base.event, id=new_event_id()),
            url=msgspec.structs.replace(base.url, original=str(parts["path"]), path=str(parts["path"]),
                                        query=CSS),
            user_agent=UserAgent(original=str(parts["agent"])),
            honeyscope=msgspec.structs.replace(hs, request=request, tags=[XSS, FORMULA], route=XSS))
        out.append(event)
    return out


def _lifecycle() -> list[Event]:
    reports = []
    for day, action in ((0, "started"), (8, "health")):
        reports.append(SensorLifecycleEvent(
            timestamp=DAY0 + timedelta(days=day), event=EventMeta(id=new_event_id(), category=["host"],
                                                                  type=["info"]),
            observer=Observer(name="decoy-1"),
            honeyscope=HsLifecycleNs(sensor=HsLifecycle(action=action, dropped_events=day))))
    return reports


@pytest.fixture(scope="session")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    base = tmp_path_factory.mktemp("web-campaign")
    events, chain_ids = _record_campaign(base / "spool")
    hostile = _hostile(base / "spool")
    enricher = Enricher.from_settings(EnrichSettings())
    try:
        enricher.enrich_batch([*events, *hostile])
    finally:
        enricher.close()
    requests = [e for e in [*events, *hostile] if isinstance(e, HttpRequestEvent)]
    Detector(load_rules(builtin_rule_paths())).detect_batch(requests)
    store = DuckDBStore(base / "honeyscope.duckdb")
    store.migrate()
    store.write([*events, *hostile, *_lifecycle()])
    yield Campaign(store, [*events, *hostile], [e.event.id for e in hostile], chain_ids)
    store.close()


OPEN_LOOPBACK = AccessPolicy(host="127.0.0.1", port=0, loopback=True, token_hash=None, tls=False)


@pytest.fixture(scope="session")
def open_app(campaign: Campaign):
    """The dashboard over the campaign, open as on loopback without a token."""
    return create_app(campaign.store, WebSettings(), policy=OPEN_LOOPBACK)


@pytest.fixture(scope="session")
def serve():
    """``with serve(app) as base_url:`` — a real uvicorn on 127.0.0.1 for the block."""
    return running


@contextlib.contextmanager
def running(app, host: str = "127.0.0.1") -> Iterator[str]:
    """A real uvicorn serving ``app`` on an ephemeral loopback port, in a thread with its own loop."""
    server = WebServer(app, host, 0)
    loop = asyncio.new_event_loop()
    stop: asyncio.Event | None = None
    started = threading.Event()

    def main() -> None:
        nonlocal stop
        asyncio.set_event_loop(loop)

        async def serve() -> None:
            nonlocal stop
            stop = asyncio.Event()
            started.set()
            await server.serve(stop)

        loop.run_until_complete(serve())
        loop.close()

    thread = threading.Thread(target=main, name="web-test-server", daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield server.url.rstrip("/")
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
