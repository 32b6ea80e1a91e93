"""Versioned migrations on both backends, and choosing the backend from [store] settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from honeyscope.config import ConfigError, StoreSettings
from honeyscope.store import StoreSchemaError, open_store
from honeyscope.store.base import EventStore
from honeyscope.store.duckdb import DuckDBStore
from honeyscope.store.migrations import Migration, latest_version, pending
from honeyscope.store.postgres import PostgresStore
from honeyscope.store.schema import DUCKDB_MIGRATIONS, POSTGRES_MIGRATIONS


def _sql(store: EventStore, statement: str) -> list[tuple[Any, ...]]:
    """Run SQL on the store's database from outside (another connection, as an operator would)."""
    if isinstance(store, PostgresStore):
        with psycopg.connect(store.dsn, autocommit=True) as conn:
            cursor = conn.execute(statement)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []
    assert isinstance(store, DuckDBStore)
    store.close()  # DuckDB: one connection to the file at a time in this test
    with duckdb.connect(str(store.path)) as conn:
        return conn.execute(statement).fetchall()


def test_a_fresh_database_is_migrated_to_the_latest_version(unmigrated: EventStore) -> None:
    assert unmigrated.schema_version() == 0
    unmigrated.migrate()
    latest = latest_version(POSTGRES_MIGRATIONS if unmigrated.backend == "postgres" else DUCKDB_MIGRATIONS)
    assert unmigrated.schema_version() == latest == 1
    assert unmigrated.count() == 0


def test_migrating_again_changes_nothing(unmigrated: EventStore, build: Any) -> None:
    unmigrated.migrate()
    unmigrated.write([build.http(), build.tls()])
    unmigrated.migrate()
    unmigrated.migrate()
    assert unmigrated.count() == 2
    assert _sql(unmigrated, "SELECT version FROM schema_migrations") == [(1,)]


def test_a_database_from_a_newer_honeyscope_is_refused(unmigrated: EventStore) -> None:
    unmigrated.migrate()
    _sql(unmigrated, "INSERT INTO schema_migrations VALUES (99, TIMESTAMP '2030-01-01 00:00:00', 'from the future')")
    store = DuckDBStore(unmigrated.path) if isinstance(unmigrated, DuckDBStore) else unmigrated
    try:
        with pytest.raises(StoreSchemaError, match=r"schema version 99 .* up to 1 .* upgrade honeyscope"):
            store.migrate()
        assert store.schema_version() == 99
    finally:
        store.close()


def test_migration_steps_must_be_numbered_without_gaps() -> None:
    steps = [Migration(1, "a", ()), Migration(3, "c", ())]
    with pytest.raises(AssertionError, match="without gaps"):
        pending(steps, 0, where="x")
    assert pending(DUCKDB_MIGRATIONS, 0, where="x") == DUCKDB_MIGRATIONS
    assert pending(DUCKDB_MIGRATIONS, 1, where="x") == []


def test_open_store_picks_the_configured_backend(tmp_path: Path, postgres: Any) -> None:
    duck = open_store(StoreSettings(kind="duckdb", path=str(tmp_path / "data" / "h.duckdb")))
    assert isinstance(duck, DuckDBStore) and duck.backend == "duckdb"
    duck.close()
    pg = open_store(StoreSettings(kind="postgres", dsn=postgres.database()))
    assert isinstance(pg, PostgresStore) and pg.backend == "postgres"
    pg.close()


def test_postgres_without_a_dsn_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match=r"store.dsn is missing — set \[store\] dsn") as caught:
        open_store(StoreSettings(kind="postgres"))
    assert "\n" not in str(caught.value)
