"""Export ``http.request`` events as IIS W3C logs: ``u_exYYMMDD.log``, one file per UTC day.

The point is that log content written for real IIS/Exchange servers (signature-base's log YARA rules,
SigmaHQ's webserver rules, Test-ProxyLogon-style hunts) runs on decoy data unchanged, so the lines
follow IIS's defaults (see ``fields``) and, for the Exchange persona, what Exchange adds: its HTTP proxy
appends ``&CorrelationID=<empty>;&cafeReqId=<uuid>;&encoding=;`` to ``cs-uri-query`` (seen in
in-the-wild logs, exchange-facts.md B.3; signature-base's HAFNIUM log rules need that length).

Not known from an event, hence constant: ``sc-substatus`` and ``sc-win32-status`` are ``0``.
``cs-username`` is the Basic/NTLM user the client presented (``DOMAIN\\user``), else ``-``.
Requests that got no response (the client went away mid-request) are not written: IIS logs a
request when its response is sent.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final

from honeyscope.events.schema import Event, HttpRequestEvent
from honeyscope.share.iis.fields import field_value, header_block

_EXCHANGE_SUFFIX: Final = "&CorrelationID=<empty>;&cafeReqId={id};&encoding=;"
#: Open log files kept at once while events of many days interleave.
_OPEN_FILES: Final = 16


@dataclass(frozen=True, slots=True)
class IisExportOptions:
    """How the W3C lines are written."""

    #: ``#Software`` version: 10.0 for Windows Server 2016/2019 (Exchange 2016/2019), 8.5 for Server
    #: 2012 R2 (Exchange 2013). A callable picks it per event.
    iis_version: str | Callable[[HttpRequestEvent], str] = "10.0"
    #: Append Exchange's cs-uri-query suffix to events of the ``exchange`` persona.
    exchange_suffix: bool = True
    #: Longest value written per field.
    max_field_chars: int = 16384


@dataclass
class IisExportStats:
    """What an export wrote."""

    files: list[Path] = field(default_factory=list)
    lines: int = 0
    #: Events that are not HTTP requests, or got no response.
    skipped: int = 0


def log_file_name(moment: datetime) -> str:
    """``u_exYYMMDD.log`` for the UTC day of ``moment`` (IIS's daily UTF-8 log name)."""
    return f"u_ex{_utc(moment):%y%m%d}.log"


def iis_line(event: HttpRequestEvent, options: IisExportOptions | None = None) -> str:
    """One W3C line (without line ending) in ``DEFAULT_FIELDS`` order."""
    options = options or IisExportOptions()
    limit = options.max_field_chars
    moment = _utc(event.timestamp)
    headers = _headers(event)
    values = (
        f"{moment:%Y-%m-%d}", f"{moment:%H:%M:%S}", field_value(event.destination.ip, limit),
        field_value(event.http.request.method, limit), field_value(event.url.path or "/", limit),
        field_value(_query(event, options), limit), str(event.destination.port),
        field_value(_username(event), limit), field_value(event.source.ip, limit),
        field_value(event.user_agent.original if event.user_agent else None, limit),
        field_value(headers.get("referer"), limit),
        str(event.http.response.status_code or 0), "0", "0", str(_milliseconds(event.event.duration)),
    )
    return " ".join(values)


def write_iis_logs(events: Iterable[Event], directory: Path,
                   options: IisExportOptions | None = None) -> IisExportStats:
    """Write the HTTP request events into ``directory`` (created if needed), one file per UTC day.
    Files this call creates are started afresh; events may come in any order."""
    options = options or IisExportOptions()
    directory.mkdir(parents=True, exist_ok=True)
    stats = IisExportStats()
    files = _DayFiles(directory, stats)
    try:
        for event in events:
            if not isinstance(event, HttpRequestEvent) or not event.http.response.status_code:
                stats.skipped += 1
                continue
            version = options.iis_version(event) if callable(options.iis_version) else options.iis_version
            files.handle(event.timestamp, version).write(iis_line(event, options) + "\r\n")
            stats.lines += 1
    finally:
        files.close()
    return stats


class _DayFiles:
    """Open files by day name, at most ``_OPEN_FILES`` at a time; a file is truncated the first time
    this export touches it and appended to afterwards."""

    def __init__(self, directory: Path, stats: IisExportStats) -> None:
        self.directory = directory
        self.stats = stats
        self._open: OrderedDict[str, IO[str]] = OrderedDict()

    def handle(self, moment: datetime, iis_version: str) -> IO[str]:
        name = log_file_name(moment)
        handle = self._open.get(name)
        if handle is not None:
            self._open.move_to_end(name)
            return handle
        path = self.directory / name
        fresh = path not in self.stats.files
        handle = path.open("w" if fresh else "a", encoding="utf-8", newline="")
        if fresh:
            self.stats.files.append(path)
            handle.write(header_block(iis_version, f"{_utc(moment):%Y-%m-%d %H:%M:%S}"))
        self._open[name] = handle
        if len(self._open) > _OPEN_FILES:
            self._open.popitem(last=False)[1].close()
        return handle

    def close(self) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _headers(event: HttpRequestEvent) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in event.honeyscope.request.headers:
        found.setdefault(name.lower(), value)
    return found


def _query(event: HttpRequestEvent, options: IisExportOptions) -> str | None:
    query = event.url.query
    if not (options.exchange_suffix and event.honeyscope.persona == "exchange"):
        return query
    # A stable id per event, so the same export twice gives the same file.
    request_id = uuid.uuid5(uuid.NAMESPACE_OID, event.event.id)
    return (query or "") + _EXCHANGE_SUFFIX.format(id=request_id)


def _username(event: HttpRequestEvent) -> str | None:
    for credential in event.honeyscope.credentials:
        if credential.scheme in ("basic", "ntlm", "iis") and credential.username:
            return f"{credential.domain}\\{credential.username}" if credential.domain else credential.username
    return None


def _milliseconds(duration_ns: int | None) -> int:
    return max(0, round((duration_ns or 0) / 1_000_000))
