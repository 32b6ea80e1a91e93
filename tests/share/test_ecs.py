"""ECS JSON lines: ECS field names, detections as rule/vulnerability/threat arrays, our extras under
honeyscope.*; ``honeyscope export ecs`` from a spool or an events file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from honeyscope.detect.yara import YaraScanner, builtin_yara_paths
from honeyscope.events import decode_event, encode_event
from honeyscope.events.schema import (
    AsOrganization,
    AutonomousSystem,
    Detection,
    Geo,
    HsLimit,
    HttpRequestEvent,
)
from honeyscope.sensor.recording import limit_event, make_observer
from honeyscope.share.ecs import to_ecs, write_ecs


def _event(chain: Any, stage: str) -> HttpRequestEvent:
    """A copy of the chain's event at ``stage`` (the chain is shared between tests)."""
    event = decode_event(encode_event(next(e for e in chain.events if e.honeyscope.stage == stage)))
    assert isinstance(event, HttpRequestEvent)
    return event


def test_a_request_maps_to_ecs_fields(proxylogon_chain: Any) -> None:
    event = _event(proxylogon_chain, "proxylogon.sid_leak")
    event.source.geo = Geo(country_iso_code="CN", country_name="China", continent_code="AS")
    event.source.as_ = AutonomousSystem(number=4134, organization=AsOrganization(name="Chinanet"))
    doc = to_ecs(event)
    assert doc["@timestamp"] == "2021-03-03T03:39:18.000000Z" and doc["ecs"] == {"version": "9.0.0"}
    assert doc["event"]["kind"] == "event" and doc["event"]["category"] == ["web", "network"]
    assert doc["event"]["id"] == event.event.id and doc["event"]["module"] == "honeyscope"
    assert doc["source"] == {"ip": "203.0.113.7", "address": "203.0.113.7", "port": 50123,
                             "geo": {"country_iso_code": "CN", "country_name": "China", "continent_code": "AS"},
                             "as": {"number": 4134, "organization": {"name": "Chinanet"}}}
    assert doc["destination"] == {"ip": "10.0.0.5", "address": "10.0.0.5", "port": 443}
    assert doc["http"]["request"]["method"] == "POST" and doc["http"]["response"]["status_code"] == 200
    assert doc["http"]["request"]["mime_type"] == "application/mapi-http" and doc["http"]["version"] == "1.1"
    assert "content" not in doc["http"]["request"]["body"]  # the MAPI Connect body is binary
    assert doc["url"] == {"original": "/ecp/y.js", "path": "/ecp/y.js", "domain": "mail.contoso.com",
                          "scheme": "https", "port": 443}
    assert doc["user_agent"] == {"original": "python-requests/2.25.1"}
    assert doc["tls"]["version"] == "1.2" and doc["tls"]["established"] is True
    assert doc["tls"]["client"] == {"server_name": "mail.contoso.com"}
    assert doc["observer"]["type"] == "honeypot" and doc["observer"]["name"] == "decoy-1"
    assert doc["related"] == {"ip": ["203.0.113.7", "10.0.0.5"]}
    assert doc["honeyscope"]["stage"] == "proxylogon.sid_leak" and doc["honeyscope"]["persona"] == "exchange"
    assert "rule" not in doc and "vulnerability" not in doc and "threat" not in doc


def test_detections_become_rule_vulnerability_and_threat_arrays(proxylogon_chain: Any) -> None:
    event = _event(proxylogon_chain, "proxylogon.oab_setobject_externalurl")
    YaraScanner.load(builtin_yara_paths()).scan_event(event)
    event.honeyscope.detections.append(Detection(
        rule_id="hs-proxylogon-ssrf", title="ProxyLogon SSRF cookie", severity="high",
        cves=["CVE-2021-26855"], techniques=["T1190"], stage="proxylogon.ssrf"))
    doc = to_ecs(event)
    assert doc["event"]["kind"] == "alert" and "intrusion_detection" in doc["event"]["category"]
    assert doc["event"]["severity"] == 99
    assert doc["rule"]["id"] == [d.rule_id for d in event.honeyscope.detections]
    assert doc["rule"]["name"][-1] == "ProxyLogon SSRF cookie" and doc["rule"]["ruleset"] == ["yara", "sigma"]
    assert doc["vulnerability"] == {"id": ["CVE-2021-27065", "CVE-2021-26855"], "enumeration": "CVE"}
    assert doc["threat"] == {"framework": "MITRE ATT&CK", "technique": {"id": ["T1505.003", "T1190"]}}
    assert doc["honeyscope"]["detections"][0]["evidence"]
    assert doc["http"]["request"]["body"]["content"].startswith('{"identity"')


def test_credentials_are_related_users_and_other_event_types_export(proxylogon_chain: Any) -> None:
    event = _event(proxylogon_chain, "proxylogon.autodiscover")
    limit = limit_event(event.timestamp, make_observer("decoy-1"), "exchange",
                        HsLimit(limit="max_connections", configured=10, observed=11), source=event.source)
    doc = to_ecs(limit)
    assert doc["event"]["type"] == ["denied"] and doc["source"]["ip"] == "203.0.113.7"
    assert doc["honeyscope"]["limit"]["limit"] == "max_connections"
    assert "http" not in doc and doc["related"] == {"ip": ["203.0.113.7"]}
    buffer = io.BytesIO()
    assert write_ecs([event, limit], buffer) == 2
    assert [json.loads(line)["event"]["id"] for line in buffer.getvalue().splitlines()] == [
        event.event.id, limit.event.id]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "honeyscope", *args], capture_output=True, text=True, timeout=120)


def test_cli_export_ecs_from_a_spool_and_from_a_file(proxyshell_chain: Any, tmp_path: Path) -> None:
    out = tmp_path / "events.ecs.jsonl"
    result = _cli("export", "ecs", "--spool", str(proxyshell_chain.spool), "--output", str(out))
    assert result.returncode == 0, result.stderr
    documents = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["event"]["id"] for d in documents] == [e.event.id for e in proxyshell_chain.events]
    assert all(d["observer"]["type"] == "honeypot" and "@timestamp" in d for d in documents)

    events_file = tmp_path / "events.jsonl"
    events_file.write_bytes(b"".join(encode_event(e) + b"\n" for e in proxyshell_chain.events[:3])
                            + b"{not json}\n")
    result = _cli("export", "ecs", "--input", str(events_file))
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 3
    assert f"honeyscope: warning: {events_file}:4:" in result.stderr


def test_cli_export_names_a_missing_source() -> None:
    result = _cli("export", "ecs", "--spool", "/nonexistent/spool")
    assert result.returncode == 2 and "not a spool directory" in result.stderr and "Traceback" not in result.stderr
