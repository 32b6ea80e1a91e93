"""Typed settings from one TOML file; command-line flags override. Nothing is read at import time.

Each component declares its own options as a msgspec Struct (the sensor here, personas in their own
packages under ``[personas.<name>]``); a wrong key or value becomes one ``ConfigError`` line naming the
key and the fix.
"""

from __future__ import annotations

import re
import socket
import tomllib
from pathlib import Path
from typing import Any

import msgspec


class ConfigError(ValueError):
    """A configuration problem, phrased as one line: what is wrong, where, and how to fix it."""


class ListenerSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One listening socket: ``address`` is ``host:port`` (``[::1]:8443`` for IPv6)."""

    address: str
    tls: bool = False
    persona: str = "exchange"
    #: PEM certificate and key; when absent a certificate matching the persona is generated once.
    certificate: str | None = None
    key: str | None = None


class LimitSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Safe defaults; every hit is recorded as a ``sensor.limit`` event."""

    max_connections: int = 4096
    max_request_line_bytes: int = 16384
    max_head_bytes: int = 65536
    max_header_count: int = 500
    body_store_bytes: int = 1024 * 1024
    max_body_bytes: int = 32 * 1024 * 1024
    max_requests_per_connection: int = 1000
    #: Seconds a connection may sit without sending anything between requests (IIS: 120 s).
    idle_timeout: float = 120.0
    #: Seconds allowed for a request head to arrive completely (slowloris).
    header_timeout: float = 30.0
    #: Minimum rate in bytes/s a request body must keep once the request has taken ``header_timeout``
    #: (http.sys's MinBytesPerSecond default: 240 B/s).
    min_body_rate: float = 240.0
    #: Seconds a client may leave our responses unread before we drop it (slow read).
    send_timeout: float = 60.0
    #: Attackers whose exploit-chain state is remembered at once (least recent forgotten).
    max_attackers: int = 20000


class SpoolSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    directory: str = "./spool"
    segment_bytes: int = 64 * 1024 * 1024
    #: fsync after every batch: survives power loss, costs throughput. Off: survives kill -9.
    fsync: bool = False


class SensorSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    #: Sensor name in every event (``observer.name``); defaults to the host name.
    name: str = ""
    #: Where generated certificates and other sensor state live.
    state_dir: str = "./state"
    listeners: list[ListenerSettings] = msgspec.field(default_factory=list)
    #: Proxy addresses whose X-Forwarded-For is believed; from anyone else it is only recorded.
    trusted_proxies: list[str] = msgspec.field(default_factory=list)
    spool: SpoolSettings = msgspec.field(default_factory=SpoolSettings)
    limits: LimitSettings = msgspec.field(default_factory=LimitSettings)


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    sensor: SensorSettings = msgspec.field(default_factory=SensorSettings)
    #: Options per persona, validated by each persona: ``[personas.exchange] build = "15.1.2176.2"``.
    personas: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


_AT = re.compile(r"^(?P<message>.*?) - at `\$(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")


def explain_validation_error(error: msgspec.ValidationError, source: str, prefix: str = "") -> ConfigError:
    """Turn msgspec's message into one line: file, dotted key, problem, fix."""
    text = str(error)
    match = _AT.match(text)
    message, path = (match.group("message"), match.group("path")) if match else (text, "")
    key = (prefix + path.replace("[", ".").replace("]", "")).strip(".")
    unknown = _UNKNOWN.match(message)
    if unknown:
        where = f"{key}.{unknown.group('field')}" if key else unknown.group("field")
        return ConfigError(f"{source}: unknown key '{where}' — remove it or fix its spelling "
                           "(see docs/configuration.md for the valid keys)")
    return ConfigError(f"{source}: {key or 'top level'}: {message.rstrip('.')} — correct this value "
                       "(see docs/configuration.md)")


def load_settings(path: Path | None) -> Settings:
    """Read and validate a TOML file; ``None`` gives the defaults."""
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found — pass an existing file with --config") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error}) — fix the syntax at that line") from None
    try:
        return msgspec.convert(data, Settings)
    except msgspec.ValidationError as error:
        raise explain_validation_error(error, str(path)) from None


def default_sensor_name() -> str:
    return socket.gethostname() or "sensor"


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` → (host, port); clear error otherwise."""
    match = re.fullmatch(r"\[(?P<v6>[^\]]+)\]:(?P<port>\d+)|(?P<host>[^:\[\]]+):(?P<port4>\d+)", address)
    if not match:
        raise ConfigError(f"listener address {address!r} is not host:port — write it like 127.0.0.1:8080 "
                          "or [::1]:8443")
    host = match.group("v6") or match.group("host")
    port = int(match.group("port") or match.group("port4"))
    if not 0 <= port <= 65535:
        raise ConfigError(f"listener address {address!r}: port out of range — use 0..65535")
    return host, port


__all__ = [
    "ConfigError",
    "LimitSettings",
    "ListenerSettings",
    "SensorSettings",
    "Settings",
    "SpoolSettings",
    "default_sensor_name",
    "explain_validation_error",
    "load_settings",
    "parse_address",
]
