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
from typing import Annotated, Any, Literal

import msgspec

from honeyscope.analysis.trends.settings import TrendSettings
from honeyscope.web.settings import WebSettings


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


class ShipperSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Reads the spool and publishes to the bus; its offset lives in the sensor's state directory."""

    #: Events per publish (one bus round trip acknowledges the whole batch).
    batch_events: int = 1000
    #: Seconds between looks at the spool when it has nothing new.
    poll_interval: float = 0.2
    #: Longest wait between reconnect attempts when the bus is unreachable (backoff doubles up to this).
    max_backoff: float = 30.0
    #: Publishes waiting for the bus's acknowledgement at once. On one node keep batch_events ×
    #: in_flight_batches ≥ collector.batch_events, or each collector batch waits batch_seconds to fill.
    in_flight_batches: int = 8


class BusSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``memory``: in-process, single node. ``nats``: NATS JetStream, many sensors and collectors."""

    kind: Literal["memory", "nats"] = "memory"
    servers: list[str] = msgspec.field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    stream: str = "HONEYSCOPE"
    #: Events are published on ``<subject_prefix>.<sensor name>``.
    subject_prefix: str = "honeyscope.events"
    #: The durable pull consumer every collector shares (a work queue).
    consumer: str = "collectors"
    #: NATS credentials: a ``.creds`` file, or user/password, or a token.
    credentials: str | None = None
    user: str | None = None
    password: str | None = None
    token: str | None = None
    #: TLS to the NATS server: CA bundle, and a client certificate/key for mutual TLS.
    tls_ca: str | None = None
    tls_certificate: str | None = None
    tls_key: str | None = None
    #: Seconds JetStream remembers message ids to drop re-published duplicates.
    duplicate_window: float = 600.0
    #: Seconds a collector has to acknowledge a delivery before JetStream redelivers it.
    ack_wait: float = 60.0
    #: Stream size cap in bytes (file storage); 0 means unlimited. When full, publishes are refused (the
    #: shipper retries) rather than old events dropped.
    max_bytes: int = 0
    #: Seconds a publish may wait for JetStream's acknowledgements before the shipper retries it.
    publish_timeout: float = 10.0
    #: Deliveries all collectors together may hold unacknowledged before JetStream pauses delivery.
    max_ack_pending: int = 50_000
    #: Publish with JetStream fast-ingest batches (one acknowledgement per 100 events; nats-server 2.14+).
    #: Off, or on an older server: one acknowledgement per event.
    publish_batches: bool = True
    #: Events are sent to NATS packed into messages of up to this many bytes (capped by the server's
    #: ``max_payload``): the per-message protocol work of client and server is then paid per pack, not
    #: per event. 0 sends one message per event (for collectors older than packing).
    pack_bytes: Annotated[int, msgspec.Meta(ge=0)] = 256 * 1024


class EnrichSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``geo``: ``builtin`` (geoip2fast's bundled data), ``mmdb`` (files below), or ``none``."""

    geo: Literal["builtin", "mmdb", "none"] = "builtin"
    #: MMDB files read with maxminddb (GeoLite2, DB-IP Lite, IPinfo Lite): country and AS databases may
    #: be one file (IPinfo Lite) or two.
    country_mmdb: str | None = None
    asn_mmdb: str | None = None
    #: Extra scanner lists (same format as the bundled one) added to the bundled data.
    scanner_files: list[str] = msgspec.field(default_factory=list)
    #: Addresses whose answers are remembered.
    cache_size: int = 100_000


_DEFAULT_DUCKDB_PATH = "./data/honeyscope.duckdb"


class StoreSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``duckdb`` (a file, the embedded default) or ``postgres`` (``dsn``, e.g. ``postgresql://u@host/db``)."""

    kind: Literal["duckdb", "postgres"] = "duckdb"
    path: str = _DEFAULT_DUCKDB_PATH
    dsn: str | None = None
    #: DuckDB only: the most memory its buffer manager may hold (e.g. "256MB", "1GB"); beyond it, data not
    #: yet checkpointed and large intermediates spill to a temporary file. DuckDB's own default is 80% of RAM.
    memory_limit: str = "256MB"

    def in_data_dir(self, data_dir: Path) -> StoreSettings:
        """This store for a data directory (``--data``): DuckDB at DATA/honeyscope.duckdb unless the
        configuration names another file; PostgreSQL as configured."""
        if self.kind == "duckdb" and self.path == _DEFAULT_DUCKDB_PATH:
            return msgspec.structs.replace(self, path=str(data_dir.resolve() / DATA_STORE_FILE))
        return self


#: The DuckDB file of a data directory (``honeyscope up --data DIR`` and every command reading DIR).
DATA_STORE_FILE = "honeyscope.duckdb"


class DetectSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Which rules the collector runs on every event (see docs/detection.md and docs/yara.md)."""

    #: Run the Sigma and YARA rule packs shipped with honeyscope.
    builtin: bool = True
    #: Extra Sigma rule files or directories (e.g. a SigmaHQ checkout's rules/web).
    sigma: list[str] = msgspec.field(default_factory=list)
    #: Extra YARA rule files or directories, run over request bodies and stored artifacts.
    yara: list[str] = msgspec.field(default_factory=list)


class CollectorSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    #: Events written to the store in one transaction (and acknowledged together).
    batch_events: int = 5000
    #: Longest a partial batch waits before it is written anyway.
    batch_seconds: float = 0.5
    #: Batches that may wait between stages before the collector stops fetching (back-pressure).
    queue_batches: int = 4
    #: ``host:port`` of the Prometheus metrics endpoint; empty to disable.
    metrics_address: str = "127.0.0.1:9108"


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    #: The dashboard and JSON API (``honeyscope web``, and inside ``honeyscope up``); see docs/web.md.
    web: WebSettings = msgspec.field(default_factory=WebSettings)
    sensor: SensorSettings = msgspec.field(default_factory=SensorSettings)
    shipper: ShipperSettings = msgspec.field(default_factory=ShipperSettings)
    bus: BusSettings = msgspec.field(default_factory=BusSettings)
    enrich: EnrichSettings = msgspec.field(default_factory=EnrichSettings)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    detect: DetectSettings = msgspec.field(default_factory=DetectSettings)
    collector: CollectorSettings = msgspec.field(default_factory=CollectorSettings)
    #: The trend analysis (``honeyscope trends``); see docs/trends.md.
    trends: TrendSettings = msgspec.field(default_factory=TrendSettings)
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
    if key and message.startswith(key + "."):
        # A section's own check (``__post_init__``) already names the key and the fix.
        return ConfigError(f"{source}: {message.rstrip('.')} (see docs/configuration.md)")
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
    "BusSettings",
    "CollectorSettings",
    "ConfigError",
    "DetectSettings",
    "EnrichSettings",
    "LimitSettings",
    "ListenerSettings",
    "SensorSettings",
    "Settings",
    "ShipperSettings",
    "SpoolSettings",
    "StoreSettings",
    "default_sensor_name",
    "explain_validation_error",
    "load_settings",
    "parse_address",
]
