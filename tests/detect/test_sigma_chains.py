"""Acceptance: every exploit-chain test of the sensor (tests/sensor/personas/exchange/chains) is replayed
in-process against the real persona, each request recorded as the sensor records it, and run through the
rules. Every event the persona placed at a chain stage must carry a detection with that stage (from the
request alone), the persona's CVEs and an ATT&CK technique; the SigmaHQ Exchange rules fire too."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from honeyscope.detect import Detector, RuleSet
from honeyscope.detect.samples import Replayer, SampleRequest
from honeyscope.events.schema import HttpRequestEvent
from honeyscope.testing.exploits import ToolRequest

CHAINS = Path(__file__).resolve().parents[1] / "sensor" / "personas" / "exchange" / "chains"

#: Persona stages that depend on server state, not on the request: the stage the request shows instead.
#: (A missing canary, an unknown mailbox or an already-open PowerShell session cannot be seen in a request.)
STATE_DEPENDENT = {
    "proxylogon.ddi_denied": ("proxylogon.oab_",),
    "proxylogon.ssrf_backend": ("proxylogon.ssrf_probe",),
    "proxylogon.ecp_logon_failed": ("proxylogon.ecp_logon",),
    "proxytoken.probe": ("proxytoken.probe", "proxytoken.access"),
}
_SESSION_STEPS = ("wsman_receive", "wsman_signal", "wsman_delete", "wsman_fault", "wsman_other")
#: The persona also tags ProxyNotShell events with ProxyShell's CVE (it reuses that SSRF's code path); a
#: ProxyNotShell request is CVE-2022-41040, which is what the rules say.
_NOT_CLAIMED = {"proxynotshell": {"CVE-2021-34473"}}


def _expected_stages(stage: str) -> tuple[str, ...]:
    if stage in STATE_DEPENDENT:
        return STATE_DEPENDENT[stage]
    chain, _, step = stage.partition(".")
    if step in _SESSION_STEPS:
        return (f"{chain}.powershell",)
    if step.endswith("_unknown"):
        return (f"{chain}.{step.removesuffix('_unknown')}",)
    if step == "ews_other":
        return (f"{chain}.ssrf",)
    return (stage,)


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_chain_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chain_tests() -> list[Any]:
    if not CHAINS.is_dir():
        return []
    found = []
    for path in sorted(CHAINS.glob("test_*.py")):
        module = _load(path)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("test_") and function.__module__ == module.__name__:
                found.append(pytest.param(function, id=f"{path.stem}::{name}"))
    return found


CHAIN_TESTS = _chain_tests()


def play_chain(test: Callable[..., None]) -> list[HttpRequestEvent]:
    """Run a chain test with a ``send`` that records events in-process; returns the events."""
    replayer = Replayer()

    def send(request: ToolRequest, *, new_connection: bool = False) -> Any:
        sample = SampleRequest(request.method, request.target, request.headers, request.body,
                               at=float(len(replayer.events)))
        reply, _ = replayer.send(sample, new_connection=new_connection)
        return reply

    send.state = replayer.state  # type: ignore[attr-defined]
    arguments = {"send": send, "persona": replayer.persona}
    test(**{name: arguments[name] for name in inspect.signature(test).parameters})
    return replayer.events


@pytest.fixture(scope="module")
def detector(pack_and_sigmahq: RuleSet) -> Detector:
    return Detector(pack_and_sigmahq)


@pytest.fixture(scope="module")
def chain_events(pack_and_sigmahq: RuleSet) -> dict[str, list[HttpRequestEvent]]:
    """Every chain test's events, detected (module-wide: the SigmaHQ test reads them all)."""
    detector = Detector(pack_and_sigmahq)
    played = {}
    for param in CHAIN_TESTS:
        events = play_chain(param.values[0])
        detector.reset()
        detector.detect_batch(events)
        played[param.id] = events
    return played


def test_the_sensor_chain_tests_are_found() -> None:
    if not CHAINS.is_dir():
        pytest.skip("sensor chain tests not present")
    assert len(CHAIN_TESTS) >= 20


@pytest.mark.parametrize("test_id", [param.id for param in CHAIN_TESTS])
def test_chain_events_carry_stage_cve_and_technique(test_id: str,
                                                    chain_events: dict[str, list[HttpRequestEvent]]) -> None:
    problems = []
    for event in chain_events[test_id]:
        stage = event.honeyscope.stage
        if stage is None:
            continue
        where = f"{event.http.request.method} {event.url.original[:90]} ({stage})"
        detections = event.honeyscope.detections
        stages = {d.stage for d in detections if d.stage}
        wanted = _expected_stages(stage)
        if not any(found.startswith(prefix) for found in stages for prefix in wanted):
            problems.append(f"{where}: no detection with stage {' or '.join(wanted)} (got {sorted(stages)})")
        cves = {cve for d in detections for cve in d.cves}
        claimed = {tag for tag in event.honeyscope.tags if tag.startswith("CVE-")}
        missing = claimed - cves - _NOT_CLAIMED.get(stage.partition(".")[0], set())
        if missing:
            problems.append(f"{where}: CVEs {sorted(missing)} not in detections ({sorted(cves)})")
        techniques = {t for d in detections for t in d.techniques}
        wanted_technique = "T1505.003" if stage.startswith("webshell.") else "T1190"
        if wanted_technique not in techniques:
            problems.append(f"{where}: technique {wanted_technique} missing ({sorted(techniques)})")
        if event.event.kind != "alert" or "intrusion_detection" not in event.event.category:
            problems.append(f"{where}: not marked as an alert")
    assert not problems, "\n".join(problems)


#: SigmaHQ Exchange webserver rules and whether our emulated chains must trigger them.
SIGMAHQ_EXCHANGE = {
    "CVE-2020-0688 Exploitation Attempt": True,
    "CVE-2020-0688 Exchange Exploitation via Web Log": True,
    "Exchange Exploitation Used by HAFNIUM": True,
    "Exchange ProxyShell Pattern": True,
    # its keyword form: POST, 200, SetObject, schema=Reset, VirtualDirectory and '$' anywhere in the request
    "ProxyLogon Reset Virtual Directories Based On IIS Log": True,
    "Successful Exchange ProxyShell Attack": True,
    "Potential OWASSRF Exploitation Attempt - Webserver": True,
    "Exchange Exploitation CVE-2021-28480": False,  # POST /owa/calendar/a: no chain test sends it
    "CVE-2021-33766 Exchange ProxyToken Exploitation": False,  # wants status 500; Exchange (and we) answer 403
    "OWASSRF Exploitation Attempt Using Public POC - Webserver": False,  # wants the PoC's Chrome/105 user agent
}


def test_sigmahq_exchange_rules_fire_on_the_emulated_chains(
        chain_events: dict[str, list[HttpRequestEvent]], pack_and_sigmahq: RuleSet) -> None:
    titles = {rule.meta.title for rule in pack_and_sigmahq.rules}
    assert set(SIGMAHQ_EXCHANGE) <= titles, sorted(set(SIGMAHQ_EXCHANGE) - titles)
    fired = {d.title for events in chain_events.values() for event in events for d in event.honeyscope.detections}
    must = {title for title, expected in SIGMAHQ_EXCHANGE.items() if expected}
    assert must <= fired, f"SigmaHQ rules that never fired: {sorted(must - fired)}"
