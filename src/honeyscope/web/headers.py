"""Security headers on every response: a strict Content-Security-Policy and friends.

The policy allows only our own scripts, styles and images (plus ``data:`` images) and no inline script or
style at all, so even a value that escaped escaping could not run. Responses are not cached (they hold
attacker data and, behind a login, private data).
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY: Final = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

_HEADERS: Final = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)
_HSTS: Final = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeadersMiddleware:
    """Adds the headers above (HSTS too when served over TLS); static files may be cached, nothing else."""

    def __init__(self, app: ASGIApp, *, tls: bool = False) -> None:
        self.app = app
        self.extra = (*_HEADERS, _HSTS) if tls else _HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", [])
                           if name.lower() not in {h for h, _ in self.extra}]
                headers.extend(self.extra)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
