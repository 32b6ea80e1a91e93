"""Trends through a real DuckDB store and the ``honeyscope trends`` command."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
import numpy as np
import pytest

from honeyscope.analysis.trends import find_trends, load_table
from honeyscope.cli.main import main
from honeyscope.config import StoreSettings
from honeyscope.events import Detection, Geo, HsEnrichment, HttpRequestEvent
from honeyscope.events.ids import UuidV7
from honeyscope.events.schema import Endpoint, EventMeta, Honeyscope, HsConnection, Observer
from honeyscope.store import open_store
from honeyscope.store.duckdb import DuckDBStore
from honeyscope.testing.postgres import PostgresUnavailableError, database_holding

START, ONSET, DAYS, OUTAGE = date(2021, 2, 1), date(2021, 3, 3), 60, date(2021, 2, 20)


def _event(ids: UuidV7, at: datetime, country: str, sensor: str, cves: list[str]) -> HttpRequestEvent:
    detections = [Detection(rule_id="proxylogon-ssrf", title="ProxyLogon SSRF", cves=cves)] if cves else []
    return HttpRequestEvent(
        timestamp=at, event=EventMeta(id=ids.new(int(at.timestamp() * 1000))), observer=Observer(name=sensor),
        source=Endpoint(ip="203.0.113.9", port=50000, geo=Geo(country_iso_code=country)),
        destination=Endpoint(ip="192.0.2.1", port=443),
        honeyscope=Honeyscope(persona="exchange", connection=HsConnection(id="c1"),
                              enrichment=HsEnrichment(network="public"), detections=detections))


def _events() -> list[HttpRequestEvent]:
    """Two sensors; CN and US scan all along; from ONSET CN also exploits CVE-2021-26855; one outage day."""
    rng, ids, events = np.random.default_rng(1), UuidV7(), []
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        if day == OUTAGE:
            continue
        for sensor in ("s1", "s2"):
            at = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
            plan = [("US", []) for _ in range(rng.poisson(6))] + [("CN", []) for _ in range(rng.poisson(6))]
            if day >= ONSET:
                plan += [("CN", ["CVE-2021-26855"]) for _ in range(rng.poisson(14))]
            events += [_event(ids, at + timedelta(seconds=i), country, sensor, cves)
                       for i, (country, cves) in enumerate(plan)]
    return events


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    store = DuckDBStore(data / "honeyscope.duckdb")
    try:
        store.migrate()
        store.write(_events())
    finally:
        store.close()
    return data


def test_a_rise_read_from_the_store(data_dir: Path) -> None:
    store = open_store(StoreSettings(path=str(data_dir / "honeyscope.duckdb")))
    try:
        table = load_table(store, ["country"])
    finally:
        store.close()
    assert table.keys == (("CN",), ("US",))
    assert table.outages() == [OUTAGE]
    assert set(table.exposure.tolist()) == {0, 2}
    report = find_trends(table)
    assert [finding.key for finding in report.findings] == [("CN",)]
    assert abs((report.findings[0].onset - ONSET).days) <= 2


def test_the_command_prints_one_sentence_per_finding(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trends", "--data", str(data_dir), "--from", "2021-02-01", "--to", "2021-03-31"]) == 0
    out = capsys.readouterr().out
    assert "by country, 2021-02-01 to 2021-03-31: 59 days, 1 without any active sensor" in out
    assert "  1. attacks from CN rose " in out
    assert "US" not in out.split("sustained change(s):")[1]


def test_the_command_prints_json_for_scripts(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trends", "--data", str(data_dir), "--json"]) == 0
    report = msgspec.json.decode(capsys.readouterr().out)
    assert report["dimensions"] == ["country"]
    assert report["outage_days"] == [str(OUTAGE)]
    assert [(f["key"], f["direction"]) for f in report["findings"]] == [(["CN"], "increase")]
    assert report["findings"][0]["sentence"].startswith("attacks from CN rose ")


def test_country_by_cve(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["trends", "--data", str(data_dir), "--by", "country,cve"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "attacks from CN using CVE-2021-26855 appeared after 2021-03-03" in captured.out


def test_a_missing_store_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trends", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no store at" in err and "honeyscope up" in err


def test_a_store_held_by_a_running_honeyscope_is_one_clear_line(data_dir: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "honeyscope.duckdb"
    copy.write_bytes((data_dir / "honeyscope.duckdb").read_bytes())
    script = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)"
    with subprocess.Popen([sys.executable, "-c", script, str(copy)], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            assert main(["trends", "--data", str(tmp_path)]) == 2
        finally:
            holder.kill()
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "one process" in err, err


@pytest.mark.parametrize(("argv", "message"), [
    (["--by", "country,city"], "--by country,city: not a dimension or pair"),
    (["--by", "country,cve,asn"], "not a dimension or pair"),
    (["--from", "2021-03-32"], "--from 2021-03-32: not a date"),
    (["--from", "2021-03-03", "--to", "2021-03-01"], "--to 2021-03-01 is before --from 2021-03-03"),
    (["--min-days", "0"], "min_sustained_days = 0"),
])
def test_bad_flags_are_one_clear_line(argv: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trends", "--data", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err, err


def test_other_commands_do_not_pay_for_the_statistics_imports() -> None:
    heavy = "{'statsmodels', 'ruptures', 'pymannkendall'}"
    probe = f"import sys, honeyscope.cli.main; print(sorted({heavy} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_the_trends_section_sets_the_analysis_and_flags_override_it(data_dir: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "honeyscope.toml"
    config.write_text(f"[store]\npath = {str(data_dir / 'honeyscope.duckdb')!r}\n\n"
                      "[trends]\nmin_total_events = 100000\nalpha = 0.01\ncorrection = \"bh\"\n")
    assert main(["trends", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "2 series, 0 tested, 0 tests (bh, α = 0.01)" in out
    assert "2 series not tested: too few events" in out
    assert main(["trends", "--config", str(config), "--min-events", "50", "--alpha", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "2 series, 2 tested" in out and "(bh, α = 0.05)" in out
    assert "  1. attacks from CN rose " in out


def test_a_bad_trends_section_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "honeyscope.toml"
    config.write_text("[trends]\nmin_sustained_days = 0\n")
    assert main(["trends", "--data", str(tmp_path), "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "trends.min_sustained_days = 0" in err and "at least 1" in err, err


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    """A real PostgreSQL holding the same events (the test is skipped when PostgreSQL cannot run here)."""
    try:
        with database_holding(_events(), "trends") as dsn:
            yield dsn
    except (PostgresUnavailableError, OSError) as error:  # raised by the start, before the yield
        pytest.skip(f"PostgreSQL unavailable: {error}")


def test_country_by_cve_on_postgresql(postgres_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "honeyscope.toml"
    config.write_text(f"[store]\nkind = \"postgres\"\ndsn = {postgres_dsn!r}\n")
    assert main(["trends", "--config", str(config), "--by", "country,cve", "--from", "2021-02-01",
                 "--to", "2021-03-31"]) == 0
    out = capsys.readouterr().out
    assert "by country × cve, 2021-02-01 to 2021-03-31: 59 days, 1 without any active sensor; 1 series" in out
    assert "attacks from CN using CVE-2021-26855 appeared after 2021-03-03" in out
