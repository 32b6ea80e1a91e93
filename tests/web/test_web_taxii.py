"""The TAXII 2.1 server inside the dashboard: a real ``honeyscope web`` over a simulated campaign, read by
``taxii2-client`` (discovery → API root → collections → paged objects, ``added_after``, manifest) with the
access token as HTTP Basic password, with the attribution ``honeyscope export stix`` gives the same store;
the collection without attribution when ``attribution_minutes = 0``; and the same app refusing requests
without credentials when it is bound to a non-loopback address."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from starlette.testclient import TestClient
from taxii2client.v21 import Server, as_pages

from honeyscope.config import ConfigError
from honeyscope.share.taxii import MEDIA_TYPE
from honeyscope.share.tlp import TLP_MARKING_IDS
from honeyscope.store.duckdb import DuckDBStore
from honeyscope.testing.web import wait_until_answering, web_process
from honeyscope.web import TaxiiSettings, WebSettings, access_policy, create_app, hash_token
from honeyscope.web.settings import TOKEN_ENV

TOKEN = "partner-cert-token-0123456789"
NETWORK = "Example CERT honeypots"
CONFIG = f"""
[web.taxii]
network_name = "{NETWORK}"
tlp = "green"
cache_seconds = 300
"""


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory filled by ``honeyscope simulate`` (two days of noise, scanners and campaigns)."""
    data = tmp_path_factory.mktemp("taxii-sim") / "data"
    result = subprocess.run([sys.executable, "-m", "honeyscope", "simulate", "--data", str(data), "--days", "2",
                             "--start", "2021-03-03", "--seed", "3"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return data


@pytest.fixture(scope="module")
def exported(simulated: Path) -> dict[str, Any]:
    """``honeyscope export stix`` of the whole simulated store (run before the dashboard locks it), and a
    copy of the store for a second app."""
    output = simulated.parent / "export.stix.json"
    result = subprocess.run([sys.executable, "-m", "honeyscope", "export", "stix", "--data", str(simulated), "--name",
                             NETWORK, "--tlp", "green", "--quiet", "--output", str(output)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    copy = simulated.parent / "copy"
    copy.mkdir()
    shutil.copy(simulated / "honeyscope.duckdb", copy / "honeyscope.duckdb")
    bundle: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    return bundle


@pytest.fixture(scope="module")
def dashboard(simulated: Path, exported: dict[str, Any]) -> Iterator[str]:
    """``honeyscope web`` on 127.0.0.1 with an access token configured; yields its base URL."""
    config = simulated.parent / "honeyscope.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {**os.environ, TOKEN_ENV: TOKEN}
    arguments = ["--data", str(simulated), "--config", str(config), "--bind", "127.0.0.1:0"]
    with web_process(arguments, env) as (process, line):
        match = re.search(r"dashboard on (http://127\.0\.0\.1:\d+/) \(access token required\); "
                          r"TAXII 2\.1 at (\S+/)\. ", line)
        assert match, line + (process.stderr.read() if process.poll() is not None and process.stderr else "")
        base = match.group(1)
        assert match.group(2) == base + "taxii2/"
        wait_until_answering(base + "login")
        yield base


def test_taxii2_client_reads_the_running_dashboard_with_the_token_as_basic_password(dashboard: str,
                                                                                   exported: dict[str, Any]):
    with pytest.raises(requests.HTTPError) as refused:
        Server(dashboard + "taxii2/").refresh()
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["content-type"] == MEDIA_TYPE

    server = Server(dashboard + "taxii2/", user="partner", password=TOKEN)
    assert server.title == NETWORK and server.default.url == dashboard + "taxii2/api/"
    [root] = server.api_roots
    assert root.url == dashboard + "taxii2/api/" and root.versions == [MEDIA_TYPE]
    [collection] = root.collections
    assert (collection.can_read, collection.can_write) == (True, False)
    assert collection.title == f"{NETWORK}: observations (TLP:GREEN)"

    pages = list(as_pages(collection.get_objects, per_request=1000))
    objects = [obj for page in pages for obj in page["objects"]]
    assert len(pages) >= 3 and all(page["more"] for page in pages[:-1]) and not pages[-1]["more"]
    ids = [obj["id"] for obj in objects]
    assert len(ids) == len(set(ids)) >= 2000
    kinds = {obj["type"] for obj in objects}
    assert {"identity", "sighting", "indicator", "observed-data", "vulnerability", "marking-definition"} <= kinds
    [identity] = [obj for obj in objects if obj["type"] == "identity"]
    assert identity["name"] == NETWORK
    marked = [obj for obj in objects if obj["type"] not in ("marking-definition", "extension-definition")]
    assert all(TLP_MARKING_IDS["green"] in obj.get("object_marking_refs", []) for obj in marked)

    manifest = [entry for page in as_pages(collection.get_manifest, per_request=1000) for entry in page["objects"]]
    assert [entry["id"] for entry in manifest] == ids  # same order: (date_added, id)
    middle = manifest[len(manifest) // 2]["date_added"]
    later = [obj["id"] for page in as_pages(collection.get_objects, per_request=500, added_after=middle)
             for obj in page["objects"]]
    assert later == [entry["id"] for entry in manifest if entry["date_added"] > middle]
    assert 0 < len(later) < len(ids)

    # the judgement of ``honeyscope export stix`` on the same store: same actors, same ids, same confidences
    attributed = [obj for obj in objects if obj.get("relationship_type") == "attributed-to"]
    actors = {obj["id"]: obj["name"] for obj in objects if obj["type"] == "intrusion-set"}
    assert {"Tick", "Winnti Group", "LuckyMouse", "Mikroceen"} <= set(actors.values())
    assert attributed and all(isinstance(obj["confidence"], int) and 0 < obj["confidence"] <= 100
                              and obj["target_ref"] in actors for obj in attributed)
    campaigns = {obj["id"] for obj in objects if obj["type"] == "campaign"}
    assert {obj["source_ref"] for obj in attributed} == campaigns
    by_export = [obj for obj in exported["objects"] if obj.get("relationship_type") == "attributed-to"]
    assert sorted((o["id"], o["target_ref"], o["confidence"]) for o in attributed) == sorted(
        (o["id"], o["target_ref"], o["confidence"]) for o in by_export)


def test_attribution_minutes_zero_leaves_attribution_out(simulated: Path, exported: dict[str, Any]):
    settings = WebSettings(taxii=TaxiiSettings(attribution_minutes=0))
    store = DuckDBStore(simulated.parent / "copy" / "honeyscope.duckdb")
    try:
        client = TestClient(create_app(store, settings, policy=access_policy(settings, environ={})),
                            base_url="http://127.0.0.1")
        [collection] = client.get("/taxii2/api/collections/").json()["collections"]
        assert "attribution" not in collection["description"]
        objects: list[dict[str, Any]] = []
        params: dict[str, str] = {"limit": "1000"}
        for _ in range(50):  # every page (the server caps a page's size)
            page = client.get(f"/taxii2/api/collections/{collection['id']}/objects/", params=params,
                              headers={"Accept": MEDIA_TYPE}).json()
            objects += page["objects"]
            if not page["more"]:
                break
            params = {"limit": "1000", "next": page["next"]}
    finally:
        store.close()
    kinds = {obj["type"] for obj in objects}
    assert {"identity", "sighting", "indicator"} <= kinds and not page["more"]
    assert not kinds & {"campaign", "intrusion-set", "threat-actor"}
    assert not [obj for obj in objects if obj.get("relationship_type") == "attributed-to"]
    assert any(obj.get("relationship_type") == "attributed-to" for obj in exported["objects"])


def test_taxii_answers_are_taxii_media_and_writes_are_refused(dashboard: str):
    auth = ("partner", TOKEN)
    with requests.Session() as http:
        http.auth = auth
        http.headers["Accept"] = MEDIA_TYPE
        [collection] = http.get(dashboard + "taxii2/api/collections/", timeout=30).json()["collections"]
        objects = dashboard + f"taxii2/api/collections/{collection['id']}/objects/"
        page = http.get(objects, params={"limit": 5}, timeout=60)
        assert page.status_code == 200 and page.headers["content-type"] == MEDIA_TYPE
        assert len(page.json()["objects"]) == 5 and page.json()["more"] is True
        bearer = requests.get(objects, params={"limit": 1}, timeout=60,
                              headers={"Accept": MEDIA_TYPE, "Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 200 and bearer.headers["content-type"] == MEDIA_TYPE
        posted = http.post(objects, json={"objects": []}, timeout=30, headers={"Content-Type": MEDIA_TYPE})
        one = page.json()["objects"][0]["id"]
        deleted = http.delete(f"{objects}{one}/", timeout=30)
    for refused in (posted, deleted):
        assert refused.status_code == 403 and refused.headers["content-type"] == MEDIA_TYPE
        assert refused.json()["title"] == "Collection is read-only"


@pytest.fixture
def exposed(campaign) -> TestClient:
    """The dashboard as bound to every address, with a token (no test listens outside loopback)."""
    settings = WebSettings(bind="0.0.0.0:8443", token_hash=hash_token(TOKEN))
    app = create_app(campaign.store, settings, policy=access_policy(settings, environ={}))
    return TestClient(app, base_url="https://dashboard.example")


def test_a_non_loopback_bind_refuses_taxii_requests_without_credentials(exposed: TestClient):
    for path in ("/taxii2/", "/taxii2/api/", "/taxii2/api/collections/"):
        refused = exposed.get(path, headers={"Accept": MEDIA_TYPE})
        assert refused.status_code == 401 and refused.headers["content-type"] == MEDIA_TYPE, path
        assert refused.json()["http_status"] == "401"
        assert refused.headers.get_list("www-authenticate") == [
            'Bearer realm="honeyscope"', 'Basic realm="honeyscope", charset="UTF-8"']
    wrong = base64.b64encode(f"partner:{TOKEN}x".encode()).decode()
    assert exposed.get("/taxii2/", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    basic = base64.b64encode(f"partner:{TOKEN}".encode()).decode()
    discovery = exposed.get("/taxii2/", headers={"Authorization": f"Basic {basic}", "Accept": MEDIA_TYPE})
    assert discovery.status_code == 200 and discovery.headers["content-type"] == MEDIA_TYPE
    assert discovery.json()["api_roots"] == ["https://dashboard.example/taxii2/api/"]
    [collection] = exposed.get("/taxii2/api/collections/",
                               headers={"Authorization": f"Bearer {TOKEN}"}).json()["collections"]
    assert collection["can_write"] is False


def test_taxii_can_be_switched_off_and_a_wrong_tlp_is_one_config_error(campaign, open_app):
    assert TestClient(open_app, base_url="http://127.0.0.1").get("/taxii2/").status_code == 200
    off = WebSettings(taxii=TaxiiSettings(enabled=False))
    app = create_app(campaign.store, off, policy=access_policy(off, environ={}))
    answer = TestClient(app, base_url="http://127.0.0.1").get("/taxii2/")
    assert answer.status_code == 404 and answer.json()["error"] == "not_available"
    with pytest.raises(ConfigError, match=r"TLP level 'orange' is not TLP 2\.0"):
        create_app(campaign.store, WebSettings(taxii=TaxiiSettings(tlp="orange")), policy=access_policy(
            WebSettings(), environ={}))
