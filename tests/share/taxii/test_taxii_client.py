"""taxii2-client against our server over real HTTP: discovery → API root → collections → objects, paged, with
added_after; manifest, one object, filters; authentication; read-only."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from taxii2client.exceptions import AccessError
from taxii2client.v21 import Server, as_pages

from honeyscope.share.taxii import MEDIA_TYPE


def _collection(discovery: str, **auth: Any) -> Any:
    server = Server(discovery, **auth)
    assert server.title == "honeyscope test"
    [root] = server.api_roots
    assert root.versions == [MEDIA_TYPE]
    [collection] = root.collections
    return collection


def test_client_discovers_the_collection_and_pages_through_every_object(live_taxii, memory_source, records,
                                                                        collection_info):
    with live_taxii(memory_source) as discovery:
        collection = _collection(discovery)
        assert (collection.id, collection.title, collection.can_read, collection.can_write) == (
            collection_info.id, collection_info.title, True, False)
        assert collection.media_types == ["application/stix+json;version=2.1"]
        pages = list(as_pages(collection.get_objects, per_request=20))
    assert len(pages) == -(-len(records) // 20) >= 5
    assert all(page["more"] for page in pages[:-1]) and not pages[-1]["more"] and "next" not in pages[-1]
    served = [obj["id"] for page in pages for obj in page["objects"]]
    assert served == [item.obj["id"] for item in sorted(records, key=lambda r: (r.added, r.obj["id"]))]


def test_added_after_returns_only_what_was_added_later(live_taxii, memory_source, records):
    ordered = sorted(records, key=lambda r: (r.added, r.obj["id"]))
    middle = ordered[len(ordered) // 2].added
    expected = [r.obj["id"] for r in ordered if r.added > middle]
    with live_taxii(memory_source) as discovery:
        collection = _collection(discovery)
        pages = list(as_pages(collection.get_objects, per_request=25, added_after=middle))
        last = collection.get_objects(limit=5, added_after=middle)
    assert [obj["id"] for page in pages for obj in page["objects"]] == expected
    assert len(pages) >= 2 and last["more"] is True and len(last["objects"]) == 5


def test_manifest_one_object_versions_and_filters(live_taxii, memory_source, records):
    indicator = next(r.obj for r in records if r.obj["type"] == "indicator")
    with live_taxii(memory_source) as discovery:
        collection = _collection(discovery)
        manifest = [entry for page in as_pages(collection.get_manifest, per_request=50) for entry in page["objects"]]
        one = collection.get_object(indicator["id"])
        versions = collection.object_versions(indicator["id"])
        indicators = [o for page in as_pages(collection.get_objects, per_request=100, type="indicator")
                      for o in page["objects"]]
    assert len(manifest) == len(records)
    entry = next(e for e in manifest if e["id"] == indicator["id"])
    assert entry["version"] == indicator["modified"] and entry["media_type"] == "application/stix+json;version=2.1"
    assert one["objects"] == [indicator] and versions["versions"] == [indicator["modified"]]
    assert {o["type"] for o in indicators} == {"indicator"}
    assert len(indicators) == sum(1 for r in records if r.obj["type"] == "indicator")


def test_without_credentials_the_server_answers_401(live_taxii, memory_source):
    def allowed(request: Any) -> bool:
        return request.headers.get("authorization") == "Basic YW5hbHlzdDpzM2NyZXQ="  # analyst:s3cret

    with live_taxii(memory_source, auth_check=allowed) as discovery:
        with pytest.raises(requests.HTTPError) as refused:
            _collection(discovery)
        assert refused.value.response.status_code == 401
        assert refused.value.response.headers["content-type"] == MEDIA_TYPE
        collection = _collection(discovery, user="analyst", password="s3cret")
        assert collection.get_objects(limit=1)["objects"]


def test_the_collection_is_read_only(live_taxii, memory_source):
    with live_taxii(memory_source) as discovery:
        collection = _collection(discovery)
        with pytest.raises(AccessError):
            collection.add_objects({"type": "bundle", "id": "bundle--5d2b1f4e-6a7c-4d5e-8f90-123456789abc",
                                    "objects": []})
        answer = requests.post(collection.objects_url, json={"objects": []}, timeout=10,
                               headers={"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE})
    assert answer.status_code == 403 and answer.headers["content-type"] == MEDIA_TYPE
    assert answer.json()["title"] == "Collection is read-only"
