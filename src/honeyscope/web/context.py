"""What every handler needs, kept on ``app.state`` (no module globals: one process may run two apps)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from honeyscope.web.auth import Authenticator
from honeyscope.web.gateway import StampedCache, StoreGateway
from honeyscope.web.insight import Insight
from honeyscope.web.settings import WebSettings


@dataclass(frozen=True, slots=True)
class WebContext:
    settings: WebSettings
    gateway: StoreGateway
    insight: Insight
    auth: Authenticator
    templates: Jinja2Templates
    #: Overviews by period, valid while the period's roll-up counts are unchanged.
    overviews: StampedCache


def context(request: Request) -> WebContext:
    """The app's context (set by ``create_app``)."""
    found: WebContext = request.app.state.honeyscope
    return found
