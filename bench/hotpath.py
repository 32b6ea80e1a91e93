"""CPU cost of the sensor's hot path per request, in process, without sockets or a client.

    .venv/bin/python bench/hotpath.py [--requests N] [--connections C] [--pipeline P] [--path P]
                                      [--profile | --instructions]

Feeds ``GET /owa/auth/logon.aspx`` (wrk's request, browser-like headers) through ``HttpConnection`` with a
fake transport, the way the event loop would: each "loop turn" delivers one read to each of C keep-alive
connections (P pipelined requests per read), then runs the group commit (events written to a real spool
in a temporary directory, then responses "sent"). It prints CPU microseconds per request
(``time.process_time``), which other processes on a shared machine disturb far less than wall-clock
figures such as wrk's. ``--profile`` adds a cProfile listing of the same run. ``--instructions`` counts
instructions per request instead, under valgrind (two runs of different length, the difference divided):
slow, but the same on a busy machine as on an idle one.

This measures our code only: the kernel's socket work and the event loop's own overhead (≈ 14 µs per
request for a bare uvloop echo server) come on top in ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from honeyscope.clock import SystemClock
from honeyscope.config import LimitSettings
from honeyscope.sensor.connection import HttpConnection, ListenerContext
from honeyscope.sensor.http.parser import ParseLimits
from honeyscope.sensor.limits import LimitRecorder
from honeyscope.sensor.personas.base import AttackerStates
from honeyscope.sensor.personas.exchange.persona import ExchangePersona
from honeyscope.sensor.recording import make_observer
from honeyscope.sensor.spool import GroupCommit, SpoolWriter

LOGON = "/owa/auth/logon.aspx"
#: What wrk sends in bench/run.py (its Host header carries the port).
REQUEST = (
    b"GET /owa/auth/logon.aspx HTTP/1.1\r\n"
    b"Host: 127.0.0.1:40123\r\n"
    b"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/120.0.0.0 Safari/537.36\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"\r\n"
)


class FakeTransport:
    """Just enough of an asyncio transport for ``HttpConnection``: counts what is written."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.written = 0
        self.writes = 0
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("203.0.113.7", self.port), "sockname": ("127.0.0.1", 40123)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.written += len(data)
        self.writes += 1

    def writelines(self, data: list[bytes]) -> None:
        self.written += sum(len(part) for part in data)
        self.writes += 1

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Turns:
    """Stands in for ``loop.call_soon``: callbacks run when the harness ends a loop turn."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.pending.append(callback)

    def run(self) -> None:
        pending, self.pending = self.pending, []
        for callback in pending:
            callback()


def build(directory: Path) -> tuple[ListenerContext, Turns, SpoolWriter]:
    """A listener context as ``Sensor`` builds it, with the default limits and the Exchange persona."""
    limits = LimitSettings(max_requests_per_connection=10**9)
    spool = SpoolWriter(directory)
    clock = SystemClock()
    observer = make_observer("bench")
    turns = Turns()
    context = ListenerContext(
        name="127.0.0.1:40123", persona=ExchangePersona(), observer=observer, spool=spool, limits=limits,
        parse_limits=ParseLimits(), clock=clock, states=AttackerStates(),
        recorder=LimitRecorder(spool, clock, observer), commit=GroupCommit(spool, turns.call_soon),
        trusted_proxies=frozenset(), connections=set(),
    )
    return context, turns, spool


def run(requests: int, connections: int, pipeline: int, path: str = LOGON) -> tuple[float, int, int]:
    """CPU seconds, requests answered and events spooled for ``requests`` requests of ``path``."""
    with tempfile.TemporaryDirectory(prefix="honeyscope-hotpath-") as temporary:
        context, turns, spool = build(Path(temporary))
        pairs = []
        for index in range(connections):
            connection = HttpConnection(context)
            transport = FakeTransport(50000 + index)
            connection.connection_made(transport)  # type: ignore[arg-type]
            pairs.append((connection, transport))
        data = REQUEST.replace(LOGON.encode(), path.encode(), 1) * pipeline
        rounds = max(1, requests // (connections * pipeline))
        started = time.process_time()
        for _ in range(rounds):
            for connection, _transport in pairs:
                connection.data_received(data)
            turns.run()
        spent = time.process_time() - started
        answered = sum(t.writes for _, t in pairs) * pipeline
        return spent, answered, spool.written_events


def instructions_per_request(args: argparse.Namespace) -> float | None:
    """Instructions per request under valgrind's callgrind: (count(N2) - count(N1)) / (N2 - N1), which
    leaves out start-up and imports."""
    if shutil.which("valgrind") is None:
        print("valgrind not found (apt-get install valgrind)")
        return None
    counts = []
    sizes: tuple[int, int] = (int(args.requests) // 5, int(args.requests))
    for size in sizes:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
                   "--once", "--requests", str(size), "--connections", str(args.connections),
                   "--pipeline", str(args.pipeline), "--path", args.path]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stderr
        found = re.search(r"Collected : (\d+)", output)
        if found is None:
            print("valgrind printed no instruction count")
            return None
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / (sizes[1] - sizes[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=50, help="keep-alive connections per loop turn")
    parser.add_argument("--pipeline", type=int, default=1, help="requests per read on each connection")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--path", default=LOGON, help=f"request target (default {LOGON})")
    parser.add_argument("--profile", action="store_true", help="print a cProfile listing of one run")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per request under valgrind (try --requests 5000)")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)  # one silent run, for valgrind
    args = parser.parse_args()
    if args.once:
        run(args.requests, args.connections, args.pipeline, args.path)
        return 0
    if args.instructions:
        count = instructions_per_request(args)
        if count is not None:
            print(f"{count:,.0f} instructions per request")
        return 0
    run(2_000, args.connections, args.pipeline, args.path)  # warm caches (templates, regexes, imports)
    best = None
    for _ in range(args.repeat):
        spent, answered, spooled = run(args.requests, args.connections, args.pipeline, args.path)
        per_request = spent / answered * 1e6
        best = per_request if best is None else min(best, per_request)
        print(f"{answered:,} requests ({spooled:,} events spooled): {per_request:.1f} µs CPU per request "
              f"(≈ {1e6 / per_request:,.0f} req/s on one core, before socket and loop costs)", flush=True)
    print(f"best: {best:.1f} µs/request")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(args.requests, args.connections, args.pipeline, args.path)
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
