"""The embedded store: one DuckDB file, written by one process (the collector).

DuckDB lets a single process open a file read-write; any other process is refused while it runs (so
``honeyscope status`` asks the running collector instead of opening the file). Inside the process, writes
are serialised by a lock and reads use a cursor per thread, so a dashboard in the same process reads
while the collector writes.

Ingest path (bench/store.py measures it; ``executemany`` would be ~500 rows/s): the writing thread only
encodes the events and hands ids + JSON to DuckDB as one Arrow table; DuckDB takes the columns out of
the JSON (``duckdb_ingest``) into a temporary staging table, then one INSERT adds the events, one upsert
their roll-up counts and one INSERT their detections, in one transaction. A batch holding an event stored
before (a redelivery) fails the plain INSERT and is redone with ``INSERT OR IGNORE ... RETURNING`` to
learn which of its events are new.
"""

# ruff: noqa: S608 — SQL here is assembled from constants only; values always travel as parameters.

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from honeyscope.events import Event, decode_event, encode_event
from honeyscope.store.base import (
    DailyCount,
    Dimension,
    EventQuery,
    InvalidEventError,
    KeyCount,
    SourceSummary,
    StoreUnavailableError,
    storable_event_id,
)
from honeyscope.store.columns import EVENT_COLUMNS, scan_schema
from honeyscope.store.duckdb_ingest import (
    CREATE_STAGING,
    INSERT_IF_NEW,
    INSERT_NEW,
    STAGE_BATCH,
    insert_detections,
    rollup_source,
)
from honeyscope.store.migrations import pending
from honeyscope.store.parquet import prepare_directory
from honeyscope.store.schema import DUCKDB_MIGRATIONS, MIGRATIONS_TABLE
from honeyscope.store.sql import event_order, event_where, rollup_upsert, rollup_where, time_where

#: WAL size that triggers a checkpoint (see ``_connect``).
CHECKPOINT_THRESHOLD: Final = "256MB"
_EXPORT_SELECT: Final = ", ".join("CAST(id AS VARCHAR) AS id" if c == "id" else c for c in EVENT_COLUMNS)


