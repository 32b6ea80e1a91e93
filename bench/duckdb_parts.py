"""What the DuckDB store's own work costs per event, part by part: the floor under the collector's rate.

    .venv/bin/python bench/duckdb_parts.py [--events 100000] [--batch 5000]

Events come from bench/store_events.py, are flattened into the ingest's Arrow tables beforehand (not
timed), then inserted with the store's own SQL (``duckdb_ingest``: INSERT of the batch, the daily roll-up
upsert, one transaction per batch) into a fresh file per variant. Each variant changes one thing:
the ``doc`` column emptied, no primary key, no roll-up, one DuckDB thread, an in-memory database (no WAL
and no checkpoint). Printed: CPU µs per event of this process (every thread, DuckDB's included) for the
inserts, and with the final checkpoint at close, plus the file size. Nothing passes or fails.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
from store_events import synthetic_events

from honeyscope.store.columns import ingest_tables
from honeyscope.store.duckdb import CHECKPOINT_THRESHOLD, MEMORY_LIMIT
from honeyscope.store.duckdb_ingest import INSERT_NEW, rollup_source
from honeyscope.store.schema import DUCKDB_MIGRATIONS
from honeyscope.store.sql import rollup_upsert

Statement = Callable[[str], str]


def _same(statement: str) -> str:
    return statement


def _no_key(statement: str) -> str:
    return statement.replace("id UUID PRIMARY KEY", "id UUID")


def run(tables: list[pa.Table], *, threads: int | None = None, memory: bool = False, rollup: bool = True,
        doc: bool = True, schema: Statement = _same) -> dict[str, float]:
    events = sum(table.num_rows for table in tables)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "e.duckdb"
        con = duckdb.connect(":memory:" if memory else str(path))
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        if threads:
            con.execute(f"SET threads = {threads}")
        for statement in DUCKDB_MIGRATIONS[0].statements:
            con.execute(schema(statement))
        started = time.process_time()
        for table in tables:
            batch = table if doc else table.set_column(
                table.num_columns - 1, "doc", pa.array([b""] * table.num_rows, pa.large_binary()))
            con.register("hs_batch", batch)
            con.begin()
            con.execute(INSERT_NEW)
            if rollup:
                con.execute(rollup_upsert(rollup_source(False)))
            con.commit()
            con.unregister("hs_batch")
        inserted = time.process_time() - started
        con.close()
        closed = time.process_time() - started
        size = path.stat().st_size if path.exists() else 0
    return {"insert_us": inserted / events * 1e6, "with_close_us": closed / events * 1e6, "file_mb": size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000, help="events per transaction (the collector's default)")
    args = parser.parse_args()
    events = list(synthetic_events(args.events))
    tables = [ingest_tables(events[start:start + args.batch])[0] for start in range(0, len(events), args.batch)]
    docs = sum(table.column("doc").nbytes for table in tables) / len(events)
    print(f"{len(events):,} events of {docs:,.0f} doc bytes on average, batches of {args.batch:,}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    variants: list[tuple[str, Callable[[], dict[str, float]]]] = [
        ("as the store writes (all threads)", lambda: run(tables)),
        ("one DuckDB thread", lambda: run(tables, threads=1)),
        ("one thread, doc column empty", lambda: run(tables, threads=1, doc=False)),
        ("one thread, no primary key", lambda: run(tables, threads=1, schema=_no_key)),
        ("one thread, no roll-up", lambda: run(tables, threads=1, rollup=False)),
        ("one thread, in memory (no WAL, no checkpoint)", lambda: run(tables, threads=1, memory=True)),
        ("one thread, no doc / key / roll-up", lambda: run(tables, threads=1, doc=False, schema=_no_key,
                                                            rollup=False)),
    ]
    print(f"{'variant':48} {'insert µs/event':>16} {'+ checkpoint':>13} {'file MB':>8}")
    for name, measure in variants:
        result = measure()
        print(f"{name:48} {result['insert_us']:16.1f} {result['with_close_us']:13.1f} {result['file_mb']:8.0f}",
              flush=True)


if __name__ == "__main__":
    main()
