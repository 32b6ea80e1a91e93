"""Dashboard benchmark: latency of the overview API (and the live feed and a source drill-down) over a large store.

    .venv/bin/python bench/web.py                          # DuckDB 1M and 3M events, PostgreSQL 1M (~10 min)
    .venv/bin/python bench/web.py --duckdb 10000000        # the 10M-event target (~5 min, 0.9 GB of disk)
    .venv/bin/python bench/web.py --duckdb 1000000 --postgres 0
    .venv/bin/python bench/web.py --duckdb 10000000 --postgres 0 --keep /var/tmp/hs-bench   # reuse the filled file

Rows are generated inside the database with SQL straight into the store's schema (``events`` and the
``daily_rollup`` it keeps), 90 days, time-ordered as a collector writes them; every row carries the same
valid event document (decoding is what ``events()`` pays per row returned, not per row stored). Then the
real app (``create_app``) answers requests through Starlette's TestClient — routing, authentication
middleware, security headers, the store thread and JSON encoding included, no network — after one warm-up
request (the overview's event-reading part is cached for a minute; its uncached cost is printed first):
``GET /api/overview`` (the default 30 days) as a dashboard re-reads it while no event arrives (its roll-up
answer is reused while the period's roll-up counts are unchanged), the same with that reuse switched off
("new events": as when the collector stores events between requests), ``GET /api/live`` (newest 50) and
``GET /api/events?source=…`` (the busiest address's newest 100). Prints p50/p95/p99/max and this process's
CPU per request (less disturbed by other load than wall time; PostgreSQL's server CPU is not in it); nothing
passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from honeyscope.events import encode_event
from honeyscope.events.ids import new_event_id
from honeyscope.events.schema import Endpoint as EndpointStruct
from honeyscope.events.schema import EventMeta, Honeyscope, HsConnection, HttpRequestEvent, Observer
from honeyscope.store.base import EventStore
from honeyscope.store.duckdb import DuckDBStore
from honeyscope.store.sql import rollup_upsert
from honeyscope.web import WebSettings, create_app, queries
from honeyscope.web.settings import AccessPolicy

HERE = Path(__file__).resolve().parent
START = datetime(2021, 1, 1)
DAYS = 90
SOURCES = 250_000
COUNTRIES = ["CN", "US", "RU", "NL", "DE", "IR", "BG", "HK", "KR", "IN", "BR", "VN", "FR", "GB", "SG", "TW", "JP",
             "UA", "ID", "TR", "RO", "PL", "CA", "IT", "ES", "SE", "CH", "TH", "AR", "MX"]
CVES = ["CVE-2021-26855", "CVE-2021-27065", "CVE-2021-34473", "CVE-2020-0688", "CVE-2022-41040", "CVE-2021-33766"]
PATHS = ["/owa/auth/logon.aspx", "/ecp/y.js", "/autodiscover/autodiscover.json", "/owa/auth/x.js", "/mapi/nspi/",
         "/ecp/default.flt", "/aspnet_client/shell.aspx", "/powershell/", "/", "/EWS/Exchange.asmx"]
AGENTS = ["Mozilla/5.0 zgrab/0.x", "python-requests/2.25.1", "ExchangeServicesClient/0.0.0.0", "curl/7.68.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Go-http-client/1.1", "Nuclei - Open-source project"]
OPEN = AccessPolicy(host="127.0.0.1", port=0, loopback=True, token_hash=None, tls=False)


def template_doc() -> bytes:
    event = HttpRequestEvent(
        timestamp=datetime(2021, 3, 1, tzinfo=UTC), event=EventMeta(id=new_event_id()),
        observer=Observer(name="decoy-1"), source=EndpointStruct(ip="1.0.0.1", port=50000),
        destination=EndpointStruct(ip="10.0.0.5", port=443),
        honeyscope=Honeyscope(persona="exchange", connection=HsConnection(id="c1")))
    return encode_event(event)


def _list(values: list[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def select_rows(count: int, *, postgres: bool) -> str:
    """One SELECT producing ``count`` rows in the ``events`` column order (doc is parameter 1)."""
    seconds = DAYS * 86400
    if postgres:
        pick = "({arr})[1 + ({expr}) % {n}]"
        i, series = "g", f"generate_series(0::bigint, {count - 1}) AS g"
        ts = f"timestamp '{START:%Y-%m-%d}' + (g * {seconds}.0 / {count}) * interval '1 second'"
        uid = "gen_random_uuid()"
        arr = lambda values: "ARRAY" + _list(values)  # noqa: E731
        cves = (f"CASE WHEN g % 3 = 0 THEN ARRAY[(ARRAY{_list(CVES)})[1 + (g / 3) % {len(CVES)}]] "
                "ELSE ARRAY[]::text[] END")
    else:
        pick = "{arr}[1 + ({expr}) % {n}]"
        i, series = "range", f"range({count})"
        ts = f"TIMESTAMP '{START:%Y-%m-%d}' + to_microseconds(CAST(range * {seconds}.0 / {count} * 1e6 AS BIGINT))"
        uid = "uuid()"
        arr = _list
        cves = f"CASE WHEN range % 3 = 0 THEN [{_list(CVES)}[1 + (range // 3) % {len(CVES)}]] ELSE [] END"
    # Sources are skewed (a few addresses send most events); country and AS follow the address.
    source = f"(CASE WHEN {i} % 10 < 3 THEN {i} % 50 ELSE ({i} * 7919) % 1000003 % {SOURCES} END)"
    src = lambda values, n=None: pick.format(arr=arr(values), expr=source, n=n or len(values))  # noqa: E731
    other = lambda values: pick.format(arr=arr(values), expr=i, n=len(values))  # noqa: E731
    columns = [
        uid, ts, f"CAST({ts} AS DATE)", "'http.request'", f"'decoy-' || ({i} % 5)", "'exchange'",
        f"'1.' || ({source} / 65536) || '.' || ({source} / 256 % 256) || '.' || ({source} % 256)",
        "50000", "443", src(COUNTRIES), f"(64500 + {source} % 400)", f"'AS-' || ({source} % 400)", "'public'",
        "NULL", "'POST'", other(PATHS), "NULL", "200", other(AGENTS), "'owa.logon'", "NULL", "NULL",
        f"'c' || {i}", "NULL", f"CASE WHEN {i} % 3 = 0 THEN 'high' END", cves,
        f"decode('{template_doc().hex()}', 'hex')" if postgres else "?",
    ]
    return f"SELECT {', '.join(columns)} FROM {series}"


def fill_duckdb(store: DuckDBStore, count: int) -> None:
    con = store._con  # the bench writes through SQL directly, on the store's own connection
    doc = template_doc()
    chunk = 1_000_000
    for offset in range(0, count, chunk):
        n = min(chunk, count - offset)
        # Rows offset..offset+n of the whole run, so the time axis spans all chunks in order.
        sql = select_rows(count, postgres=False).replace(f"range({count})", f"range({offset}, {offset + n})")
        con.execute(f"INSERT INTO events {sql}", [doc])
        print(f"    {offset + n:,} rows", flush=True)
    con.execute(rollup_upsert("(SELECT day, type, sensor, persona, country, asn, cves FROM events)"))
    con.execute("CHECKPOINT")


def fill_postgres(store: Any, count: int) -> None:
    def work(conn: Any) -> None:
        with conn.transaction():
            conn.execute(f"INSERT INTO events {select_rows(count, postgres=True)}")
            conn.execute(rollup_upsert("(SELECT day, type, sensor, persona, country, asn, cves FROM events)"))
        conn.execute("ANALYZE events")
        conn.execute("ANALYZE daily_rollup")

    store._run(work)  # the store's own connection


def measure(client: TestClient, path: str, repeat: int) -> dict[str, float]:
    response = client.get(path)  # warm: first use of the store thread, caches of the database
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    samples = []
    cpu = time.process_time()
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    cpu_ms = (time.process_time() - cpu) * 1000 / repeat  # this process's CPU (all threads) per request
    cuts = statistics.quantiles(samples, n=100) if len(samples) >= 20 else [max(samples)] * 99
    return {"p50_ms": round(statistics.median(samples), 1), "p95_ms": round(cuts[94], 1), "p99_ms": round(cuts[98], 1),
            "max_ms": round(max(samples), 1), "cpu_ms": round(cpu_ms, 1)}


def run(name: str, store: EventStore, count: int, fill: Callable[[Any, int], None], repeat: int) -> dict[str, Any]:
    started = time.perf_counter()
    store.migrate()
    held = store.count()
    if held == count:
        print(f"{name}: reusing the {count:,} events already in the store", flush=True)
    elif held:
        raise SystemExit(f"{name}: the store holds {held:,} events, not {count:,}: delete it (an interrupted fill?)")
    else:
        print(f"{name}: generating {count:,} events over {DAYS} days …", flush=True)
        fill(store, count)
    print(f"{name}: filled in {time.perf_counter() - started:.0f} s; {store.size_bytes() / 1e6:,.0f} MB; "
          f"count() = {store.count():,}", flush=True)
    figures: dict[str, dict[str, float]] = {}
    span = queries.period(store, None, None)
    cold = []
    for _ in range(5):  # what the overview pays once a minute: event reads, uncached
        start = time.perf_counter()
        queries.recent(store, span)
        cold.append((time.perf_counter() - start) * 1000)
    figures["overview, uncached part"] = {"p50_ms": round(statistics.median(cold), 1), "max_ms": round(max(cold), 1)}
    print(f"  {name} {count:>11,} events  {'overview, uncached part':<22} p50 {statistics.median(cold):7.1f} ms  "
          f"max {max(cold):7.1f} ms (newest event, busiest sources of 24 h, lifecycle reports)", flush=True)
    app = create_app(store, WebSettings(), policy=OPEN)
    client = TestClient(app, base_url="http://127.0.0.1")
    for label, path in (("overview", "/api/overview"), ("overview, new events", "/api/overview"),
                        ("live", "/api/live"), ("events of one source", "/api/events?source=1.0.0.1&limit=100")):
        # "new events": as when the collector stores events between requests, so the roll-up answer
        # cannot be reused (only the minute-long cache of the event-reading part helps).
        overviews = getattr(app.state.honeyscope, "overviews", None)  # absent before the reuse existed
        if overviews is None and label == "overview, new events":
            continue
        if overviews is not None:
            overviews.clear()
            overviews.seconds = 0 if label == "overview, new events" else 60
        result = measure(client, path, repeat)
        figures[label] = result
        print(f"  {name} {count:>11,} events  {label:<22} p50 {result['p50_ms']:7.1f} ms  "
              f"p95 {result['p95_ms']:7.1f} ms  p99 {result['p99_ms']:7.1f} ms  max {result['max_ms']:7.1f} ms  "
              f"CPU {result['cpu_ms']:6.1f} ms/request",
              flush=True)
    client.close()
    return {"backend": name, "events": count, "latency": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duckdb", type=int, nargs="*", default=[1_000_000, 3_000_000], metavar="N",
                        help="DuckDB store sizes (default 1M and 3M)")
    parser.add_argument("--postgres", type=int, default=1_000_000, metavar="N", help="PostgreSQL size (0 skips)")
    parser.add_argument("--repeat", type=int, default=40, help="timed requests per endpoint (default 40)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the DuckDB files in DIR and reuse one that already holds N events (filling "
                             "10M takes ~5 min); PostgreSQL is always filled afresh")
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="honeyscope-bench-web-") as scratch:
        root = args.keep or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        for count in args.duckdb:
            store = DuckDBStore(root / f"web-{count}.duckdb")
            try:
                results.append(run("duckdb", store, count, fill_duckdb, args.repeat))
            finally:
                store.close()
                if args.keep is None:
                    for suffix in ("", ".wal"):
                        Path(root, f"web-{count}.duckdb{suffix}").unlink(missing_ok=True)
    if args.postgres:
        results.append(run_postgres(args.postgres, args.repeat))
    out = HERE / "results" / "web.json"
    out.parent.mkdir(exist_ok=True)
    print(f"load average at the end {os.getloadavg()}", flush=True)
    out.write_text(json.dumps({"load_average": os.getloadavg(), "runs": results}, indent=1, default=str))
    print(f"results: {out}")
    return 0


def run_postgres(count: int, repeat: int) -> dict[str, Any]:
    from honeyscope.store.postgres import PostgresStore
    from honeyscope.testing.postgres import PostgresServer, PostgresUnavailableError

    try:
        server = PostgresServer(fsync=True)
        server.start()
    except PostgresUnavailableError as error:
        print(f"postgres: skipped ({error})")
        return {"backend": "postgres", "skipped": str(error)}
    try:
        store = PostgresStore(server.dsn)
        try:
            return run("postgres", store, count, fill_postgres, repeat)
        finally:
            store.close()
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
