"""``honeyscope export stix`` reads the store ``honeyscope up`` writes, for a period, with attribution."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from honeyscope.cli.main import main
from honeyscope.testing.store import data_dir_holding


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, campaign, hafnium) -> Path:
    """A data directory as ``honeyscope up`` leaves it: DATA/honeyscope.duckdb holding the events."""
    return data_dir_holding(tmp_path_factory.mktemp("data"), [*campaign, *hafnium[0]])


def test_export_writes_a_bundle_of_the_period_with_attribution(data_dir: Path, tmp_path: Path, capsys, stix):
    output = tmp_path / "march.stix.json"
    assert main(["export", "stix", "--data", str(data_dir), "--from", "2021-03-03", "--to", "2021-03-04",
                 "--tlp", "green", "--name", "Example CERT honeypots", "--output", str(output)]) == 0
    bundle = json.loads(output.read_text(encoding="utf-8"))
    sightings = stix.of_type(bundle, "sighting")
    assert sightings and all(s["first_seen"].startswith("2021-03-03") for s in sightings)
    assert stix.of_type(bundle, "identity")[0]["name"] == "Example CERT honeypots"
    assert stix.of_type(bundle, "marking-definition")[0]["name"] == "TLP:GREEN"
    assert not stix.of_type(bundle, "intrusion-set")  # HAFNIUM's chain was in February: outside the period
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("10 events → ")


def test_export_of_everything_names_hafnium(data_dir: Path, tmp_path: Path, capsys, stix):
    output = tmp_path / "all.json"
    assert main(["export", "stix", "--data", str(data_dir), "--output", str(output)]) == 0
    bundle = json.loads(output.read_text(encoding="utf-8"))
    assert [o["name"] for o in stix.of_type(bundle, "intrusion-set")] == ["HAFNIUM"]
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("27 events → ") and "1 attributed clusters" in summary
    assert main(["export", "stix", "--data", str(data_dir), "--no-attribution", "--output", str(output)]) == 0
    assert not stix.of_type(json.loads(output.read_text(encoding="utf-8")), "intrusion-set")


def test_bad_arguments_and_a_missing_store_are_one_clear_line(data_dir: Path, tmp_path: Path, capsys):
    assert main(["export", "stix", "--data", str(data_dir), "--tlp", "orange"]) == 2
    assert main(["export", "stix", "--data", str(data_dir), "--from", "March 3rd"]) == 2
    assert main(["export", "stix", "--data", str(tmp_path / "none")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors[0] == ("honeyscope: error: TLP level 'orange' is not TLP 2.0 — use one of clear, green, amber, "
                         "amber+strict, red")
    assert errors[1].startswith("honeyscope: error: --from 'March 3rd': not an ISO 8601 day or time")
    assert errors[2].startswith(f"honeyscope: error: no store at {tmp_path / 'none' / 'honeyscope.duckdb'} — run")


def test_a_store_in_use_by_honeyscope_up_is_refused_in_one_line(data_dir: Path, tmp_path: Path, capsys):
    output = tmp_path / "never.json"
    with subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                                   "print('open', flush=True); time.sleep(60)", str(data_dir / "honeyscope.duckdb")],
            stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
            assert main(["export", "stix", "--data", str(data_dir), "--output", str(output)]) == 2
        finally:
            holder.kill()
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (f"honeyscope: error: the store {data_dir / 'honeyscope.duckdb'} is in use by another process — "
                    f"is 'honeyscope up' running on {data_dir}? stop it, or export from a copy of the file")
    assert not output.exists() and not list(tmp_path.glob("*.partial"))
