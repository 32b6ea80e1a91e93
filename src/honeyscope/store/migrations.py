"""Versioned schema migrations: numbered SQL steps per backend, applied in order, one transaction each.

``schema_migrations(version, applied_at, description)`` records every step applied. Running the
migrations at every start is safe: applied steps are skipped. A database at a version this code does not
know (written by a newer honeyscope) is refused before anything is touched. Steps are only ever added,
never edited: a released step's SQL is what existing databases ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from honeyscope.store.base import StoreSchemaError


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its number (1, 2, ...), what it does, and its SQL statements."""

    version: int
    description: str
    statements: tuple[str, ...]


def latest_version(migrations: Sequence[Migration]) -> int:
    return migrations[-1].version if migrations else 0


def pending(migrations: Sequence[Migration], current: int, *, where: str) -> list[Migration]:
    """The steps still to apply to a database at ``current``; refuses one newer than the code."""
    numbers = [m.version for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise AssertionError(f"migrations must be numbered 1..n without gaps, got {numbers}")
    latest = latest_version(migrations)
    if current > latest:
        raise StoreSchemaError(
            f"{where} has schema version {current} but this honeyscope knows versions up to {latest} — "
            "it was written by a newer honeyscope: upgrade honeyscope (or point [store] at another database)"
        )
    return [m for m in migrations if m.version > current]
