"""SQL shared by both backends: the roll-up upsert, daily pair counts, query filters and UTC time handling.

Both dialects take the same text; only the parameter placeholder (``?`` for DuckDB, ``%s`` for
psycopg) and the list-membership test differ, and are passed in.
"""

# ruff: noqa: S608 — SQL here is assembled from constants only; values always travel as parameters.

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from honeyscope.store.base import Dimension, EventQuery

#: The roll-up rows one new event contributes, one SELECT per dimension. Empty or missing values are not
#: counted (a private address has no country); ``cve`` gives one row per CVE of the event.
_KEYED = """
    SELECT day, type, 'country' AS dimension, country AS key FROM {src} WHERE country IS NOT NULL AND country <> ''
    UNION ALL SELECT day, type, 'asn', CAST(asn AS VARCHAR) FROM {src} WHERE asn IS NOT NULL
    UNION ALL SELECT day, type, 'persona', persona FROM {src} WHERE persona IS NOT NULL AND persona <> ''
    UNION ALL SELECT day, type, 'sensor', sensor FROM {src}
    UNION ALL SELECT day, type, 'type', type FROM {src}
    UNION ALL SELECT day, type, 'cve', unnest(cves) FROM {src}
"""


def rollup_upsert(source: str) -> str:
    """Add the events of relation ``source`` (columns day, type, sensor, persona, country, asn, cves) to
    ``daily_rollup``. Keys are upserted in sorted order so that concurrent PostgreSQL writers lock
    roll-up rows in the same order and cannot deadlock."""
    return f"""
INSERT INTO daily_rollup (dimension, day, type, key, events)
SELECT dimension, day, type, key, count(*) FROM ({_KEYED.format(src=source)}) AS keyed
GROUP BY dimension, day, type, key
ORDER BY dimension, day, type, key
ON CONFLICT (dimension, day, type, key) DO UPDATE SET events = daily_rollup.events + excluded.events
"""


def utc_naive(moment: datetime) -> datetime:
    """The stored form of a time: UTC without tzinfo (naive input is taken as UTC already)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def day_bounds(start: datetime | None, end: datetime | None) -> tuple[date | None, date | None]:
    """Whole UTC days touching ``[start, end)``: first day inclusive, last bound exclusive."""
    first = utc_naive(start).date() if start is not None else None
    stop: date | None = None
    if end is not None:
        naive = utc_naive(end)
        stop = naive.date() if naive.time() == time(0) else naive.date() + timedelta(days=1)
    return first, stop


def rollup_where(dimension: Dimension, start: datetime | None, end: datetime | None,
                 event_type: str | None, ph: str) -> tuple[str, list[Any]]:
    """WHERE clause and parameters selecting roll-up rows."""
    first, stop = day_bounds(start, end)
    clauses: list[str] = [f"dimension = {ph}"]
    params: list[Any] = [dimension]
    for clause, value in ((f"day >= {ph}", first), (f"day < {ph}", stop), (f"type = {ph}", event_type)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return " AND ".join(clauses), params


#: Each dimension as an ``events`` expression, and the condition for an event to have a value — the same
#: values as ``_KEYED`` counts in the roll-up. ``unnest`` in the select list (both engines allow it) gives
#: one row per CVE and none for an event without any.
_PAIR_VALUES: Final[dict[Dimension, tuple[str, str | None]]] = {
    "country": ("country", "country IS NOT NULL AND country <> ''"),
    "asn": ("CAST(asn AS VARCHAR)", "asn IS NOT NULL"),
    "persona": ("persona", "persona IS NOT NULL AND persona <> ''"),
    "sensor": ("sensor", None),
    "type": ("type", None),
    "cve": ("unnest(cves)", None),
}


def pair_counts(first: Dimension, second: Dimension, start: datetime | None, end: datetime | None,
                event_type: str | None, ph: str) -> tuple[str, list[Any]]:
    """One grouped query over ``events`` counting (day, first value, second value), with its parameters.

    The days are those ``daily_counts`` selects, as a range of ``ts`` (an index range on PostgreSQL, zone
    maps on DuckDB; ``day`` is ``ts``'s date)."""
    unknown = [name for name in (first, second) if name not in _PAIR_VALUES]
    if unknown or first == second:
        raise ValueError(f"{first} × {second}: a pair needs two different dimensions of "
                         f"{', '.join(_PAIR_VALUES)}")
    (value1, has1), (value2, has2) = _PAIR_VALUES[first], _PAIR_VALUES[second]
    clauses = [clause for clause in (has1, has2) if clause is not None]
    params: list[Any] = []
    day_from, day_stop = day_bounds(start, end)
    for clause, bound in ((f"ts >= {ph}", day_from), (f"ts < {ph}", day_stop)):
        if bound is not None:
            clauses.append(clause)
            params.append(datetime.combine(bound, time(0)))
    if event_type is not None:
        clauses.append(f"type = {ph}")
        params.append(event_type)
    where = " AND ".join(clauses) or "TRUE"
    return (f"SELECT day, k1, k2, count(*) FROM (SELECT day, {value1} AS k1, {value2} AS k2 FROM events "
            f"WHERE {where}) AS pairs GROUP BY day, k1, k2 ORDER BY day, k1, k2"), params


def time_where(start: datetime | None, end: datetime | None, ph: str) -> tuple[list[str], list[Any]]:
    """Clauses for ``start <= ts < end`` (either may be open)."""
    clauses: list[str] = []
    params: list[Any] = []
    if start is not None:
        clauses.append(f"ts >= {ph}")
        params.append(utc_naive(start))
    if end is not None:
        clauses.append(f"ts < {ph}")
        params.append(utc_naive(end))
    return clauses, params


def event_where(query: EventQuery, ph: str, has_cve: Callable[[str], str]) -> tuple[str, list[Any]]:
    """WHERE clause (``TRUE`` when unfiltered) and parameters for an ``EventQuery``."""
    clauses, params = time_where(query.start, query.end, ph)
    for column, value in (("source_ip", query.source_ip), ("country", query.country), ("persona", query.persona),
                          ("session_id", query.session_id), ("type", query.event_type)):
        if value is not None:
            clauses.append(f"{column} = {ph}")
            params.append(value)
    if query.cve is not None:
        clauses.append(has_cve(ph))
        params.append(query.cve)
    return (" AND ".join(clauses) or "TRUE"), params


def event_order(query: EventQuery) -> str:
    direction = "DESC" if query.descending else "ASC"
    return f"ORDER BY ts {direction}, id {direction}"
