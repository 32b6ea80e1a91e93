"""``honeyscope attribute`` over a real DuckDB store: table, JSON, empty store, imports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from honeyscope.cli.main import main
from honeyscope.config import StoreSettings
from honeyscope.store import open_store

PRE_PATCH = datetime(2021, 2, 27, 10, 0, tzinfo=UTC)


def _store(data: Path, events: list) -> None:
    store = open_store(StoreSettings(path=str(data / "honeyscope.duckdb")))
    try:
        store.migrate()
        store.write(events)
    finally:
        store.close()


def _hafnium_like(events) -> list:
    ip = "104.140.114.110"
    return [
        events.http(ip, PRE_PATCH, path="/ecp/y.js", method="POST", user_agent="ExchangeServicesClient/0.0.0.0"),
        events.http(ip, PRE_PATCH + timedelta(seconds=20), path="/owa/auth/OutlookZH.aspx", method="POST",
                    user_agent="antSword/v2.1", route="webshell.oab", stage="webshell.command",
                    body=b"klk123456=Response.Write(1);"),
    ]


def _noise(events) -> list:
    return [events.http(f"61.1.{i}.9", PRE_PATCH + timedelta(minutes=i), path="/owa/auth/logon.aspx",
                        user_agent="Mozilla/5.0 zgrab/0.x", country="CN", asn=4134) for i in range(5)]


def test_attribute_table_names_hafnium_and_leaves_noise_unattributed(tmp_path, events, capsys):
    _store(tmp_path, _hafnium_like(events) + _noise(events))
    assert main(["attribute", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("6 sessions in 6 clusters; 1 attributed.")
    hafnium_line = next(line for line in out.splitlines() if "HAFNIUM" in line)
    assert "104.140.114.110" in hafnium_line and "High" in hafnium_line and "ip 104.140.114.110" in hafnium_line
    assert "5 clusters matched no profile" in out
    assert main(["attribute", "--data", str(tmp_path), "--all"]) == 0
    assert capsys.readouterr().out.count("unattributed") >= 5


def test_attribute_json_has_evidence_sources_and_alternatives(tmp_path, events, capsys):
    _store(tmp_path, _hafnium_like(events))
    assert main(["attribute", "--data", str(tmp_path), "--json"]) == 0
    report = msgspec.json.decode(capsys.readouterr().out)
    [cluster] = report["clusters"]
    assert cluster["actor"] == "hafnium" and cluster["level"] == "High"
    evidence = cluster["best"]["evidence"]
    assert all({"kind", "value", "weight", "source", "url"} <= set(item) for item in evidence)
    assert "alternatives" in cluster and report["attributed"] == 1
    assert any("hafnium.yaml" in path for path in report["knowledge"])


def test_attribute_on_an_empty_store_says_no_sessions(tmp_path, capsys):
    _store(tmp_path, [])
    assert main(["attribute", "--data", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("no sessions")
    assert main(["attribute", "--data", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clusters"] == []


def test_min_confidence_can_be_raised(tmp_path, events, capsys):
    _store(tmp_path, [events.http("149.28.14.163", PRE_PATCH + timedelta(days=30), user_agent=None, path="/")])
    assert main(["attribute", "--data", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clusters"][0]["actor"] == "hafnium"
    assert main(["attribute", "--data", str(tmp_path), "--json", "--min-confidence", "60"]) == 0
    assert json.loads(capsys.readouterr().out)["clusters"][0]["actor"] is None
    assert main(["attribute", "--data", str(tmp_path), "--min-confidence", "101"]) == 2


def test_imported_misp_indicators_are_used_on_the_next_run(tmp_path, events, capsys):
    _store(tmp_path, [events.http("192.0.2.200", PRE_PATCH + timedelta(days=60))])
    event = {"Event": {"uuid": "0b8a3f4e-0000-4000-8000-00000000000a", "info": "inert test event",
                       "Orgc": {"name": "Test"}, "Attribute": [{"type": "ip-src", "value": "192.0.2.200"}]}}
    (tmp_path / "event.json").write_text(json.dumps(event))
    assert main(["attribute", "--data", str(tmp_path), "--import", str(tmp_path / "event.json"),
                 "--actor", "Tonto Team"]) == 0
    assert "added 1 indicators to Tonto Team (tonto)" in capsys.readouterr().out
    assert (tmp_path / "intel" / "tonto-event.yaml").is_file()
    assert main(["attribute", "--data", str(tmp_path), "--json"]) == 0
    [cluster] = json.loads(capsys.readouterr().out)["clusters"]
    assert cluster["actor"] == "tonto" and cluster["best"]["evidence"][0]["source"].startswith("MISP event")


def test_import_needs_a_known_actor(tmp_path, capsys):
    (tmp_path / "event.json").write_text("{}")
    assert main(["attribute", "--data", str(tmp_path), "--import", str(tmp_path / "event.json")]) == 2
    assert "--actor" in capsys.readouterr().err
    assert main(["attribute", "--data", str(tmp_path), "--import", str(tmp_path / "event.json"),
                 "--actor", "nobody-at-all"]) == 2
    assert "no such actor profile" in capsys.readouterr().err