class DuckDBStore:
    """Events in a DuckDB file at ``path`` (created with its directory when missing)."""

    backend = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._staging = False
        self._invalidated = False
        self._con = self._connect()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(self.path))
        except (duckdb.IOException, OSError) as error:
            locked = "lock" in str(error).lower()
            hint = ("DuckDB lets one process use a file: stop the other honeyscope using it, or use PostgreSQL "
                    "([store] kind = \"postgres\")" if locked else
                    "check that the file is a honeyscope DuckDB store and its directory is writable")
            raise StoreUnavailableError(f"cannot open DuckDB file {self.path}: {_first_line(error)} — {hint}") from None
        # Timestamps in the JSON carry their offset; converting them needs the session zone to be UTC.
        con.execute("SET TimeZone = 'UTC'")
        # A checkpoint rewrites the table's last, partly filled row group (122,880 rows). With the default
        # 16 MB threshold that happened every few batches: ~40% more CPU per event and a ~40% larger file
        # than checkpointing about once per row group (~2.3 KB per event in the WAL). Crash recovery replays
        # at most this much WAL.
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        return con

    # -- schema -------------------------------------------------------------------------------------

    def migrate(self) -> None:
        with self._lock:
            con = self._con
            con.execute(MIGRATIONS_TABLE)
            for step in pending(DUCKDB_MIGRATIONS, self._version(con), where=f"DuckDB file {self.path}"):
                con.begin()
                try:
                    for statement in step.statements:
                        con.execute(statement)
                    con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                                [step.version, _now(), step.description])
                    con.commit()
                except BaseException:
                    con.rollback()
                    raise
            # The staging table copies the events columns: rebuild it after a schema change.
            con.execute("DROP TABLE IF EXISTS temp.hs_staged")
            self._staging = False

    def schema_version(self) -> int:
        with self._lock:
            return self._version(self._con)

    @staticmethod
    def _version(con: duckdb.DuckDBPyConnection) -> int:
        exists = con.execute("SELECT count(*) FROM information_schema.tables "
                             "WHERE table_name = 'schema_migrations'").fetchone()
        if not exists or not exists[0]:
            return 0
        row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        return int(row[0]) if row else 0

    # -- writing ------------------------------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> int:
        if not events:
            return 0
        batch = _encode(events)
        with self._lock:
            con = self._usable()
            self._ensure_staging(con)
            try:
                # Staged outside the transaction: the scratch rows outlive a rollback of the insert.
                _stage(con, batch)
                return self._commit(con)
            except BaseException as error:
                self._invalidated = isinstance(error, duckdb.FatalException)
                translated = _translate(error, batch)
                if translated is error:
                    raise
                raise translated from None
            finally:
                for name in ("hs_batch", "hs_new_ids"):
                    con.unregister(name)

    def _commit(self, con: duckdb.DuckDBPyConnection) -> int:
        """Insert the staged events that are new, their roll-up and detections: one transaction."""
        con.begin()
        try:
            inserted = self._insert(con)
            con.commit()
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # an invalidated database refuses even this
                con.rollback()
            raise
        return inserted

    def _usable(self) -> duckdb.DuckDBPyConnection:
        """The write connection; after a fatal error (e.g. disk full) DuckDB refuses every statement on
        that database instance, so it is reopened (its WAL replays what was committed)."""
        if self._invalidated:
            with contextlib.suppress(duckdb.Error):
                for cursor in self._cursors:
                    cursor.close()
                self._con.close()
            self._cursors.clear()
            self._local = threading.local()
            self._con = self._connect()
            self._staging = False
            self._invalidated = False
        return self._con

    def _ensure_staging(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self._staging:
            for statement in CREATE_STAGING:
                con.execute(statement)
            self._staging = True

    def _insert(self, con: duckdb.DuckDBPyConnection) -> int:
        try:
            inserted = _scalar(con.execute(INSERT_NEW))
            filtered = False
        except duckdb.ConstraintException:
            # Some events are stored already (a redelivery): start over, learning which ones are new.
            con.rollback()
            con.begin()
            new_ids = [str(row[0]) for row in con.execute(INSERT_IF_NEW + " RETURNING id").fetchall()]
            con.register("hs_new_ids", pa.table({"id": pa.array(new_ids, pa.string())}))
            inserted, filtered = len(new_ids), True
        if inserted:
            con.execute(rollup_upsert(rollup_source(filtered)))
            con.execute(insert_detections(filtered))
        return inserted

    # -- reading ------------------------------------------------------------------------------------

    def _reader(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor: DuckDB connections are not shared between threads."""
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._lock:
                cursor = self._con.cursor()
                self._cursors.append(cursor)
            self._local.cursor = cursor
        return cursor

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._reader().execute(sql, list(params)).fetchall()
        except duckdb.IOException as error:
            raise StoreUnavailableError(f"DuckDB file {self.path}: {_first_line(error)}") from None

    def count(self) -> int:
        rows = self._rows("SELECT coalesce(sum(events), 0) FROM daily_rollup WHERE dimension = 'type'")
        return int(rows[0][0])

    def event_ids(self) -> set[str]:
        return {row[0] for row in self._rows("SELECT CAST(id AS VARCHAR) FROM events")}

    def event(self, event_id: str) -> Event | None:
        if not storable_event_id(event_id):
            return None
        rows = self._rows("SELECT doc FROM events WHERE id = CAST(? AS UUID)", [event_id])
        return decode_event(rows[0][0]) if rows else None

    def events(self, query: EventQuery) -> list[Event]:
        where, params = event_where(query, "?", lambda ph: f"list_contains(cves, {ph})")
        order = event_order(query)
        # Pick the rows on narrow columns first, then read only their docs: reading ``doc`` for every
        # candidate row made a filtered "newest 100" 5-20x slower (bench/store.py).
        rows = self._rows(f"SELECT doc FROM events WHERE rowid IN "
                          f"(SELECT rowid FROM events WHERE {where} {order} LIMIT ?) {order}", [*params, query.limit])
        return [decode_event(row[0]) for row in rows]

    def daily_counts(self, dimension: Dimension, start: datetime | None = None,
                     end: datetime | None = None, *, event_type: str | None = None) -> list[DailyCount]:
        where, params = rollup_where(dimension, start, end, event_type, "?")
        rows = self._rows(f"SELECT day, key, sum(events) FROM daily_rollup WHERE {where} "
                          "GROUP BY day, key ORDER BY day, key", params)
        return [DailyCount(day, key, int(count)) for day, key, count in rows]

    def top(self, dimension: Dimension, start: datetime | None = None, end: datetime | None = None,
            *, limit: int = 10, event_type: str | None = None) -> list[KeyCount]:
        where, params = rollup_where(dimension, start, end, event_type, "?")
        rows = self._rows(f"SELECT key, sum(events) AS n FROM daily_rollup WHERE {where} "
                          "GROUP BY key ORDER BY n DESC, key LIMIT ?", [*params, limit])
        return [KeyCount(key, int(count)) for key, count in rows]

    def sources(self, start: datetime | None = None, end: datetime | None = None, *,
                limit: int = 100) -> list[SourceSummary]:
        clauses, params = time_where(start, end, "?")
        where = " AND ".join(["source_ip IS NOT NULL", *clauses])
        # Rank on a plain count first; the list aggregates then run for the chosen addresses only (half
        # the time on a busy day).
        rows = self._rows(
            "WITH ranked AS (SELECT source_ip, count(*) AS n FROM events "
            f"WHERE {where} GROUP BY source_ip ORDER BY n DESC, source_ip LIMIT ?) "
            "SELECT source_ip, any_value(ranked.n) AS n, min(ts), max(ts), max(country), max(asn), max(as_org), "
            "list_sort(list_distinct(list(sensor))), list_sort(list_distinct(flatten(list(cves)))) "
            f"FROM events JOIN ranked USING (source_ip) WHERE {where} GROUP BY source_ip ORDER BY n DESC, source_ip",
            [*params, limit, *params])
        return [SourceSummary(ip, int(n), first, last, country, asn, org, list(sensors), list(cves))
                for ip, n, first, last, country, asn, org, sensors, cves in rows]

    def scan(self, columns: Sequence[str], start: datetime | None = None, end: datetime | None = None, *,
             event_type: str | None = None) -> pa.Table:
        schema = scan_schema(columns)
        clauses, params = time_where(start, end, "?")
        if event_type is not None:
            clauses.append("type = ?")
            params.append(event_type)
        select = ", ".join("CAST(id AS VARCHAR) AS id" if name == "id" else name for name in columns)
        query = f"SELECT {select} FROM events WHERE {' AND '.join(clauses) or 'TRUE'} ORDER BY ts, id"
        try:
            table = self._reader().sql(query, params=params).to_arrow_table()
        except duckdb.IOException as error:
            raise StoreUnavailableError(f"DuckDB file {self.path}: {_first_line(error)}") from None
        return table.cast(schema)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.path, self.path.with_name(self.path.name + ".wal"))
                   if p.exists())

    def export_parquet(self, directory: Path, start: datetime | None = None,
                       end: datetime | None = None) -> list[Path]:
        directory = prepare_directory(directory)
        clauses, params = time_where(start, end, "?")
        where = " AND ".join(clauses) or "TRUE"
        target = str(directory).replace("'", "''")  # COPY takes no parameter for its target
        self._reader().execute(
            f"COPY (SELECT {_EXPORT_SELECT}, day FROM events WHERE {where} ORDER BY ts, id) "
            f"TO '{target}' (FORMAT parquet, PARTITION_BY (day), COMPRESSION zstd)", params)
        return sorted(directory.rglob("*.parquet"))

    def close(self) -> None:
        with self._lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
            self._con.close()


def _scalar(result: duckdb.DuckDBPyConnection) -> int:
    row = result.fetchone()
    return int(row[0]) if row else 0


def _stage(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> None:
    """The batch's columns, taken from its JSON, into the connection's scratch table (autocommit)."""
    con.execute("DELETE FROM hs_staged")
    con.register("hs_batch", batch)  # made inside a transaction, a registration would die with a rollback
    con.execute(STAGE_BATCH)


def _encode(events: Sequence[Event]) -> pa.Table:
    """The batch as DuckDB reads it: ids (first of each kept) and the events' JSON."""
    ids = [event.event.id for event in events]
    if len(set(ids)) == len(ids):
        docs = [encode_event(event) for event in events]
    else:
        firsts: dict[str, Event] = {}
        for event in events:
            firsts.setdefault(event.event.id, event)
        ids, docs = list(firsts), [encode_event(event) for event in firsts.values()]
    return pa.table({"id": pa.array(ids, pa.string()), "doc": pa.array(docs, pa.large_binary())})


def _translate(error: BaseException, batch: pa.Table) -> BaseException:
    """Turn DuckDB's failure into the contract's errors; anything else passes through unchanged."""
    if isinstance(error, duckdb.ConversionException):
        bad = [event_id for event_id in batch.column("id").to_pylist() if not storable_event_id(event_id)]
        if bad:
            return InvalidEventError(f"event id {bad[0]!r} is not a UUID ({len(bad)} such in the batch) — "
                                     "set these events aside; nothing of the batch was stored", bad)
    if isinstance(error, (duckdb.IOException, duckdb.FatalException)):
        return StoreUnavailableError(f"DuckDB write failed, nothing of the batch was stored: {_first_line(error)}")
    return error


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
