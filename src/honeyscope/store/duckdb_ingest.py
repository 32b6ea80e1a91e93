"""DuckDB's ingest SQL: a batch arrives as two Arrow tables built in Python (``columns.ingest_tables``),
``hs_batch`` (one row per event, every column but ``day``) and ``hs_detections`` (one row per detection).

Why Python builds the columns: the collector holds typed events already; flattening them (≈ 2 µs per
event) and converting to Arrow (≈ 3.5 µs) costs less than encoding each event to JSON for DuckDB to parse
back (≈ 14 µs of JSON extraction, on top of the encoding). bench/pipeline.py measured both.
"""

# ruff: noqa: S608 — SQL here is assembled from constants only; values always travel as parameters.

from __future__ import annotations

from typing import Final

from honeyscope.store.columns import EVENT_COLUMNS

#: Table columns in order (``day`` follows ``ts``).
TABLE_COLUMNS: Final = ("id", "ts", "day", *EVENT_COLUMNS[2:])
_FROM_BATCH: Final = {"id": "CAST(id AS UUID)", "day": "CAST(ts AS DATE)"}

#: The batch's events, straight from the Arrow table. The plain INSERT fails on a stored id; it costs half
#: of ``INSERT OR IGNORE`` (which DuckDB plans as a MERGE with a grouping of the batch), so it is tried
#: first and the second is the fallback for redeliveries.
_SELECT_BATCH: Final = (f"({', '.join(TABLE_COLUMNS)}) "
                        f"SELECT {', '.join(_FROM_BATCH.get(name, name) for name in TABLE_COLUMNS)} FROM hs_batch")
INSERT_NEW: Final = f"INSERT INTO events {_SELECT_BATCH}"
INSERT_IF_NEW: Final = f"INSERT OR IGNORE INTO events {_SELECT_BATCH}"

#: Restricts the roll-up and detections to the events found new when a batch partly overlapped.
_NEW_ONLY: Final = "CAST({column} AS UUID) IN (SELECT CAST(id AS UUID) FROM hs_new_ids)"


def rollup_source(filtered: bool) -> str:
    where = "WHERE " + _NEW_ONLY.format(column="id") if filtered else ""
    return f"(SELECT CAST(ts AS DATE) AS day, type, sensor, persona, country, asn, cves FROM hs_batch {where})"


def insert_detections(filtered: bool) -> str:
    where = "WHERE " + _NEW_ONLY.format(column="event_id") if filtered else ""
    return ("INSERT INTO detections (event_id, ordinal, ts, day, rule_id, title, engine, severity, stage, cves, "
            "techniques) SELECT CAST(event_id AS UUID), ordinal, ts, CAST(ts AS DATE), rule_id, title, engine, "
            f"severity, stage, cves, techniques FROM hs_detections {where}")
