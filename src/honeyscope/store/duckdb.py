"""The embedded store: one DuckDB file, written by one process (the collector).

DuckDB lets a single process open a file read-write; any other process is refused while it runs (so
``honeyscope status`` asks the running collector instead of opening the file). Inside the process, writes
are serialised by a lock and reads use a cursor per thread, so a dashboard in the same process reads
while the collector writes.

Ingest path (bench/store.py and bench/pipeline.py measure it; ``executemany`` would be ~500 rows/s): the
writing thread flattens the typed events into Arrow columns, the JSON doc among them
(``columns.ingest_tables``), and hands DuckDB two Arrow tables (events, detections); one INSERT adds the
events, one upsert their roll-up counts and one INSERT their detections, in one transaction
(``duckdb_ingest``). A batch holding an event stored before (a redelivery) fails the plain INSERT and is
redone with ``INSERT OR IGNORE ... RETURNING`` to learn which of its events are new.
"""

# ruff: noqa: S608 — SQL here is assembled from constants only; values always travel as parameters.

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

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
from honeyscope.store.columns import EVENT_COLUMNS, ingest_tables, scan_schema
from honeyscope.store.duckdb_ingest import INSERT_IF_NEW, INSERT_NEW, insert_detections, rollup_source
from honeyscope.store.migrations import pending
from honeyscope.store.parquet import prepare_directory
from honeyscope.store.schema import DUCKDB_MIGRATIONS, MIGRATIONS_TABLE
from honeyscope.store.sql import event_order, event_where, pair_counts, rollup_upsert, rollup_where, time_where

#: WAL size that triggers a checkpoint (see ``_connect``).
CHECKPOINT_THRESHOLD: Final = "256MB"
#: Default bound of DuckDB's buffer manager (``[store] memory_limit``); DuckDB's own is 80% of RAM.
MEMORY_LIMIT: Final = "256MB"
#: Most bytes of event documents written in one transaction (see ``write``): well under ``memory_limit``.
WRITE_SLICE_BYTES: Final = 32 * 2**20
_MEMORY: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
_UNITS: Final = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20,
                 "gib": 2**30, "tib": 2**40}
#: Below this, a write slice (``WRITE_SLICE_BYTES``) and DuckDB's own needs would not fit.
MIN_MEMORY_LIMIT: Final = 128 * 10**6
_EXPORT_SELECT: Final = ", ".join("CAST(id AS VARCHAR) AS id" if c == "id" else c for c in EVENT_COLUMNS)


