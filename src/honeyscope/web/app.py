"""``create_app(store, settings)``: the dashboard, its JSON API and the TAXII 2.1 mount as one Starlette app.

Layers, outermost first: security headers → authentication/CSRF → routes. The app never opens the store
itself: ``honeyscope up`` passes the store it writes through, ``honeyscope web`` the one it opened.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp

from honeyscope.store.base import EventStore, StoreUnavailableError
from honeyscope.web import api, pages
from honeyscope.web.auth import Authenticator, AuthMiddleware
from honeyscope.web.charts import country_name
from honeyscope.web.context import WebContext
from honeyscope.web.gateway import StampedCache, StoreGateway
from honeyscope.web.headers import SecurityHeadersMiddleware
from honeyscope.web.insight import Insight
from honeyscope.web.openapi import openapi
from honeyscope.web.present import MAX_CELL, cell
from honeyscope.web.settings import AccessPolicy, WebSettings, access_policy

log = logging.getLogger("honeyscope.web")

#: Where the TAXII 2.1 server (``honeyscope.share.taxii.taxii_app``) is mounted.
TAXII_PREFIX = "/taxii2"


def create_app(store: EventStore, settings: WebSettings | None = None, *, policy: AccessPolicy | None = None,
               taxii: ASGIApp | None = None) -> Starlette:
    """The web app over ``store``. ``policy`` defaults to ``access_policy(settings)``, which raises
    ``ConfigError`` when the bind address needs a token and none is configured. TAXII 2.1 is mounted at
    ``/taxii2``, behind the same authentication: ``taxii`` when given (an app of
    ``honeyscope.share.taxii.taxii_app``), else the store's export as ``settings.taxii`` describes it
    (unless ``settings.taxii.enabled`` is false)."""
    settings = settings or WebSettings()
    policy = policy or access_policy(settings)
    gateway = StoreGateway(store)
    if taxii is None and settings.taxii.enabled:
        from honeyscope.web.taxii import build_taxii

        taxii = build_taxii(gateway, settings.taxii)
    auth = Authenticator(policy, session_seconds=settings.session_hours * 3600)
    ctx = WebContext(settings=settings, gateway=gateway, insight=Insight(gateway, settings), auth=auth,
                     templates=_templates(), overviews=StampedCache(settings.analysis_cache_seconds))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        gateway.close()

    routes: list[BaseRoute] = [
        *pages.ROUTES, *api.ROUTES,
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(_package_dir("static"))), name="static"),
        _taxii_mount(taxii),
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan,
        middleware=[Middleware(SecurityHeadersMiddleware, tls=policy.tls), Middleware(AuthMiddleware, auth=auth)],
        exception_handlers={HTTPException: _http_error, StoreUnavailableError: _store_error},
    )
    app.state.honeyscope = ctx
    return app


def _package_dir(name: str) -> Path:
    return Path(str(files("honeyscope.web").joinpath(name)))


def _templates() -> Jinja2Templates:
    # Autoescape on for every template whatever its name; undefined names fail loudly in tests.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_package_dir("templates"))), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda value: f"{value:,}" if isinstance(value, int) else value
    env.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M:%S") if value else "–"
    env.filters["country"] = lambda code: country_name(code) if code else "–"
    env.filters["cell"] = lambda value, limit=MAX_CELL: cell(str(value), limit) if value else ""
    return Jinja2Templates(env=env)


def _taxii_mount(taxii: ASGIApp | None) -> BaseRoute:
    """TAXII 2.1 at ``/taxii2`` when the caller built it; otherwise a route that says it is not here."""
    if taxii is None:
        return Route(TAXII_PREFIX + "/{rest:path}", _taxii_missing)
    return Mount(TAXII_PREFIX, app=taxii)


async def _taxii_missing(request: Request) -> Response:
    return api.api_error(404, "not_available", "TAXII 2.1 is not served here: [web.taxii] enabled is false")


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if _wants_json(request):
        return api.api_error(error.status_code, "bad_request" if error.status_code == 400 else "error",
                             str(error.detail))
    return pages.render(request, "error.html", error.status_code, message=str(error.detail))


async def _store_error(request: Request, error: Exception) -> Response:
    log.warning("web: store unavailable: %s", error)
    if _wants_json(request):
        return api.api_error(503, "store_unavailable", str(error))
    return pages.render(request, "error.html", 503, message=f"The store is unavailable: {error}")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", TAXII_PREFIX, "/export/"))
