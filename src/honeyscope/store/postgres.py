"""The shared store: PostgreSQL, written by any number of collectors at once.

Ingest path: events → Python column tuples (``columns.stage``) → binary ``COPY`` into per-connection
temporary tables → one statement that inserts the new events (``ON CONFLICT (id) DO NOTHING``), their
detections and their roll-up counts, in one transaction. Rows are inserted in id order and roll-up keys
upserted in key order, so two collectors writing overlapping batches wait for each other instead of
deadlocking; a deadlock or serialisation failure is retried anyway.

A lost connection raises ``StoreUnavailableError`` (the transaction is gone, nothing half-written) and
the next call reconnects.
"""

# ruff: noqa: S608 — SQL here is assembled from constants only; values always travel as parameters.

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import psycopg
import pyarrow as pa  # type: ignore[import-untyped]
from psycopg import errors as pg_errors

from honeyscope.events import Event, decode_event
from honeyscope.store.base import (
    DailyCount,
    DailyPairCount,
    Dimension,
    EventQuery,
    InvalidEventError,
    KeyCount,
    SourceSummary,
    StoreUnavailableError,
    check_event_ids,
    storable_event_id,
)
from honeyscope.store.columns import (
    DETECTION_COLUMNS,
    EVENT_COLUMNS,
    Row,
    StagedBatch,
    rows_table,
    scan_schema,
    stage,
)
from honeyscope.store.migrations import pending
from honeyscope.store.parquet import prepare_directory, write_day_partitions
from honeyscope.store.schema import MIGRATIONS_TABLE, POSTGRES_MIGRATIONS
from honeyscope.store.sql import event_order, event_where, pair_counts, rollup_upsert, rollup_where, time_where

T = TypeVar("T")

#: Any constant shared by every honeyscope: the advisory lock that serialises migrations.
_MIGRATION_LOCK: Final = 0x686F6E6579  # "honey"
_EXPORT_CHUNK: Final = 10_000
_RETRIES: Final = 3
#: Errors that mean the server is going away (the connection may not know it is broken yet).
_SERVER_GOING: Final = (pg_errors.AdminShutdown, pg_errors.CrashShutdown, pg_errors.CannotConnectNow)

_EVENT_TYPES: Final = (
    "text", "timestamptz", "text", "text", "text", "text", "int4", "int4", "text", "int8", "text", "text", "text",
    "text", "text", "text", "int4", "text", "text", "text", "text", "text", "text", "text", "text[]", "bytea",
)
_DETECTION_TYPES: Final = ("text", "timestamptz", "int4", "text", "text", "text", "text", "text", "text[]", "text[]")

