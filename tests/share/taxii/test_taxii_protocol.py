"""TAXII 2.1 details a client relies on: media types, errors as TAXII messages, filters, paging cursors,
read-only answers; and the store-backed source (export cached for a few seconds, a window of days)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from honeyscope.config import StoreSettings
from honeyscope.share.stix import StixOptions
from honeyscope.share.stix.synthetic import campaign_events, request
from honeyscope.share.taxii import MEDIA_TYPE, StoreSource, taxii_app
from honeyscope.store import open_store

ACCEPT = {"Accept": MEDIA_TYPE}


def mounted(app: Any, at: str = "/taxii2") -> TestClient:
    return TestClient(Starlette(routes=[Mount(at, app=app)]))


@pytest.fixture
def client(memory_source) -> TestClient:
    return mounted(taxii_app(memory_source, title="honeyscope test", max_page=50, default_page=10))


def objects_url(collection_info: Any) -> str:
    return f"/taxii2/api/collections/{collection_info.id}/objects/"


def test_every_answer_has_the_taxii_media_type(client, collection_info):
    api = "/taxii2/api"
    paths = ["/taxii2/", f"{api}/", f"{api}/collections/", f"{api}/collections/{collection_info.id}/",
             objects_url(collection_info), f"{api}/collections/{collection_info.id}/manifest/", f"{api}/nothing/"]
    for path in paths:
        assert client.get(path, headers=ACCEPT).headers["content-type"] == MEDIA_TYPE, path


def test_discovery_names_the_api_root_beside_it_wherever_the_app_is_mounted(memory_source):
    for mount, url in (("/taxii2", "http://testserver/taxii2/api/"), ("/feeds/cert", "http://testserver/feeds/cert/api/")):
        client = mounted(taxii_app(memory_source, title="honeyscope test", api_root="api"), mount)
        discovery = client.get(mount + "/", headers=ACCEPT).json()
        assert discovery["api_roots"] == [url] and discovery["default"] == url
        assert client.get(url, headers=ACCEPT).json()["versions"] == [MEDIA_TYPE]
    on_tls = TestClient(Starlette(routes=[Mount("/taxii2", app=taxii_app(memory_source, title="t"))]),
                        base_url="https://cert.example:8443")
    assert on_tls.get("/taxii2/", headers=ACCEPT).json()["default"] == "https://cert.example:8443/taxii2/api/"


@pytest.mark.parametrize(("method", "path", "status", "title"), [
    ("GET", "/taxii2/api/collections/00000000-0000-4000-8000-000000000000/objects/", 404, "Collection not found"),
    ("GET", "/taxii2/api/nowhere/", 404, "Not found"),
    ("PUT", "/taxii2/api/collections/", 405, "Method not allowed"),
    ("GET", "/taxii2/api/status/1234/", 404, "Status not found"),
])
def test_errors_are_taxii_error_messages(client, method, path, status, title):
    answer = client.request(method, path, headers=ACCEPT)
    assert answer.status_code == status and answer.headers["content-type"] == MEDIA_TYPE
    assert answer.json()["title"] == title and answer.json()["http_status"] == str(status)


@pytest.mark.parametrize(("query", "message"), [
    ("limit=ten", "limit: 'ten' is not a number"), ("limit=0", "limit: must be at least 1"),
    ("added_after=yesterday", "added_after: 'yesterday' is not a timestamp"),
    ("next=garbage!", "next: not a cursor this server issued"),
])
def test_unreadable_filters_are_400(client, collection_info, query, message):
    answer = client.get(f"{objects_url(collection_info)}?{query}", headers=ACCEPT)
    assert answer.status_code == 400 and answer.json()["description"].startswith(message)


def test_a_client_that_accepts_only_html_gets_406(client, collection_info):
    assert client.get(objects_url(collection_info), headers={"Accept": "text/html"}).status_code == 406
    assert client.get(objects_url(collection_info), headers={"Accept": "*/*"}).status_code == 200


def test_writing_and_deleting_are_refused(client, collection_info, records):
    one = records[-1].obj["id"]
    posted = client.post(objects_url(collection_info), headers={**ACCEPT, "Content-Type": MEDIA_TYPE},
                         json={"objects": [records[0].obj]})
    deleted = client.delete(f"{objects_url(collection_info)}{one}/", headers=ACCEPT)
    assert posted.status_code == deleted.status_code == 403
    assert client.get(f"{objects_url(collection_info)}{one}/", headers=ACCEPT).status_code == 200


def test_pages_have_added_headers_a_default_size_and_a_cap(client, collection_info):
    first = client.get(objects_url(collection_info), headers=ACCEPT)
    body = first.json()
    assert len(body["objects"]) == 10 and body["more"] is True and body["next"]
    assert first.headers["X-TAXII-Date-Added-First"] <= first.headers["X-TAXII-Date-Added-Last"]
    big = client.get(f"{objects_url(collection_info)}?limit=100000", headers=ACCEPT).json()
    assert len(big["objects"]) == 50
    after = client.get(f"{objects_url(collection_info)}?next={body['next']}&limit=10", headers=ACCEPT).json()
    assert not {o["id"] for o in after["objects"]} & {o["id"] for o in body["objects"]}
    empty = client.get(f"{objects_url(collection_info)}?added_after=2099-01-01T00:00:00Z", headers=ACCEPT)
    assert empty.status_code == 200 and empty.json() == {"more": False}


def test_match_filters_combine(client, collection_info, records):
    sighting = next(r.obj for r in records if r.obj["type"] == "sighting")
    query = f"match[type]=sighting,indicator&match[id]={sighting['id']}&match[spec_version]=2.1"
    assert client.get(f"{objects_url(collection_info)}?{query}", headers=ACCEPT).json()["objects"] == [sighting]
    by_version = f"match[id]={sighting['id']}&match[version]={sighting['modified']}"
    assert client.get(f"{objects_url(collection_info)}?{by_version}", headers=ACCEPT).json()["objects"] == [sighting]
    older = f"match[id]={sighting['id']}&match[version]=2001-01-01T00:00:00.000Z"
    assert "objects" not in client.get(f"{objects_url(collection_info)}?{older}", headers=ACCEPT).json()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2021, 3, 10, 12, 0, tzinfo=UTC)
        self.seconds = 0.0


def test_store_source_serves_the_window_and_refreshes_after_its_ttl(tmp_path: Path):
    store = open_store(StoreSettings(kind="duckdb", path=str(tmp_path / "honeyscope.duckdb")))
    store.migrate()
    store.write(list(campaign_events(sources=3, days=2)))  # 2021-03-03 and -04
    clock = Clock()
    source = StoreSource.from_store(store, options=StixOptions(network_name="Example CERT"), window=timedelta(days=6),
                                    ttl=30, now=lambda: clock.now, monotonic=lambda: clock.seconds)
    client = mounted(taxii_app(source, title="Example CERT"))
    [info] = client.get("/taxii2/api/collections/", headers=ACCEPT).json()["collections"]
    assert info["title"] == "Example CERT: observations (TLP:AMBER)" and info["can_write"] is False
    url = f"/taxii2/api/collections/{info['id']}/objects/?match[type]=sighting&limit=1000"
    before = client.get(url, headers=ACCEPT).json()["objects"]
    assert {s["first_seen"][:10] for s in before} == {"2021-03-04"}  # 6 whole days before 2021-03-10 (today)
    store.write([request("198.18.9.9", datetime(2021, 3, 9, 8, 0, tzinfo=UTC), number=999)])
    assert client.get(url, headers=ACCEPT).json()["objects"] == before  # the export is cached for 30 s
    clock.seconds += 31
    sightings = client.get(url, headers=ACCEPT).json()["objects"]
    assert len(sightings) == len(before) + 1 and sightings[-1]["first_seen"].startswith("2021-03-09")
    store.close()
