"""DuckDB's ingest SQL: the event columns are taken from each event's JSON *inside DuckDB*.

Why: flattening ~25 fields per event in Python (``columns.stage``) and converting them to Arrow costs more
than encoding the event itself; DuckDB's JSON reader does the same work in C++ without holding the GIL,
so the collector's Python thread only encodes events (bench/store.py prints both paths). The SQL must
give exactly what ``columns.stage`` gives (PostgreSQL's path); a test compares the two column by column.

Because events are encoded with ``omit_defaults``, a field at its default is absent from the JSON: the
few defaults that carry meaning are restored here (``network`` "public", a detection's ``severity``
"medium" and ``engine`` "sigma").
"""

# ruff: noqa: S608 — SQL here is assembled from constants only; values always travel as parameters.

from __future__ import annotations

from typing import Final

from honeyscope.store.columns import EVENT_COLUMNS, NUL_REPLACEMENT, SEVERITY_ORDER

#: JSON paths read from every event, in one pass (``json_extract_string`` with a list of paths).
_PATHS: Final = {
    "ts": '$."@timestamp"',
    "type": "$.type",
    "sensor": "$.observer.name",
    "persona": "$.honeyscope.persona",
    "source_ip": "$.source.ip",
    "source_port": "$.source.port",
    "destination_port": "$.destination.port",
    "country": "$.source.geo.country_iso_code",
    "asn": "$.source.as.number",
    "as_org": "$.source.as.organization.name",
    "enrichment": "$.honeyscope.enrichment",
    "network": "$.honeyscope.enrichment.network",
    "scanner": "$.honeyscope.enrichment.scanner",
    "method": "$.http.request.method",
    "path": "$.url.path",
    "query": "$.url.query",
    "status": "$.http.response.status_code",
    "user_agent": "$.user_agent.original",
    "route": "$.honeyscope.route",
    "stage": "$.honeyscope.stage",
    "ja4": "$.honeyscope.tls.ja4",
    "connection_id": "$.honeyscope.connection.id",
    "limit_connection_id": "$.honeyscope.limit.connection_id",
    "session_id": "$.honeyscope.session_id",
    "detections": "$.honeyscope.detections",
}
_INDEX: Final = {name: position for position, name in enumerate(_PATHS, start=1)}

#: The detection fields kept, as DuckDB's ``json_transform`` structure.
DETECTIONS_TYPE: Final = ("STRUCT(rule_id VARCHAR, title VARCHAR, engine VARCHAR, severity VARCHAR, stage VARCHAR, "
                          "cves VARCHAR[], techniques VARCHAR[])[]")
_DETECTIONS_SHAPE: Final = ('[{"rule_id":"VARCHAR","title":"VARCHAR","engine":"VARCHAR","severity":"VARCHAR",'
                            '"stage":"VARCHAR","cves":["VARCHAR"],"techniques":["VARCHAR"]}]')
_LEVELS: Final = "[" + ", ".join(f"'{level}'" for level in SEVERITY_ORDER) + "]"


def _j(name: str) -> str:
    return f"j[{_INDEX[name]}]"


def _clean(expression: str) -> str:
    return f"replace({expression}, chr(0), '{NUL_REPLACEMENT}')"


def _text(name: str, *, empty_is_null: bool = False) -> str:
    value = f"nullif({_j(name)}, '')" if empty_is_null else _j(name)
    return _clean(value)


_TS: Final = f"CAST(CAST({_j('ts')} AS TIMESTAMPTZ) AS TIMESTAMP)"
_FIRST_STAGE: Final = "list_filter(list_transform(dets, lambda d: d.stage), lambda s: s IS NOT NULL AND s <> '')[1]"
_COLUMN_SQL: Final = {
    "id": "CAST(id AS UUID)",
    "ts": _TS,
    "day": f"CAST({_TS} AS DATE)",
    "type": _j("type"),
    "sensor": _text("sensor"),
    "persona": _text("persona", empty_is_null=True),
    "source_ip": _text("source_ip"),
    "source_port": f"CAST({_j('source_port')} AS INTEGER)",
    "destination_port": f"CAST({_j('destination_port')} AS INTEGER)",
    "country": _text("country"),
    "asn": f"CAST({_j('asn')} AS BIGINT)",
    "as_org": _text("as_org"),
    "network": f"CASE WHEN {_j('enrichment')} IS NOT NULL THEN coalesce({_text('network')}, 'public') END",
    "scanner": _text("scanner"),
    "method": _text("method"),
    "path": _text("path", empty_is_null=True),
    "query": _text("query"),
    "status": f"CAST({_j('status')} AS INTEGER)",
    "user_agent": _text("user_agent"),
    "route": _text("route", empty_is_null=True),
    "stage": f"coalesce({_text('stage', empty_is_null=True)}, {_clean(_FIRST_STAGE)})",
    "ja4": _text("ja4"),
    "connection_id": _clean(f"coalesce({_j('connection_id')}, {_j('limit_connection_id')})"),
    "session_id": _text("session_id"),
    "severity": (f"{_LEVELS}[list_max(list_transform(dets, lambda d: "
                 f"list_position({_LEVELS}, coalesce(d.severity, 'medium'))))]"),
    "cves": (f"list_sort(list_distinct(flatten(list_transform(coalesce(dets, []), "
             f"lambda d: list_transform(coalesce(d.cves, []), lambda c: {_clean('c')})))))"),
}

