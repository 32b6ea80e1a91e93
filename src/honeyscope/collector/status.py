"""The status file a running ``honeyscope up``/``collect`` rewrites every second, and its reader.

``honeyscope status`` reads the file rather than the store: DuckDB lets only one process open the file
while the collector writes to it, and the file also tells what runs (processes, lag, rates) — facts only
the running process knows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

STATUS_FILE = "status.json"
#: A status older than this means the process that wrote it no longer updates it.
STALE_AFTER_SECONDS = 10.0


def write_status(data_dir: Path, status: Mapping[str, Any]) -> None:
    """Replace the status file atomically (readers never see half a file)."""
    path = data_dir / STATUS_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(msgspec.json.format(msgspec.json.encode(status), indent=2))
    temporary.replace(path)


def read_status(data_dir: Path, now: datetime | None = None) -> dict[str, Any]:
    """The last status, with ``running`` telling whether its writer is alive and current."""
    path = data_dir / STATUS_FILE
    try:
        status: dict[str, Any] = msgspec.json.decode(path.read_bytes())
    except FileNotFoundError:
        return {"running": False, "data_dir": str(data_dir), "reason": "no status file"}
    except msgspec.DecodeError:
        return {"running": False, "data_dir": str(data_dir), "reason": "status file unreadable"}
    now = now or datetime.now(UTC)
    updated = _parse_time(status.get("updated"))
    age = (now - updated).total_seconds() if updated else None
    alive = _process_alive(status.get("pid"))
    status["running"] = bool(alive and age is not None and age <= STALE_AFTER_SECONDS)
    if not status["running"]:
        status["reason"] = "process not running" if not alive else f"status not updated for {age:.0f} s"
    return status


def render_status(status: Mapping[str, Any]) -> str:
    """The human-readable view of a status."""
    if not status.get("running"):
        lines = [f"honeyscope is not running in {status.get('data_dir')} ({status.get('reason')})"]
        if "updated" in status:
            lines.append(f"last status: {status['updated']}, events stored then: {status.get('events_stored')}")
        return "\n".join(lines)
    components: Mapping[str, Any] = status.get("components", {})
    lines = [
        f"honeyscope {status.get('mode', 'up')} running (pid {status.get('pid')}) since {status.get('started')}",
        f"data directory:   {status.get('data_dir')}",
        f"events stored:    {status.get('events_stored', 0):,}",
        f"events/s:         {status.get('events_per_second', 0.0):,.1f}",
        f"spool lag:        {status.get('spool_lag_bytes', 0):,} bytes",
        f"store:            {components.get('store', {}).get('backend', '?')}, "
        f"{status.get('store_size_bytes', 0) / 1e6:,.1f} MB",
    ]
    if status.get("web_url"):
        lines.append(f"dashboard:        {status['web_url']}")
    if status.get("metrics_url"):
        lines.append(f"metrics:          {status['metrics_url']}")
    for name in ("sensor", "shipper", "collector"):
        if name in components:
            lines.append(f"{name + ':':<17} {_summary(name, components[name])}")
    return "\n".join(lines)


def _summary(name: str, component: Mapping[str, Any]) -> str:
    if name == "sensor":
        state = "running" if component.get("running") else "NOT RUNNING"
        listeners = " ".join(component.get("listeners", []))
        return f"{state} (pid {component.get('pid')}, restarts {component.get('restarts', 0)}) {listeners}".rstrip()
    skip = {"last_error", "stage_errors", "sensor_dropped"}
    parts = [f"{key} {value:,}" for key, value in component.items() if isinstance(value, int) and key not in skip]
    if component.get("last_error"):
        parts.append(f"last error: {component['last_error']}")
    return ", ".join(parts)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _process_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

