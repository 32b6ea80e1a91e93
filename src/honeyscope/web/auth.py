"""Who may read the dashboard: bearer tokens, login sessions, CSRF checks, and the open-loopback rule.

- ``Authorization: Bearer <token>`` (scripts, the API) — or HTTP Basic with the token as password (TAXII
  clients). A token is checked against the scrypt hash once, then remembered by its keyed HMAC for a minute.
- The login form trades the token for a session cookie: a random id held server-side (so logout and
  restarts end it), ``HttpOnly``, ``SameSite=Strict``, ``Secure`` over TLS or on non-loopback binds.
- CSRF: every unsafe request not authenticated by a bearer token must carry the ``hs_csrf`` cookie's value
  in a form field or ``X-CSRF-Token`` header (double submit); with ``SameSite=Strict`` cookies on top.
- Open mode (loopback, no token): requests are served only to loopback ``Host`` names, so a page on another
  site cannot read the dashboard through DNS rebinding.
- Failed logins and bad tokens are counted per client address; after ``MAX_FAILURES`` in ``FAILURE_WINDOW``
  seconds the address gets 429 until the window passes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Final
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from honeyscope.web.settings import AccessPolicy, is_loopback, verify_token

log = logging.getLogger("honeyscope.web")

SESSION_COOKIE: Final = "hs_session"
CSRF_COOKIE: Final = "hs_csrf"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "x-csrf-token"
MAX_FAILURES: Final = 10
FAILURE_WINDOW: Final = 300.0
#: Sessions held at once (the oldest is dropped first).
MAX_SESSIONS: Final = 1000
#: Paths served without authentication: the login form and its assets.
PUBLIC_PREFIXES: Final = ("/login", "/static/")
#: Routes that read a form and check its CSRF field themselves.
FORM_PATHS: Final = ("/login", "/logout")
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_BEARER_MEMORY: Final = 60.0
#: The TAXII 2.1 server's mount point and media type (its refusals are TAXII error messages).
_TAXII_PREFIX: Final = "/taxii2"
_TAXII_MEDIA_TYPE: Final = "application/taxii+json;version=2.1"
_CHALLENGES: Final = ('Bearer realm="honeyscope"', 'Basic realm="honeyscope", charset="UTF-8"')


@dataclass(frozen=True, slots=True)
class Principal:
    """How a request was authenticated: ``open`` (loopback, no token), ``bearer`` or ``session``."""

    how: str
    session_id: str | None = None


class Authenticator:
    """Checks credentials for one app instance (its sessions and secrets live as long as it does)."""

    def __init__(self, policy: AccessPolicy, *, session_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.session_seconds = session_seconds
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._sessions: OrderedDict[str, float] = OrderedDict()
        self._tokens: dict[bytes, float] = {}
        self._failures: OrderedDict[str, list[float]] = OrderedDict()

    # -- tokens ---------------------------------------------------------------------------------------

    async def check_token(self, token: str) -> bool:
        """Whether ``token`` is the configured access token (scrypt off the event loop, then remembered)."""
        stored = self.policy.token_hash
        if stored is None or not token or len(token) > 1024:
            return False
        memo = hmac.new(self._key, token.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        now = self._clock()
        if self._tokens.get(memo, 0.0) > now:
            return True
        if not await run_in_threadpool(verify_token, token, stored):
            return False
        if len(self._tokens) > 64:
            self._tokens.clear()
        self._tokens[memo] = now + _BEARER_MEMORY
        return True

    # -- sessions -------------------------------------------------------------------------------------

    def new_session(self) -> str:
        session_id = secrets.token_urlsafe(32)
        self._sessions[session_id] = self._clock() + self.session_seconds
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session_id

    def session_valid(self, session_id: str | None) -> bool:
        if not session_id:
            return False
        expiry = self._sessions.get(session_id)
        if expiry is None:
            return False
        if expiry <= self._clock():
            self._sessions.pop(session_id, None)
            return False
        return True

    def end_session(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    # -- throttling -----------------------------------------------------------------------------------

    def throttled(self, client: str) -> bool:
        recent = self._recent(client)
        return len(recent) >= MAX_FAILURES

    def failed(self, client: str) -> None:
        recent = self._recent(client)
        recent.append(self._clock())
        self._failures[client] = recent
        self._failures.move_to_end(client)
        while len(self._failures) > 4096:
            self._failures.popitem(last=False)

    def _recent(self, client: str) -> list[float]:
        cutoff = self._clock() - FAILURE_WINDOW
        return [moment for moment in self._failures.get(client, []) if moment > cutoff]

    # -- cookies --------------------------------------------------------------------------------------

    def cookie(self, name: str, value: str, *, max_age: int | None = None) -> str:
        """A ``Set-Cookie`` value with the flags this deployment needs."""
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if self.policy.secure_cookies:
            parts.append("Secure")
        return "; ".join(parts)


def cookies_of(headers: Headers) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is an unauthenticated request, not an error
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def csrf_matches(expected: str | None, presented: str | None) -> bool:
    """Constant-time double-submit check; both must be present."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class AuthMiddleware:
    """Admits a request (setting ``scope["state"]["principal"]`` and the CSRF token) or answers it."""

    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        jar = cookies_of(headers)
        csrf = jar.get(CSRF_COOKIE) or ""
        fresh_csrf = not _well_formed(csrf)
        if fresh_csrf:
            csrf = secrets.token_urlsafe(24)
        state = scope.setdefault("state", {})
        state["csrf_token"] = csrf
        path: str = scope["path"]
        refusal = await self._admit(scope, headers, jar, path, state)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and fresh_csrf:
                message.setdefault("headers", []).append(
                    (b"set-cookie", self.auth.cookie(CSRF_COOKIE, csrf).encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _admit(self, scope: Scope, headers: Headers, jar: dict[str, str], path: str,
                     state: dict[str, object]) -> Response | None:
        principal: Principal | Response | None
        if self.auth.policy.open:
            if not is_loopback(_host_name(headers.get("host", ""))):
                return PlainTextResponse("This dashboard is served to loopback host names only (open mode).", 421)
            principal = Principal("open")
        else:
            principal = await self._principal(scope, headers, jar, path)
        if isinstance(principal, Response):
            return principal
        if principal is None and not path.startswith(PUBLIC_PREFIXES):
            return _challenge(path, scope.get("query_string", b""))
        unsafe = scope["method"] not in _SAFE_METHODS
        bearer = principal is not None and principal.how == "bearer"
        if unsafe and not bearer and path not in FORM_PATHS and \
                not csrf_matches(jar.get(CSRF_COOKIE), headers.get(CSRF_HEADER)):
            return refusal(path, 403, "csrf", "missing or wrong X-CSRF-Token header")
        if principal is not None:
            state["principal"] = principal
        return None

    async def _principal(self, scope: Scope, headers: Headers, jar: dict[str, str],
                         path: str) -> Principal | Response | None:
        token = _presented_token(headers.get("authorization", ""))
        if token is not None:
            client = client_address(scope)
            if self.auth.throttled(client):
                return refusal(path, 429, "throttled", "too many failed attempts")
            if await self.auth.check_token(token):
                return Principal("bearer")
            self.auth.failed(client)
            log.warning("web: rejected an access token from %s", client)
            return refusal(path, 401, "unauthorized", "invalid token")
        session_id = jar.get(SESSION_COOKIE)
        if self.auth.session_valid(session_id):
            return Principal("session", session_id)
        return None


def _presented_token(value: str) -> str | None:
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return None


def _well_formed(token: str) -> bool:
    return 16 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)


def _host_name(host: str) -> str:
    host = host.strip()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def refusal(path: str, status: int, error: str, detail: str) -> Response:
    """A refusal as the client at ``path`` reads one: a TAXII error message under ``/taxii2``, else
    ``{"error", "detail"}``; a 401 carries the authentication challenges."""
    if path == _TAXII_PREFIX or path.startswith(_TAXII_PREFIX + "/"):
        body = {"title": error.capitalize(), "description": detail, "http_status": str(status)}
        response: Response = Response(json.dumps(body), status, media_type=_TAXII_MEDIA_TYPE)
    else:
        response = JSONResponse({"error": error, "detail": detail}, status)
    if status == 401:
        for challenge in _CHALLENGES:
            response.headers.append("WWW-Authenticate", challenge)
    return response


def _challenge(path: str, query: bytes) -> Response:
    if path.startswith(("/api/", _TAXII_PREFIX, "/export/")):
        return refusal(path, 401, "unauthorized",
                       "send Authorization: Bearer <token> (or HTTP Basic with the token as password), or log in")
    target = path + ("?" + query.decode("latin-1") if query else "")
    return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)


def safe_next(target: str | None) -> str:
    """Where to go after login: only a path on this site (no ``//host``, no scheme), else the overview."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or any(
            ord(c) < 0x21 for c in target):
        return "/"
    return target
