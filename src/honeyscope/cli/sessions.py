"""``honeyscope sessions``: each attacker's requests grouped into sessions, read from the store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.analysis.sessions import DEFAULT_GAP, SessionBuilder, SessionSummary
from honeyscope.cli.up import DEFAULT_DATA
from honeyscope.config import ConfigError, StoreSettings, load_settings
from honeyscope.events import Event
from honeyscope.store.base import EventQuery, EventStore, StoreUnavailableError

#: Events fetched from the store per query.
PAGE_EVENTS = 10_000


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sessions", help="list attacker sessions: each source's requests grouped by inactivity gaps",
        description="Read http.request and tls.handshake events from the store and group each source address's "
                    "events into sessions (a new session starts after GAP minutes without events). Each "
                    "session lists its stages, CVEs, tools, fingerprints, web shells and credentials tried "
                    "(user names and how many passwords; never the passwords).",
        epilog="Example: honeyscope sessions --data ./honeyscope-data --source 203.0.113.7 --json")
    add_store_arguments(parser)
    parser.add_argument("--source", metavar="IP", help="only this source address")
    parser.add_argument("--limit", type=int, default=50, metavar="N",
                        help="sessions shown in the table, most recent last (default 50; JSON has all)")
    parser.add_argument("--json", action="store_true", help="print every session as JSON (for scripts)")
    parser.set_defaults(run=run)


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data``, ``--config`` and ``--gap``, shared with ``honeyscope attribute``."""
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"data directory of 'honeyscope up' (default {DEFAULT_DATA}); its store is "
                             "DATA/honeyscope.duckdb unless --config names another")
    parser.add_argument("--config", type=Path, help="TOML settings file ([store] picks DuckDB or PostgreSQL)")
    parser.add_argument("--gap", type=float, default=DEFAULT_GAP.total_seconds() / 60, metavar="MINUTES",
                        help=f"inactivity that ends a session (default {DEFAULT_GAP.total_seconds() / 60:g})")


def run(args: argparse.Namespace) -> int:
    sessions = load_sessions(args, source_ip=args.source)
    if args.json:
        sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(sessions), indent=2) + b"\n")
    else:
        print(render_sessions(sessions, args.limit))
    return 0


def load_sessions(args: argparse.Namespace, *, source_ip: str | None = None) -> list[SessionSummary]:
    """Sessions of every event in the store the arguments name (none when the store is empty)."""
    gap = _gap(args.gap)
    settings = store_settings(args.data, args.config)
    if settings.kind == "duckdb" and not Path(settings.path).is_file():
        raise ConfigError(f"no store at {settings.path} — run 'honeyscope up --data DIR' first, or pass the "
                          "--data directory (or --config) of an existing one")
    from honeyscope.store import open_store

    try:
        store = open_store(settings)
    except StoreUnavailableError as error:
        raise ConfigError(str(error)) from None
    except Exception as error:  # DuckDB refuses a file another process writes
        raise ConfigError(f"cannot open the store at {settings.path}: {error} — is 'honeyscope up' using it? "
                          "stop it, or read a copy") from None
    try:
        if store.schema_version() == 0:
            return []
        builder = SessionBuilder(gap)
        found: list[SessionSummary] = []
        for event in stored_events(store, source_ip=source_ip):
            found += builder.add(event)
        found += builder.finish()
    except StoreUnavailableError as error:
        raise ConfigError(str(error)) from None
    finally:
        store.close()
    return sorted(found, key=lambda s: (s.first_seen, s.id))


def store_settings(data: Path, config: Path | None) -> StoreSettings:
    """The configured store; DuckDB at DATA/honeyscope.duckdb unless the config names another path."""
    return load_settings(config).store.in_data_dir(data)


def stored_events(store: EventStore, *, source_ip: str | None = None,
                  page_events: int = PAGE_EVENTS) -> Iterator[Event]:
    """Every stored event (of any type; sessions use requests and TLS handshakes) in time order, a page at a
    time so memory stays bounded.

    Each page starts at the last timestamp seen; events of that timestamp already returned are skipped by id,
    and when a whole page shares one timestamp the page is fetched again, twice as large."""
    last: datetime | None = None
    seen_at_last: set[str] = set()
    limit = page_events
    while True:
        page = store.events(EventQuery(start=last, source_ip=source_ip, limit=limit))
        fresh = [e for e in page if e.timestamp != last or e.event.id not in seen_at_last]
        yield from fresh
        if len(page) < limit:
            return
        top = page[-1].timestamp
        if top == last:
            seen_at_last |= {e.event.id for e in fresh}
            limit *= 2
            continue
        last, limit = top, page_events
        seen_at_last = {e.event.id for e in page if e.timestamp == top}


def _gap(minutes: float) -> timedelta:
    if not minutes > 0:
        raise ConfigError(f"--gap {minutes:g}: the session gap must be a positive number of minutes (e.g. 30)")
    return timedelta(minutes=minutes)


def render_sessions(sessions: list[SessionSummary], limit: int) -> str:
    """A table, most recent sessions last, with hostile strings escaped and cut."""
    if not sessions:
        return "no sessions: the store holds no http.request or tls.handshake events (for this source)"
    shown = sessions[-limit:] if limit > 0 else sessions
    rows = [("SESSION", "SOURCE", "CC/AS", "FIRST SEEN (UTC)", "DURATION", "EVENTS", "LAST STAGE", "CVES", "TOOLS",
             "WEB SHELLS")]
    for s in shown:
        where = "/".join(filter(None, [s.country, f"AS{s.asn}" if s.asn is not None else s.as_org]))
        rows.append((s.id, s.source_ip, where or "-", s.first_seen.strftime("%Y-%m-%d %H:%M:%S"),
                     _duration(s.duration), str(s.events), s.stages[-1] if s.stages else "-",
                     ",".join(s.cves) or "-", ",".join(s.tools) or "-", ",".join(s.webshells) or "-"))
    lines = format_table(rows)
    if len(shown) < len(sessions):
        lines.append(f"({len(sessions) - len(shown)} earlier sessions not shown; --limit 0 shows all, --json too)")
    return "\n".join(lines)


def format_table(rows: Sequence[Sequence[str]], width: int = 48) -> list[str]:
    """Columns padded to their widest cell (each cell made printable and cut to ``width``)."""
    cells = [[printable(cell, width) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]


def printable(text: str, width: int = 48) -> str:
    """Attacker-controlled text made safe for a terminal: control and odd characters escaped, cut to width."""
    escaped = "".join(ch if (ch.isprintable() and not ch.isspace()) or ch == " " else
                      ch.encode("unicode_escape").decode("ascii") for ch in text)
    return escaped if len(escaped) <= width else escaped[:width - 1] + "…"


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