#: Table columns in order (``day`` follows ``ts``); the staging table has all but ``doc``.
TABLE_COLUMNS: Final = ("id", "ts", "day", *EVENT_COLUMNS[2:])
_STAGED_COLUMNS: Final = tuple(name for name in TABLE_COLUMNS if name != "doc")

#: The per-connection staging table: the events' columns (but the doc, which is copied once, straight
#: from the batch into ``events``) plus their parsed detections.
CREATE_STAGING: Final = (
    "CREATE TEMP TABLE IF NOT EXISTS hs_staged AS SELECT * EXCLUDE (doc) FROM events LIMIT 0",
    f"ALTER TABLE hs_staged ADD COLUMN IF NOT EXISTS dets {DETECTIONS_TYPE}",
)

_PATH_LIST: Final = "[" + ", ".join(f"'{path}'" for path in _PATHS.values()) + "]"

#: ``hs_batch`` (id text, doc blob) → ``hs_staged``: one JSON parse per event for all columns.
STAGE_BATCH: Final = f"""
INSERT INTO hs_staged ({', '.join(_STAGED_COLUMNS)}, dets)
SELECT {', '.join(_COLUMN_SQL[name] for name in _STAGED_COLUMNS)}, dets
FROM (SELECT id, j, json_transform({_j('detections')}, '{_DETECTIONS_SHAPE}') AS dets
      FROM (SELECT id, json_extract_string(decode(doc), {_PATH_LIST}) AS j FROM hs_batch))
"""

#: Staged columns joined back to their doc by id (a hash join of two batch-sized tables). The plain
#: INSERT fails on a stored id; it costs half of ``INSERT OR IGNORE`` (which DuckDB plans as a MERGE with a
#: grouping of the batch), so it is tried first and the second is the fallback for redeliveries.
_SELECT_STAGED: Final = (
    f"({', '.join(TABLE_COLUMNS)}) "
    f"SELECT {', '.join('b.doc' if name == 'doc' else 's.' + name for name in TABLE_COLUMNS)} "
    "FROM hs_staged s JOIN hs_batch b ON s.id = CAST(b.id AS UUID)"
)
INSERT_NEW: Final = f"INSERT INTO events {_SELECT_STAGED}"
INSERT_IF_NEW: Final = f"INSERT OR IGNORE INTO events {_SELECT_STAGED}"

#: Restricts the roll-up and detections to the events found new when a batch partly overlapped.
_NEW_ONLY: Final = "id IN (SELECT CAST(id AS UUID) FROM hs_new_ids)"


def rollup_source(filtered: bool) -> str:
    where = f"WHERE {_NEW_ONLY}" if filtered else ""
    return f"(SELECT day, type, sensor, persona, country, asn, cves FROM hs_staged {where})"


def insert_detections(filtered: bool) -> str:
    where = f"AND {_NEW_ONLY}" if filtered else ""
    clean = _clean
    return f"""
INSERT INTO detections
SELECT id, ordinal - 1, ts, day, {clean('d.rule_id')}, {clean('d.title')}, {clean("coalesce(d.engine, 'sigma')")},
       {clean("coalesce(d.severity, 'medium')")}, {clean('d.stage')},
       list_transform(coalesce(d.cves, []), lambda c: {clean('c')}),
       list_transform(coalesce(d.techniques, []), lambda t: {clean('t')})
FROM (SELECT id, ts, day, unnest(dets) AS d, unnest(range(1, len(dets) + 1)) AS ordinal
      FROM hs_staged WHERE dets IS NOT NULL {where})
"""
