"""``honeyscope web``: the dashboard and JSON API over an existing store, on its own.

``honeyscope up`` can serve the same app in its own process (DuckDB lets one process hold the file); this
command is for a store no running ``up`` holds (a copy, a stopped node, PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import signal
import sys
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.cli.up import DEFAULT_DATA
from honeyscope.config import ConfigError, StoreSettings, load_settings
from honeyscope.store.base import StoreUnavailableError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "web", help="serve the dashboard and JSON API over a store (overview, live feed, sessions, actors, trends)",
        description="Open the store of a data directory (or the [store] of --config) and serve the dashboard. "
                    "On a loopback address it may run without a token; on any other address it refuses to start "
                    "unless an access token is configured (HONEYSCOPE_WEB_TOKEN, or web.token_hash / "
                    "web.token_hash_file). See docs/web.md.",
        epilog="Examples: honeyscope web --data ./honeyscope-data\n"
               "          honeyscope web --new-token            (prints a token and the hash to configure)\n"
               "          HONEYSCOPE_WEB_TOKEN=... honeyscope web --bind 0.0.0.0:8443 --config honeyscope.toml")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"data directory of 'honeyscope up' (default {DEFAULT_DATA}); its store is "
                             "DATA/honeyscope.duckdb unless --config names another")
    parser.add_argument("--config", type=Path, help="TOML settings file ([store], [web])")
    parser.add_argument("--bind", metavar="HOST:PORT", help="listen address (default web.bind, 127.0.0.1:8000)")
    parser.add_argument("--hash-token", action="store_true",
                        help="read an access token from standard input and print its hash (for web.token_hash)")
    parser.add_argument("--new-token", action="store_true",
                        help="print a new random access token and, on the next line, its hash")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from honeyscope.web.settings import check_token_strength, hash_token, new_token

    if args.new_token:
        token = new_token()
        print(token)
        print(hash_token(token))
        return 0
    if args.hash_token:
        token = getpass.getpass("access token: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
        check_token_strength(token, "the token")
        print(hash_token(token))
        return 0
    return _serve(args)


def web_settings(args: argparse.Namespace) -> Any:
    """``[web]`` of the config (when the config knows it) with ``--bind`` applied."""
    from honeyscope.web.settings import WebSettings

    settings = load_settings(args.config)
    web = getattr(settings, "web", None)
    if not isinstance(web, WebSettings):
        web = WebSettings()
    return msgspec.structs.replace(web, bind=args.bind) if args.bind else web


def _store_settings(args: argparse.Namespace) -> StoreSettings:
    return load_settings(args.config).store.in_data_dir(args.data)


def _serve(args: argparse.Namespace) -> int:
    from honeyscope.store import open_store
    from honeyscope.web import WebServer, access_policy, create_app

    web = web_settings(args)
    policy = access_policy(web)  # refuse an exposed dashboard before touching the store
    settings = _store_settings(args)
    if settings.kind == "duckdb" and not Path(settings.path).is_file():
        raise ConfigError(f"no store at {settings.path} — run 'honeyscope up --data DIR' first, or pass the --data "
                          "directory (or --config) of an existing one")
    try:
        store = open_store(settings)
    except StoreUnavailableError as error:
        raise ConfigError(f"{error} (while 'honeyscope up' runs, its own dashboard serves this store)") from None
    try:
        if store.schema_version() == 0:
            raise ConfigError(f"the store at {settings.path if settings.kind == 'duckdb' else settings.dsn} holds no "
                              "events yet — let 'honeyscope up' record some first")
        app = create_app(store, web, policy=policy)
        server = WebServer(app, policy.host, policy.port, tls_certificate=web.tls_certificate, tls_key=web.tls_key)
        mode = "open on loopback (no token configured)" if policy.open else "access token required"
        taxii = f"; TAXII 2.1 at {server.url}taxii2/" if web.taxii.enabled else ""
        print(f"honeyscope dashboard on {server.url} ({mode}){taxii}. Ctrl-C stops it.", flush=True)
        asyncio.run(_until_signal(server))
    finally:
        store.close()
    return 0


async def _until_signal(server: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await server.serve(stop)
