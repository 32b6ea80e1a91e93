"""Serve the app with uvicorn inside an existing event loop (``honeyscope up``) or on its own (``honeyscope web``).

The socket is bound here, before uvicorn starts, so a busy port is one ``ConfigError`` line instead of
uvicorn's ``sys.exit``; uvicorn's own signal handling is switched off, the caller's ``stop_event`` ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

from honeyscope.config import ConfigError

log = logging.getLogger("honeyscope.web")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The process that embeds us owns SIGINT/SIGTERM (``honeyscope up`` stops everything in order).
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 picks a free one), or one clear ``ConfigError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise ConfigError(f"web.bind {host}:{port}: cannot listen ({error.strerror}) — choose a free port "
                          "(e.g. --bind 127.0.0.1:8001) or an address of this host") from None
    sock.setblocking(False)
    return sock


class WebServer:
    """The app on one bound socket; ``url`` is where it answers."""

    def __init__(self, app: ASGIApp, host: str, port: int, *, tls_certificate: str | None = None,
                 tls_key: str | None = None) -> None:
        self.socket = bind_socket(host, port)
        bound_host, bound_port = self.socket.getsockname()[:2]
        scheme = "https" if tls_certificate else "http"
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"{scheme}://{shown}:{bound_port}/"
        config = uvicorn.Config(app, lifespan="on", server_header=False, proxy_headers=False, access_log=False,
                                log_level="warning", ssl_certfile=tls_certificate, ssl_keyfile=tls_key,
                                timeout_graceful_shutdown=5)
        self._server = _Server(config)

    async def serve(self, stop_event: asyncio.Event) -> None:
        """Serve until ``stop_event`` is set, then finish open requests (at most 5 s) and return."""
        async def stopper() -> None:
            await stop_event.wait()
            self._server.should_exit = True

        watcher = asyncio.create_task(stopper())
        try:
            await self._server.serve(sockets=[self.socket])
        finally:
            watcher.cancel()
            self.socket.close()


async def serve_web(app: ASGIApp, host: str, port: int, stop_event: asyncio.Event, *,
                    tls_certificate: str | None = None, tls_key: str | None = None) -> None:
    """Serve ``app`` on ``host:port`` until ``stop_event`` is set (for ``honeyscope up``'s event loop)."""
    server = WebServer(app, host, port, tls_certificate=tls_certificate, tls_key=tls_key)
    log.info("dashboard on %s", server.url)
    await server.serve(stop_event)
