"""The JSON API over a real DuckDB store holding a simulated campaign (Starlette's TestClient)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import msgspec
import pytest
from starlette.testclient import TestClient

from honeyscope.events import decode_event
from honeyscope.events.ids import new_event_id
from honeyscope.store.base import EventQuery
from honeyscope.store.duckdb import DuckDBStore
from honeyscope.web import WebSettings, create_app
from honeyscope.web.headers import CONTENT_SECURITY_POLICY
from honeyscope.web.settings import AccessPolicy


@pytest.fixture(scope="module")
def client(open_app) -> TestClient:
    return TestClient(open_app, base_url="http://127.0.0.1:8000")


def test_overview_counts_every_event_by_country_cve_sensor_and_day(client: TestClient, campaign):
    data = client.get("/api/overview").json()
    assert data["total"] == campaign.store.count()
    assert data["period"]["last"] == "2021-03-09" and data["period"]["days"] == 30 == len(data["days"])
    countries = {c["key"]: c for c in data["countries"]}
    assert countries["CN"]["label"] == "China" and data["countries"][0]["key"] == "CN"
    assert sum(c["count"] for c in data["countries"]) == sum(
        1 for e in campaign.events if getattr(e.source, "geo", None) and e.source.geo.country_iso_code)
    assert {"CVE-2021-26855", "CVE-2021-27065"} <= {c["key"] for c in data["cves"]}
    for series in data["countries_daily"] + data["cves_daily"]:
        assert len(series["counts"]) == len(data["days"])
    [sensor] = data["sensors"]
    assert sensor["name"] == "decoy-1" and sensor["last_report"] == "health" and sensor["dropped_events"] == 8
    assert sum(sensor["counts"]) == data["total"]
    assert data["top_sources"] and all(s["events"] > 0 for s in data["top_sources"])


def test_overview_period_can_be_chosen_and_bad_dates_are_one_clear_error(client: TestClient):
    narrow = client.get("/api/overview", params={"from": "2021-03-01", "to": "2021-03-01"}).json()
    assert narrow["period"] == {"first": "2021-03-01", "last": "2021-03-01", "days": 1}
    assert 0 < narrow["total"] < client.get("/api/overview").json()["total"]
    bad = client.get("/api/overview", params={"from": "yesterday"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "bad_request", "detail": "from='yesterday' is not a date — use YYYY-MM-DD"}


def test_a_repeated_overview_is_reused_until_an_event_of_its_period_is_stored(tmp_path: Path, campaign):
    store = DuckDBStore(tmp_path / "honeyscope.duckdb")
    store.migrate()
    store.write(campaign.events[:200])
    policy = AccessPolicy(host="127.0.0.1", port=0, loopback=True, token_hash=None, tls=False)
    try:
        with TestClient(create_app(store, WebSettings(), policy=policy), base_url="http://127.0.0.1") as client:
            first = client.get("/api/overview").json()
            assert client.get("/api/overview").json() == first and first["total"] == 200
            [newest] = store.events(EventQuery(descending=True, limit=1))
            later = msgspec.structs.replace(newest, event=msgspec.structs.replace(newest.event, id=new_event_id()))
            store.write([later])  # same day, same country, sensor and CVEs: one more of each
            again = client.get("/api/overview").json()
            assert again["total"] == 201 and sum(again["sensors"][0]["counts"]) == 201
            assert sum(c["count"] for c in again["countries"]) == sum(c["count"] for c in first["countries"]) + (
                1 if newest.source.geo.country_iso_code else 0)
    finally:
        store.close()


def test_live_feed_is_newest_first_and_polls_from_a_cursor(client: TestClient):
    page = client.get("/api/live", params={"limit": 20}).json()
    times = [e["timestamp"] for e in page["events"]]
    assert len(times) == 20 and times == sorted(times, reverse=True) and page["cursor"] == times[0]
    newer = client.get("/api/live", params={"after": page["cursor"]}).json()["events"]
    assert newer and all(e["timestamp"] >= page["cursor"] for e in newer)


def test_events_filter_by_source_cve_and_type(client: TestClient, campaign):
    source = campaign.chain_sources[0]
    rows = client.get("/api/events", params={"source": source, "limit": 1000}).json()["events"]
    assert rows and {r["source_ip"] for r in rows} == {source}
    assert len(rows) == sum(1 for e in campaign.events if getattr(e, "source", None) and e.source.ip == source)
    cve = client.get("/api/events", params={"cve": "CVE-2021-27065", "limit": 1000}).json()["events"]
    assert cve and all("CVE-2021-27065" in r["cves"] for r in cve)
    lifecycle = client.get("/api/events", params={"type": "sensor.lifecycle"}).json()["events"]
    assert [r["type"] for r in lifecycle] == ["sensor.lifecycle"] * 2
    assert client.get("/api/events", params={"source": "not-an-ip"}).status_code == 400
    assert client.get("/api/events", params={"limit": "0"}).status_code == 400


def test_event_detail_returns_the_stored_event_exactly(client: TestClient, campaign):
    event_id = campaign.hostile_ids[-1]
    response = client.get(f"/api/events/{event_id}")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert decode_event(response.content) == campaign.store.event(event_id)
    assert client.get("/api/events/01a201c5-0000-7000-8000-000000000000").status_code == 404
    assert client.get("/api/events/not-a-uuid").json()["error"] == "not_found"


def test_sessions_group_each_chain_and_a_session_opens_as_a_timeline(client: TestClient, campaign):
    listed = client.get("/api/sessions").json()
    chain = next(s for s in listed["sessions"] if s["source_ip"] == campaign.chain_sources[0])
    assert "CVE-2021-26855" in chain["cves"] and "webshell.command" in chain["stages"]
    recorded = sum(1 for e in campaign.events if e.source.ip == campaign.chain_sources[0])
    assert chain["requests"] == chain["events"] == recorded >= 6
    detail = client.get(f"/api/sessions/{chain['id']}",
                        params={"source": chain["source_ip"], "start": chain["first_seen"]}).json()
    assert detail["session"] == chain
    steps = detail["timeline"]
    assert len(steps) == chain["events"] and steps[0]["offset_seconds"] == 0
    firsts = [s["stage"] for s in steps if s["new_stage"]]
    assert firsts[-1] == "webshell.command" and len(firsts) == len(set(firsts))
    wrong = client.get("/api/sessions/s-00000000000000000000",
                       params={"source": chain["source_ip"], "start": chain["first_seen"]})
    assert wrong.status_code == 404
    assert client.get(f"/api/sessions/{chain['id']}").status_code == 400


def test_sessions_filter_by_country_and_cve(client: TestClient, campaign):
    by_country = client.get("/api/sessions", params={"country": "cn"}).json()["sessions"]
    assert by_country and {s["country"] for s in by_country} == {"CN"}
    by_cve = client.get("/api/sessions", params={"cve": "CVE-2021-27065"}).json()["sessions"]
    assert {s["source_ip"] for s in by_cve} == set(campaign.chain_sources)
    noisy = client.get("/api/sessions", params={"source": campaign.noise_sources[0]}).json()["sessions"]
    assert noisy and {s["source_ip"] for s in noisy} == {campaign.noise_sources[0]}


def test_actors_attribute_the_published_infrastructure_with_evidence_and_confidence(client: TestClient, campaign):
    data = client.get("/api/actors").json()
    report = data["report"]
    assert report["sessions"] > 0 and len(data["clusters"]) == len(report["clusters"])
    hafnium = next(r for r in report["clusters"] if campaign.chain_sources[0] in r["source_ips"])
    assert hafnium["actor"] == "hafnium" and hafnium["confidence"] >= 70 and hafnium["level"] == "High"
    evidence = {e["kind"]: e for e in hafnium["best"]["evidence"]}
    assert evidence["ip"]["value"] == campaign.chain_sources[0] and evidence["ip"]["url"].startswith("https://")
    scanners = [r for r in report["clusters"] if set(r["source_ips"]) <= set(campaign.noise_sources)]
    assert scanners and all(r["actor"] is None for r in scanners)


def test_trends_answer_with_the_report_and_reject_unknown_dimensions(client: TestClient):
    data = client.get("/api/trends", params={"by": "country"}).json()
    assert data["dimension"] == "country" and data["report"]["dimensions"] == ["country"]
    assert len(data["exposure"]) == len(data["days"]) == data["report"]["days"]
    assert len(data["series"]) == len(data["report"]["findings"])
    bad = client.get("/api/trends", params={"by": "planet"})
    assert bad.status_code == 400 and "use one of" in bad.json()["detail"]


def test_openapi_documents_every_api_route_with_schemas(client: TestClient, open_app):
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    api_paths = {route.path for route in open_app.routes if getattr(route, "path", "").startswith(("/api/", "/export"))}
    assert api_paths - {"/api/openapi.json"} == set(doc["paths"])
    assert {"Overview", "EventPage", "SessionList", "SessionDetail", "ApiError", "SessionSummary"} <= set(
        doc["components"]["schemas"])
    for operation in doc["paths"].values():
        assert operation["get"]["description"] and operation["get"]["responses"]["200"]


def test_csv_export_neutralises_formulas_and_keeps_hostile_text_inert(client: TestClient, campaign):
    response = client.get("/export/events.csv", params={"source": campaign.hostile_source, "order": "asc"})
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows
    agents = [row["user_agent"] for row in rows]
    assert "'" + campaign.formula in agents and campaign.formula not in agents
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value
            assert "\x1b" not in value


def test_every_response_carries_the_security_headers(client: TestClient, campaign):
    for path in ("/", "/api/overview", "/static/app.css", f"/events/{campaign.hostile_ids[0]}", "/nowhere"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
    assert client.get("/api/overview").headers["cache-control"] == "no-store"
    assert "server" not in client.get("/").headers


def test_hostile_event_pages_show_escaped_text_hex_and_cut_values(client: TestClient, campaign):
    pages = [client.get(f"/events/{event_id}").text for event_id in campaign.hostile_ids]
    joined = "\n".join(pages)
    assert campaign.xss not in joined and "<img src=x" not in joined and "<style>body" not in joined
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in joined
    assert "\x1b" not in joined and "\\x1b[31mRED" in joined
    assert "not text: hex view" in joined and "00000000  00 01 02 03" in joined
    assert "more characters" in joined and max(len(page) for page in pages) < 200_000
    live = client.get("/live").text
    assert campaign.xss not in live and "&lt;img src=x onerror=alert(1)&gt;" in live
    for page in [*pages, live]:
        assert page.count("<script") == page.count('<script src="/static/')