class DuckDBStore:
    """Events in a DuckDB file at ``path`` (created with its directory when missing)."""

    backend = "duckdb"

    def __init__(self, path: Path, *, memory_limit: str = MEMORY_LIMIT) -> None:
        if _memory_bytes(memory_limit) < MIN_MEMORY_LIMIT:
            from honeyscope.config import ConfigError

            raise ConfigError(f"store.memory_limit = {memory_limit!r} is not an amount of memory of at least "
                              '128MB — use e.g. "256MB" or "1GB"')
        self.path = Path(path)
        self.memory_limit = memory_limit.strip()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
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
        # Bounded, so the single-node stack stays a few hundred MB: without it the buffer manager keeps
        # every block it touched (136 MB after 30k events in bench/pipeline.py, growing with the backlog).
        con.execute(f"SET memory_limit = '{self.memory_limit}'")
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

    def schema_version(self) -> int:
        with self._lock:
            return self._version(self._con)

    @staticmethod
    def _version(con: duckdb.DuckDBPyConnection) -> int:
        # fetchall, not fetchone: DuckDB refuses a registration on a connection with an unfinished result.
        exists = con.execute("SELECT count(*) FROM information_schema.tables "
                             "WHERE table_name = 'schema_migrations'").fetchall()
        if not exists or not exists[0][0]:
            return 0
        rows = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()
        return int(rows[0][0]) if rows else 0

    # -- writing ------------------------------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> int:
        if not events:
            return 0
        check_event_ids(events)
        batch, detections = ingest_tables(events)
        # Written a slice of at most ``WRITE_SLICE_BYTES`` of documents per transaction: a transaction's
        # new rows stay in DuckDB's buffers until it commits, and a batch of large bodies (5,000 events
        # of up to 1 MiB each) would exceed ``memory_limit`` — a failure DuckDB treats as fatal for the
        # whole database. A slice that fails leaves the earlier ones stored; the batch is redelivered and
        # the store skips what it holds, as for any redelivery.
        inserted = 0
        for events_slice, detections_slice in _slices(batch, detections, WRITE_SLICE_BYTES):
            inserted += self._write_slice(events_slice, detections_slice)
        return inserted

    def _write_slice(self, batch: pa.Table, detections: pa.Table) -> int:
        with self._lock:
            con = self._usable()
            try:
                # Registered outside the transaction: a registration made inside one dies with its rollback.
                con.register("hs_batch", batch)
                con.register("hs_detections", detections)
                # One DuckDB thread while writing: a batch of a few thousand rows gains nothing from more,
                # and coordinating them cost ~5 of the ~18 µs of DuckDB CPU per event (bench/pipeline.py,
                # 2 cores); the wall time was no longer either. The setting is process-wide, so it is
                # restored at once: readers between writes get every thread.
                con.execute("SET threads = 1")
                try:
                    return self._commit(con, has_detections=detections.num_rows > 0)
                finally:
                    with contextlib.suppress(duckdb.Error):  # an invalidated database refuses even this
                        con.execute("RESET threads")
            except BaseException as error:
                self._invalidated = isinstance(error, duckdb.FatalException)
                translated = _translate(error, batch)
                if translated is error:
                    raise
                raise translated from None
            finally:
                for name in ("hs_batch", "hs_detections", "hs_new_ids"):
                    with contextlib.suppress(duckdb.Error):  # an invalidated database refuses even this
                        con.unregister(name)

    def _commit(self, con: duckdb.DuckDBPyConnection, *, has_detections: bool) -> int:
        """Insert the batch's events that are new, their roll-up and detections: one transaction."""
        con.begin()
        try:
            inserted = self._insert(con, has_detections=has_detections)
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
            try:
                self._con.execute("SELECT 1").fetchall()
            except duckdb.Error as error:
                # DuckDB hands the same (invalid) database back while anything in this process still
                # holds it: only a new process can open the file again.
                raise StoreUnavailableError(f"DuckDB file {self.path} is unusable after a fatal error "
                                            f"({_first_line(error)}) — restart the collector; its WAL keeps "
                                            "every committed event") from None
            self._invalidated = False
        return self._con

    def _insert(self, con: duckdb.DuckDBPyConnection, *, has_detections: bool) -> int:
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
            if has_detections:
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

    def daily_pair_counts(self, first: Dimension, second: Dimension, start: datetime | None = None,
                          end: datetime | None = None, *, event_type: str | None = None) -> list[DailyPairCount]:
        sql, params = pair_counts(first, second, start, end, event_type, "?")
        return [DailyPairCount(day, (key1, key2), int(count)) for day, key1, key2, count in self._rows(sql, params)]

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
    rows = result.fetchall()  # to the end: an unfinished result blocks the next registration
    return int(rows[0][0]) if rows else 0


def _translate(error: BaseException, batch: pa.Table) -> BaseException:
    """Turn DuckDB's failure into the contract's errors; anything else passes through unchanged."""
    if isinstance(error, duckdb.ConversionException):
        bad = [event_id for event_id in batch.column("id").to_pylist() if not storable_event_id(event_id)]
        if bad:
            return InvalidEventError(f"event id {bad[0]!r} is not a UUID ({len(bad)} such in the batch) — "
                                     "set these events aside; nothing of the batch was stored", bad)
    if isinstance(error, (duckdb.IOException, duckdb.FatalException, duckdb.OutOfMemoryException)):
        return StoreUnavailableError(f"DuckDB write failed, nothing of the batch was stored: {_first_line(error)}")
    return error


def _memory_bytes(text: str) -> float:
    """``"256MB"`` → bytes as DuckDB reads it (MB = 10^6, MiB = 2^20); 0 when it is not an amount."""
    match = _MEMORY.fullmatch(text.strip())
    return float(match.group(1)) * _UNITS[match.group(2).lower()] if match else 0.0


def _slices(batch: pa.Table, detections: pa.Table, limit: int) -> Iterator[tuple[pa.Table, pa.Table]]:
    """The batch in consecutive slices of at most ``limit`` bytes of documents (a larger single event
    forms a slice alone), each with the detections of its events."""
    docs = batch.column("doc")
    if batch.num_rows == 0 or docs.nbytes <= limit:
        yield batch, detections
        return
    sizes = pc.binary_length(docs).to_pylist()
    start, used = 0, 0
    for row, size in enumerate(sizes):
        if used and used + size > limit:
            yield _slice(batch, detections, start, row)
            start, used = row, 0
        used += size
    yield _slice(batch, detections, start, batch.num_rows)


def _slice(batch: pa.Table, detections: pa.Table, start: int, end: int) -> tuple[pa.Table, pa.Table]:
    part = batch.slice(start, end - start)
    if detections.num_rows == 0:
        return part, detections
    return part, detections.filter(pc.is_in(detections.column("event_id"), value_set=part.column("id")))


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
