"""A read-only TAXII 2.1 server as a Starlette application, to mount at ``/taxii2`` (the web app does).

    app.mount("/taxii2", taxii_app(StoreSource.from_store(store), title="Example CERT honeypots"))

Routes are relative to the mount point: discovery is the mount itself (``/taxii2/``, the path OASIS TAXII 2.1
gives server discovery) and the API root sits beside it (``/taxii2/<api_root>/``), so the app works wherever it is
mounted. Endpoints (OASIS TAXII 2.1, §4–5): discovery; API root; collections; a collection; its objects
(``added_after``, ``limit``/``next``, ``match[id|type|version|spec_version]``) and manifest; one object and its
versions. Every answer is ``application/taxii+json;version=2.1``; errors are TAXII error messages. Writing is
refused: POST and DELETE answer 403 (collections say ``can_write: false``).

``auth_check(request)`` (sync or async) decides whether a request may read; when it returns false the answer
is 401. The web app authenticates in its own middleware instead; without either the server is open.
Source methods run in Starlette's worker threads.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from honeyscope.share.taxii.query import BadQueryError, Page, parse_query, select, taxii_time, version_of
from honeyscope.share.taxii.source import CollectionInfo, ObjectSource, StoredObject
from honeyscope.store.base import StoreUnavailableError

__all__ = ["MEDIA_TYPE", "STIX_MEDIA_TYPE", "taxii_app"]

MEDIA_TYPE: Final = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE: Final = "application/stix+json;version=2.1"
_ACCEPTED: Final = ("application/taxii+json", "application/*", "*/*")
_ENCODER: Final = msgspec.json.Encoder()

AuthCheck = Callable[[Request], bool | Awaitable[bool]]


class _TaxiiError(Exception):
    def __init__(self, status: int, title: str, description: str = "") -> None:
        super().__init__(title)
        self.status, self.title, self.description = status, title, description


def taxii_app(source: ObjectSource, *, title: str, description: str = "", auth_check: AuthCheck | None = None,
              api_root: str = "api", max_page: int = 1000, default_page: int = 100,
              contact: str | None = None) -> Starlette:
    """The TAXII 2.1 server for ``source`` (one API root, named ``api_root``, holding its collections):
    discovery at the mount point, the API root at ``<mount>/<api_root>/``."""
    root = f"/{api_root.strip('/')}"
    server = _Server(source, title=title, description=description, auth_check=auth_check, root=root,
                     max_page=max_page, default_page=default_page, contact=contact)
    collection = root + "/collections/{collection_id}"
    routes = [
        Route("/", server.discovery, methods=["GET"]),
        Route(root + "/", server.api_root, methods=["GET"]),
        Route(root + "/collections/", server.collections, methods=["GET"]),
        Route(collection + "/", server.collection, methods=["GET"]),
        Route(collection + "/objects/", server.objects, methods=["GET", "POST"]),
        Route(collection + "/manifest/", server.manifest, methods=["GET"]),
        Route(collection + "/objects/{object_id}/", server.one_object, methods=["GET", "DELETE"]),
        Route(collection + "/objects/{object_id}/versions/", server.versions, methods=["GET"]),
        Route(root + "/status/{status_id}/", server.status, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error, _TaxiiError: _taxii_error,
                                                        StoreUnavailableError: _unavailable})


def _respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_ENCODER.encode(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    titles = {404: "Not found", 405: "Method not allowed"}
    return _respond({"title": titles.get(error.status_code, error.detail), "http_status": str(error.status_code)},
                    error.status_code)


async def _taxii_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, _TaxiiError)
    body = {"title": error.title, "http_status": str(error.status)}
    if error.description:
        body["description"] = error.description
    return _respond(body, error.status)


class _Server:
    def __init__(self, source: ObjectSource, *, title: str, description: str, auth_check: AuthCheck | None,
                 root: str, max_page: int, default_page: int, contact: str | None) -> None:
        self.source = source
        self.root = root
        self.title, self.description, self.contact = title, description, contact
        self.auth_check = auth_check
        self.max_page, self.default_page = max_page, min(default_page, max_page)

    async def _admit(self, request: Request) -> None:
        accept = request.headers.get("accept", "")
        if accept and not any(kind in accept.replace(" ", "") for kind in _ACCEPTED):
            raise _TaxiiError(406, "Not acceptable", f"this server answers {MEDIA_TYPE}")
        if self.auth_check is not None:
            verdict = self.auth_check(request)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if not verdict:
                raise _TaxiiError(401, "Authentication required", "log in or send the access token")

    async def discovery(self, request: Request) -> Response:
        await self._admit(request)
        # Absolute, beside the discovery URL the client used (scheme, host and mount point included).
        here = str(request.url.replace(query="", fragment=""))
        root = here.removesuffix("/") + self.root + "/"
        body = {"title": self.title, "default": root, "api_roots": [root]}
        if self.description:
            body["description"] = self.description
        if self.contact:
            body["contact"] = self.contact
        return _respond(body)

    async def api_root(self, request: Request) -> Response:
        await self._admit(request)
        body: dict[str, Any] = {"title": self.title, "versions": [MEDIA_TYPE], "max_content_length": 0}
        if self.description:
            body["description"] = self.description
        return _respond(body)

    async def collections(self, request: Request) -> Response:
        await self._admit(request)
        found: Sequence[CollectionInfo] = await run_in_threadpool(self.source.collections)
        return _respond({"collections": [_collection(info) for info in found]} if found else {})

    async def collection(self, request: Request) -> Response:
        await self._admit(request)
        return _respond(_collection(await self._collection(request)))

    async def objects(self, request: Request) -> Response:
        await self._admit(request)
        info = await self._collection(request)
        if request.method == "POST":
            raise _TaxiiError(403, "Collection is read-only",
                              f"collection {info.id} does not accept objects (can_write is false)")
        page = await self._page(request, info)
        body: dict[str, Any] = {"more": page.more}
        if page.next:
            body["next"] = page.next
        if page.items:
            body["objects"] = [item.obj for item in page.items]
        return _respond(body, headers=_added_headers(page.items))

    async def manifest(self, request: Request) -> Response:
        await self._admit(request)
        page = await self._page(request, await self._collection(request))
        body: dict[str, Any] = {"more": page.more}
        if page.next:
            body["next"] = page.next
        if page.items:
            body["objects"] = [{"id": item.obj["id"], "date_added": taxii_time(item.added),
                                "version": version_of(item), "media_type": STIX_MEDIA_TYPE} for item in page.items]
        return _respond(body, headers=_added_headers(page.items))

    async def one_object(self, request: Request) -> Response:
        await self._admit(request)
        info = await self._collection(request)
        if request.method == "DELETE":
            raise _TaxiiError(403, "Collection is read-only", f"objects of collection {info.id} cannot be deleted")
        page = await self._page(request, info, object_id=request.path_params["object_id"])
        if not page.items:
            raise _TaxiiError(404, "Object not found", "no such object in this collection (or no matching version)")
        return _respond({"more": False, "objects": [item.obj for item in page.items]},
                        headers=_added_headers(page.items))

    async def versions(self, request: Request) -> Response:
        await self._admit(request)
        page = await self._page(request, await self._collection(request), object_id=request.path_params["object_id"])
        if not page.items:
            raise _TaxiiError(404, "Object not found", "no such object in this collection")
        return _respond({"more": False, "versions": [version_of(item) for item in page.items]},
                        headers=_added_headers(page.items))

    async def status(self, request: Request) -> Response:
        await self._admit(request)
        raise _TaxiiError(404, "Status not found", "this server is read-only: it has no status resources")

    async def _collection(self, request: Request) -> CollectionInfo:
        wanted = request.path_params["collection_id"]
        found: Sequence[CollectionInfo] = await run_in_threadpool(self.source.collections)
        for info in found:
            if info.id == wanted:
                return info
        raise _TaxiiError(404, "Collection not found", "no collection with this id on this API root")

    async def _page(self, request: Request, info: CollectionInfo, *, object_id: str | None = None) -> Page:
        params = dict(request.query_params)
        if object_id is not None:
            params["match[id]"] = object_id
            params.pop("match[type]", None)
        try:
            query = parse_query(params, max_page=self.max_page, default_page=self.default_page)
        except BadQueryError as error:
            raise _TaxiiError(400, "Bad request", str(error)) from None
        objects: Sequence[StoredObject] | None = await run_in_threadpool(self.source.objects, info.id)
        if objects is None:
            raise _TaxiiError(404, "Collection not found", "no collection with this id on this API root")
        return await run_in_threadpool(select, objects, query)


async def _unavailable(request: Request, error: Exception) -> Response:
    return _respond({"title": "Store unavailable", "description": str(error), "http_status": "503"}, 503)


def _collection(info: CollectionInfo) -> dict[str, Any]:
    body: dict[str, Any] = {"id": info.id, "title": info.title, "can_read": True, "can_write": False,
                            "media_types": [STIX_MEDIA_TYPE]}
    if info.description:
        body["description"] = info.description
    if info.alias:
        body["alias"] = info.alias
    return body


def _added_headers(items: Sequence[StoredObject]) -> dict[str, str]:
    if not items:
        return {}
    return {"X-TAXII-Date-Added-First": taxii_time(items[0].added),
            "X-TAXII-Date-Added-Last": taxii_time(items[-1].added)}
