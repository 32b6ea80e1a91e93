"""The one logical schema, written out per backend as numbered migrations (see ``migrations``).

Types differ only where the engines do: DuckDB ``VARCHAR``/``BLOB``/``VARCHAR[]`` are PostgreSQL
``text``/``bytea``/``text[]``. ``ts`` is a plain ``TIMESTAMP`` holding UTC (a time-zone-aware type makes
DuckDB's daily roll-ups about ten times slower). ``doc`` is the event's JSON bytes exactly as
``encode_event`` gave them — bytes, not JSON/jsonb, because PostgreSQL text and jsonb cannot hold the
NUL characters attackers send. DuckDB gets no secondary indexes: its zone maps over time-ordered
inserts serve the range scans, and every ART index slows ingest.
"""

from __future__ import annotations

from typing import Final

from honeyscope.store.migrations import Migration

_EVENT_COLUMNS = """
    id UUID PRIMARY KEY,
    ts TIMESTAMP NOT NULL,
    day DATE NOT NULL,
    type {text} NOT NULL,
    sensor {text} NOT NULL,
    persona {text},
    source_ip {text},
    source_port INTEGER,
    destination_port INTEGER,
    country {text},
    asn BIGINT,
    as_org {text},
    network {text},
    scanner {text},
    method {text},
    path {text},
    query {text},
    status INTEGER,
    user_agent {text},
    route {text},
    stage {text},
    ja4 {text},
    connection_id {text},
    session_id {text},
    severity {text},
    cves {text}[] NOT NULL,
    doc {blob} NOT NULL{doc_compression}
"""

_DETECTION_COLUMNS = """
    event_id UUID NOT NULL,
    ordinal INTEGER NOT NULL,
    ts TIMESTAMP NOT NULL,
    day DATE NOT NULL,
    rule_id {text} NOT NULL,
    title {text} NOT NULL,
    engine {text} NOT NULL,
    severity {text} NOT NULL,
    stage {text},
    cves {text}[] NOT NULL,
    techniques {text}[] NOT NULL
"""

#: Keyed dimension first: every read selects one dimension over a range of days.
_ROLLUP_COLUMNS = """
    dimension {text} NOT NULL,
    day DATE NOT NULL,
    type {text} NOT NULL,
    key {text} NOT NULL,
    events BIGINT NOT NULL,
    PRIMARY KEY (dimension, day, type, key)
"""


def _tables(text: str, blob: str, *, detections_key: bool, doc_compression: str = "") -> tuple[str, ...]:
    key = ", PRIMARY KEY (event_id, ordinal)" if detections_key else ""
    return (
        f"CREATE TABLE events ({_EVENT_COLUMNS.format(text=text, blob=blob, doc_compression=doc_compression)})",
        f"CREATE TABLE detections ({_DETECTION_COLUMNS.format(text=text)}{key})",
        f"CREATE TABLE daily_rollup ({_ROLLUP_COLUMNS.format(text=text)})",
    )


#: Bookkeeping table, created before any step runs.
MIGRATIONS_TABLE: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at TIMESTAMP NOT NULL,
    description VARCHAR NOT NULL
)"""

DUCKDB_MIGRATIONS: Final = [
    # Detections of an event are written only when the event itself is new, so DuckDB skips their
    # primary key (an ART index costs ingest speed); PostgreSQL keeps it. zstd for ``doc``: DuckDB's
    # default analysis of large BLOBs made checkpoints ~6x slower and the file ~6x larger (bench/store.py).
    Migration(1, "events, detections, daily roll-up",
              _tables("VARCHAR", "BLOB", detections_key=False, doc_compression=" USING COMPRESSION zstd")),
]

POSTGRES_MIGRATIONS: Final = [
    Migration(1, "events, detections, daily roll-up, indexes", (
        *_tables("text", "bytea", detections_key=True),
        # The drill-downs: newest events, one source's events, one session, events with a CVE.
        "CREATE INDEX events_ts ON events (ts)",
        "CREATE INDEX events_source_ts ON events (source_ip, ts)",
        "CREATE INDEX events_session ON events (session_id) WHERE session_id IS NOT NULL",
        "CREATE INDEX events_cves ON events USING gin (cves)",
        "CREATE INDEX detections_rule_day ON detections (rule_id, day)",
        # Docs are ~1-3 KB: pglz (the default) spends much CPU and rarely saves the 25% it demands.
        # lz4 where the server has it, otherwise out-of-line without compression.
        """DO $$ BEGIN
            ALTER TABLE events ALTER COLUMN doc SET COMPRESSION lz4;
        EXCEPTION WHEN feature_not_supported THEN
            ALTER TABLE events ALTER COLUMN doc SET STORAGE EXTERNAL;
        END $$""",
    )),
]