#: Staging tables keep rows up to 8 KB inline and never compress: TOAST's compression attempt on each
#: ~2 KB doc was most of the server's COPY cost.
_STAGING: Final = (
    "CREATE TEMP TABLE IF NOT EXISTS hs_stage_events ("
    + ", ".join(f"{name} {kind}" for name, kind in zip(EVENT_COLUMNS, _EVENT_TYPES, strict=True))
    + ") WITH (toast_tuple_target = 8160) ON COMMIT DELETE ROWS",
    "ALTER TABLE hs_stage_events ALTER COLUMN doc SET STORAGE EXTERNAL",
    "CREATE TEMP TABLE IF NOT EXISTS hs_stage_detections ("
    + ", ".join(f"{name} {kind}" for name, kind in zip(DETECTION_COLUMNS, _DETECTION_TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS",
)

_TABLE_COLUMNS: Final = ("id", "ts", "day", *EVENT_COLUMNS[2:])
_UTC_TS: Final = "(ts AT TIME ZONE 'UTC')"
_FROM_STAGE: Final = {"id": "id::uuid", "ts": _UTC_TS, "day": f"{_UTC_TS}::date"}

#: One statement: new events (in id order), their detections, their roll-up counts; returns how many.
_MERGE: Final = f"""
WITH new AS (
    INSERT INTO events ({', '.join(_TABLE_COLUMNS)})
    SELECT {', '.join(_FROM_STAGE.get(name, name) for name in _TABLE_COLUMNS)} FROM hs_stage_events
    ORDER BY 1
    ON CONFLICT (id) DO NOTHING
    RETURNING id, day, type, sensor, persona, country, asn, cves
), new_detections AS (
    INSERT INTO detections (event_id, ordinal, ts, day, rule_id, title, engine, severity, stage, cves, techniques)
    SELECT d.event_id::uuid, d.ordinal, (d.ts AT TIME ZONE 'UTC'), new.day, d.rule_id, d.title, d.engine,
           d.severity, d.stage, d.cves, d.techniques
    FROM hs_stage_detections d JOIN new ON new.id = d.event_id::uuid
    ORDER BY 1, 2
), rolled AS ({rollup_upsert("new")})
SELECT count(*) FROM new
"""

_EXPORT_SELECT: Final = ", ".join("id::text" if name == "id" else name for name in EVENT_COLUMNS)


class PostgresStore:
    """Events in the PostgreSQL database at ``dsn`` (a libpq URI or ``key=value`` string)."""

    backend = "postgres"

    def __init__(self, dsn: str, *, connect_timeout: float = 10.0) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        with self._lock:
            self._connection()

    @property
    def where(self) -> str:
        """The server and database, for messages (no password)."""
        try:
            info = psycopg.conninfo.conninfo_to_dict(self.dsn)
        except psycopg.ProgrammingError:
            return "PostgreSQL (unparsable dsn)"
        return f"PostgreSQL {info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"

    def _open(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=max(1, round(self.connect_timeout)),
                                   application_name="honeyscope")
        except psycopg.Error as error:
            raise StoreUnavailableError(f"cannot connect to {self.where}: {_first_line(error)} — check that the "
                                        "server runs and [store] dsn is right") from None
        try:
            conn.execute("SET TimeZone = 'UTC'")
            # A 5,000-event batch is ~12 MB of staged rows: more than the default 8 MB of temp buffers,
            # which made every COPY spill to disk. Only settable before the session's first temp table.
            conn.execute("SET temp_buffers = '64MB'")
            for statement in _STAGING:
                conn.execute(statement)
        except psycopg.Error as error:
            conn.close()
            raise StoreUnavailableError(f"{self.where}: {_first_line(error)}") from None
        return conn

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = self._open()
        return self._conn

    def _run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``work`` on the connection; a lost connection becomes ``StoreUnavailableError``."""
        with self._lock:
            conn = self._connection()
            try:
                return work(conn)
            except psycopg.Error as error:
                if not (conn.broken or conn.closed or isinstance(error, _SERVER_GOING)):
                    raise
                conn.close()
                self._conn = None
                raise StoreUnavailableError(f"{self.where} is unavailable: {_first_line(error)} — nothing of "
                                            "this call was committed; the next call reconnects") from None

    # -- schema -------------------------------------------------------------------------------------

    def migrate(self) -> None:
        self._run(self._migrate)

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        while True:  # one step per transaction, each under the lock, the version re-read every time
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
                conn.execute(MIGRATIONS_TABLE)
                steps = pending(POSTGRES_MIGRATIONS, _version(conn), where=self.where)
                if not steps:
                    return
                step = steps[0]
                for statement in step.statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations VALUES (%s, %s, %s)",
                             [step.version, _now(), step.description])

    def schema_version(self) -> int:
        return self._run(_version)

    # -- writing ------------------------------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> int:
        if not events:
            return 0
        check_event_ids(events)
        staged = stage(events)
        return self._run(lambda conn: self._write(conn, staged))

    def _write(self, conn: psycopg.Connection[Any], staged: StagedBatch) -> int:
        for attempt in range(_RETRIES):
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    _copy(cursor, "hs_stage_events", _EVENT_TYPES, staged.events)
                    if staged.detections:
                        _copy(cursor, "hs_stage_detections", _DETECTION_TYPES, staged.detections)
                    row = cursor.execute(_MERGE).fetchone()
                    return int(row[0]) if row else 0
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
                if attempt == _RETRIES - 1:
                    raise
            except pg_errors.InvalidTextRepresentation as error:
                bad = [row[0] for row in staged.events if not storable_event_id(row[0])]
                if not bad:
                    raise
                raise InvalidEventError(f"event id {bad[0]!r} is not a UUID ({len(bad)} such in the batch) — set "
                                        "these events aside; nothing of the batch was stored", bad) from error
        raise AssertionError("unreachable")

    # -- reading ------------------------------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._run(lambda conn: conn.execute(sql, list(params)).fetchall())

    def count(self) -> int:
        rows = self._rows("SELECT coalesce(sum(events), 0) FROM daily_rollup WHERE dimension = 'type'")
        return int(rows[0][0])

    def event_ids(self) -> set[str]:
        return {row[0] for row in self._rows("SELECT id::text FROM events")}

    def event(self, event_id: str) -> Event | None:
        if not storable_event_id(event_id):
            return None
        rows = self._rows("SELECT doc FROM events WHERE id = %s::uuid", [event_id])
        return decode_event(rows[0][0]) if rows else None

    def events(self, query: EventQuery) -> list[Event]:
        where, params = event_where(query, "%s", lambda ph: f"cves @> ARRAY[{ph}]::text[]")
        rows = self._rows(f"SELECT doc FROM events WHERE {where} {event_order(query)} LIMIT %s",
                          [*params, query.limit])
        return [decode_event(row[0]) for row in rows]

    def daily_counts(self, dimension: Dimension, start: datetime | None = None,
                     end: datetime | None = None, *, event_type: str | None = None) -> list[DailyCount]:
        where, params = rollup_where(dimension, start, end, event_type, "%s")
        rows = self._rows(f"SELECT day, key, sum(events) FROM daily_rollup WHERE {where} "
                          "GROUP BY day, key ORDER BY day, key", params)
        return [DailyCount(day, key, int(count)) for day, key, count in rows]

    def daily_pair_counts(self, first: Dimension, second: Dimension, start: datetime | None = None,
                          end: datetime | None = None, *, event_type: str | None = None) -> list[DailyPairCount]:
        sql, params = pair_counts(first, second, start, end, event_type, "%s")
        return [DailyPairCount(day, (key1, key2), int(count)) for day, key1, key2, count in self._rows(sql, params)]

    def top(self, dimension: Dimension, start: datetime | None = None, end: datetime | None = None,
            *, limit: int = 10, event_type: str | None = None) -> list[KeyCount]:
        where, params = rollup_where(dimension, start, end, event_type, "%s")
        rows = self._rows(f"SELECT key, sum(events) AS n FROM daily_rollup WHERE {where} "
                          "GROUP BY key ORDER BY n DESC, key LIMIT %s", [*params, limit])
        return [KeyCount(key, int(count)) for key, count in rows]

    def sources(self, start: datetime | None = None, end: datetime | None = None, *,
                limit: int = 100) -> list[SourceSummary]:
        clauses, params = time_where(start, end, "%s")
        where = " AND ".join(["source_ip IS NOT NULL", *clauses])
        rows = self._rows(
            "SELECT source_ip, count(*) AS n, min(ts), max(ts), max(country), max(asn), max(as_org), "
            f"array_agg(DISTINCT sensor ORDER BY sensor) FROM events WHERE {where} "
            "GROUP BY source_ip ORDER BY n DESC, source_ip LIMIT %s", [*params, limit])
        addresses = [row[0] for row in rows]
        cves = dict(self._rows(
            "SELECT source_ip, array_agg(DISTINCT cve ORDER BY cve) FROM events, unnest(cves) AS cve "
            f"WHERE {where} AND source_ip = ANY(%s) GROUP BY source_ip", [*params, addresses]))
        return [SourceSummary(ip, int(n), first, last, country, asn, org, list(sensors), list(cves.get(ip, [])))
                for ip, n, first, last, country, asn, org, sensors in rows]

    def scan(self, columns: Sequence[str], start: datetime | None = None, end: datetime | None = None, *,
             event_type: str | None = None) -> pa.Table:
        schema = scan_schema(columns)
        clauses, params = time_where(start, end, "%s")
        if event_type is not None:
            clauses.append("type = %s")
            params.append(event_type)
        select = ", ".join("id::text" if name == "id" else name for name in columns)
        rows = self._rows(f"SELECT {select} FROM events WHERE {' AND '.join(clauses) or 'TRUE'} ORDER BY ts, id",
                          params)
        return rows_table(rows, schema)

    def size_bytes(self) -> int:
        return int(self._rows("SELECT pg_database_size(current_database())")[0][0])

    def export_parquet(self, directory: Path, start: datetime | None = None,
                       end: datetime | None = None) -> list[Path]:
        directory = prepare_directory(directory)
        clauses, params = time_where(start, end, "%s")
        sql = (f"SELECT {_EXPORT_SELECT}, day FROM events WHERE {' AND '.join(clauses) or 'TRUE'} "
               "ORDER BY ts, id")
        # A connection of its own: the export streams for a while and must not hold up writes.
        with self._lock:
            conn = self._open()
        try:
            with conn.transaction(), conn.cursor(name="hs_export") as cursor:
                cursor.execute(sql, params)
                return write_day_partitions(_chunks(cursor), directory)
        except psycopg.OperationalError as error:
            raise StoreUnavailableError(f"{self.where}: export interrupted: {_first_line(error)}") from None
        finally:
            conn.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _copy(cursor: psycopg.Cursor[Any], table: str, types: Sequence[str], rows: list[Row]) -> None:
    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def _chunks(cursor: psycopg.ServerCursor[Any]) -> Iterator[list[Row]]:
    while rows := cursor.fetchmany(_EXPORT_CHUNK):
        yield rows


def _version(conn: psycopg.Connection[Any]) -> int:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
