"""Parquet export layout shared by both backends: ``<dir>/day=YYYY-MM-DD/<file>.parquet`` (hive style).

Files hold the ``events`` columns except ``day``, which readers take from the directory name
(``pyarrow.dataset(..., partitioning="hive")``, DuckDB ``read_parquet(..., hive_partitioning=true)``).
DuckDB writes them with ``COPY ... PARTITION_BY``; for PostgreSQL, rows arrive in chunks ordered by day
and are appended to one open file at a time, so memory stays bounded by the chunk size.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Final

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from honeyscope.store.columns import EVENT_ARROW, Row, rows_table

#: Name of each day's file when honeyscope writes it (DuckDB names its own ``data_0.parquet``).
_FILE: Final = "data_0.parquet"


def prepare_directory(directory: Path) -> Path:
    """Create the export directory; refuse one that already holds files (nothing is overwritten)."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"export directory {directory} is not empty — choose an empty or new directory")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def write_day_partitions(chunks: Iterable[list[Row]], directory: Path) -> list[Path]:
    """Write rows (``EVENT_COLUMNS`` then ``day``), ordered by day, into one file per day."""
    files: list[Path] = []
    writer: pq.ParquetWriter | None = None
    current: date | None = None
    try:
        for chunk in chunks:
            for day, rows in _split_by_day(chunk):
                if day != current:
                    if writer is not None:
                        writer.close()
                    current = day
                    path = directory / f"day={day.isoformat()}" / _FILE
                    path.parent.mkdir(parents=True, exist_ok=True)
                    writer = pq.ParquetWriter(path, EVENT_ARROW, compression="zstd")
                    files.append(path)
                assert writer is not None
                writer.write_table(rows_table(rows, EVENT_ARROW))
    finally:
        if writer is not None:
            writer.close()
    return files


def _split_by_day(chunk: list[Row]) -> Iterable[tuple[date, list[Row]]]:
    start = 0
    for index in range(1, len(chunk) + 1):
        if index == len(chunk) or chunk[index][-1] != chunk[start][-1]:
            yield chunk[start][-1], [row[:-1] for row in chunk[start:index]]
            start = index

