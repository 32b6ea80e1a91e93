"""The dashboard and its JSON API: overview, live feed, sessions, event detail, actors, trends.

    app = create_app(store, WebSettings(bind="127.0.0.1:8000"))   # Starlette app over an open store
    await serve_web(app, "127.0.0.1", 8000, stop_event)            # inside an existing event loop

Reads only through ``store`` and ``analysis``. Pages, API, authentication and security headers:
docs/web.md. Names are imported on first use, so ``honeyscope.config`` can import ``web.settings``
without loading Starlette.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from honeyscope.web.app import TAXII_PREFIX, create_app
    from honeyscope.web.server import WebServer, bind_socket, serve_web
    from honeyscope.web.settings import (
        TOKEN_ENV,
        AccessPolicy,
        TaxiiSettings,
        WebSettings,
        access_policy,
        hash_token,
        new_token,
    )

_WHERE = {
    "TAXII_PREFIX": "app", "create_app": "app",
    "WebServer": "server", "bind_socket": "server", "serve_web": "server",
    "TOKEN_ENV": "settings", "AccessPolicy": "settings", "TaxiiSettings": "settings", "WebSettings": "settings",
    "access_policy": "settings", "hash_token": "settings", "new_token": "settings",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"honeyscope.web.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "TAXII_PREFIX",
    "TOKEN_ENV",
    "AccessPolicy",
    "TaxiiSettings",
    "WebServer",
    "WebSettings",
    "access_policy",
    "bind_socket",
    "create_app",
    "hash_token",
    "new_token",
    "serve_web",
]
