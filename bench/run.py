"""honeyscope benchmarks: figures side by side with a baseline measured in the same run, never pass/fail.

    .venv/bin/python bench/run.py [--duration S] [--only throughput,memory,tls]

(a) requests/s for ``GET /owa/auth/logon.aspx`` with full capture to the spool, sensor on CPU 0, wrk on
    CPU 1, beside nginx (1 worker, sendfile off, access log on) serving the same bytes and headers;
(b) sensor RSS idle and with 10k open connections (then with a 1 KiB partial head on each);
(c) full TLS handshakes/s on the sensor's HTTPS listener beside nginx with the same certificate and key.

Everything listens on 127.0.0.1 only and every run is bounded in time. Results are printed and written to
bench/results/latest.json (gitignored). See bench/README.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from honeyscope.testing.live import terminate

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"
LOGON = "/owa/auth/logon.aspx"
HOST = "127.0.0.1"
SERVER_CPU, CLIENT_CPU = 0, 1
#: Browser-like request headers (what a scanner imitating a browser sends), used for both servers.
WRK_HEADERS = [
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language: en-US,en;q=0.9",
    "Accept-Encoding: gzip, deflate",
]
TARGETS = {"throughput_ratio": 0.5, "rss_idle_mb": 60, "rss_10k_mb": 200}
FLOOD = 10_000


@dataclass
class Report:
    """Figures collected so far; printed as a table and saved as JSON."""

    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    data: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def row(self, figure: str, sensor: str, baseline: str = "", ratio: str = "", target: str = "") -> None:
        self.rows.append((figure, sensor, baseline, ratio, target))
        print(f"  {figure}: {sensor}" + (f" | baseline {baseline}" if baseline else "")
              + (f" | ratio {ratio}" if ratio else "") + (f" | target {target}" if target else ""), flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def client_bound(self, figure: str, ours: CpuUse, theirs: CpuUse) -> None:
        """Say so when the client CPU, not the server, limited a run (its figure is then a lower bound)."""
        for name, use, ratio in (("honeyscope", ours, "a lower"), ("baseline", theirs, "an upper")):
            if use.client >= 85 and use.server < 95:
                self.note(f"{figure}, {name}: the client CPU was {use.client:.0f}% busy and the server CPU "
                          f"{use.server:.0f}%: client-bound, so this figure is a lower bound and the ratio "
                          f"{ratio} bound")

    def table(self) -> str:
        header = ("figure", "honeyscope", "baseline", "ratio", "target")
        widths = [max(len(r[i]) for r in [header, *self.rows]) for i in range(5)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in [header, *self.rows]]
        return "\n".join(lines)


# -- processes -----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def pinned(cpu: int | None, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if cpu is not None and shutil.which("taskset") else command


@dataclass
class Sensor:
    process: subprocess.Popen[bytes]
    urls: list[str]
    directory: Path

    def address(self, scheme: str) -> tuple[str, int]:
        url = next(u for u in self.urls if u.startswith(scheme + "://"))
        return HOST, int(url.rsplit(":", 1)[1])

    @property
    def rss_mb(self) -> float:
        return float(psutil.Process(self.process.pid).memory_info().rss) / 2**20

    def spool_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.directory / "spool").glob("segment-*.jsonl"))

    def spool_events(self) -> int:
        count = 0
        for path in (self.directory / "spool").glob("segment-*.jsonl"):
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    count += chunk.count(b"\n")
        return count


@contextlib.contextmanager
def sensor(directory: Path, *, https: bool = False, cpu: int | None = None, config: str = "") -> Iterator[Sensor]:
    """Start ``honeyscope sensor`` on loopback (any free port), optionally pinned to one CPU."""
    directory.mkdir(parents=True, exist_ok=True)
    ready = directory / "ready.txt"
    command = [sys.executable, "-m", "honeyscope", "sensor", "--http", f"{HOST}:0",
               "--spool", str(directory / "spool"), "--state", str(directory / "state"),
               "--name", "bench", "--ready-file", str(ready)]
    if https:
        command += ["--https", f"{HOST}:0"]
    if config:
        (directory / "bench.toml").write_text(config, encoding="utf-8")
        command += ["--config", str(directory / "bench.toml")]
    with (directory / "sensor.log").open("wb") as log:
        process = subprocess.Popen(pinned(cpu, command), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text().endswith("\n")):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sensor did not start: {(directory / 'sensor.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield Sensor(process, ready.read_text().split(), directory)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    terminate(process)


def fetch(address: tuple[str, int], path: str, *, tls: bool = False) -> tuple[int, list[tuple[str, str]], bytes]:
    """One ``GET`` with Connection: close: status, headers in order, body."""
    with socket.create_connection(address, timeout=10) as plain:
        sock: socket.socket = plain
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(plain, server_hostname="mail.contoso.com")
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: mail.contoso.com\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines)]
    return int(status_line.split()[1]), headers, body


NGINX_CONF = """
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 20000; }}
http {{
    access_log {dir}/access.log;
    sendfile off;
    tcp_nopush off;
    keepalive_requests 1000000;
    server_tokens off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    types {{ }}
    default_type "{content_type}";
    server {{
        listen {host}:{port};
        root {dir}/www;
        location / {{
{headers}
        }}
    }}
    server {{
        listen {host}:{tls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols {protocol};
        ssl_ciphers {cipher};
        ssl_prefer_server_ciphers on;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / {{ return 200 "ok"; }}
    }}
}}
"""


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    port: int
    tls_port: int


@contextlib.contextmanager
def nginx(directory: Path, body: bytes, headers: list[tuple[str, str]], cert: Path, key: Path,
          cpu: int | None, *, protocol: str = "TLSv1.2 TLSv1.3", cipher: str = "HIGH:!aNULL") -> Iterator[Nginx]:
    """Debian's nginx serving ``body`` at the logon path with the sensor's headers (Date/Length its own);
    its TLS server offers ``protocol`` with ``cipher`` (set to what the sensor negotiates, for parity)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tmp").mkdir(exist_ok=True)
    page = directory / "www" / LOGON.lstrip("/")
    page.parent.mkdir(parents=True)
    page.write_bytes(body)
    for path in (directory, *directory.rglob("*")):  # nginx workers may run as nobody
        path.chmod(0o755 if path.is_dir() else 0o644)
    skip = {"date", "content-length", "content-type", "server", "connection"}
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "text/html")
    lines = "\n".join(f'            add_header "{k}" "{v}";' for k, v in headers if k.lower() not in skip)
    port, tls_port = free_port(), free_port()
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=directory, host=HOST, port=port, tls_port=tls_port, headers=lines,
                                      content_type=content_type, cert=cert, key=key,
                                      protocol=protocol, cipher=cipher), encoding="utf-8")
    process = subprocess.Popen(pinned(cpu, ["nginx", "-c", str(conf), "-p", str(directory)]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not _listening(port) or not _listening(tls_port):
            if process.poll() is not None or time.monotonic() > deadline:
                error = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"nginx did not start: {error}")
            time.sleep(0.05)
        yield Nginx(process, port, tls_port)
    finally:
        terminate(process, signal.SIGQUIT, grace=10)


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
        return True
    return False


@dataclass
class CpuUse:
    """Average busy percentage of the server and client CPUs over a measured run."""

    server: float = 0.0
    client: float = 0.0

    def __str__(self) -> str:
        return f"CPU{SERVER_CPU} {self.server:.0f}% busy, CPU{CLIENT_CPU} {self.client:.0f}%"


@contextlib.contextmanager
def cpu_use() -> Iterator[CpuUse]:
    """Per-CPU utilisation during the block: shows which side was the bottleneck."""
    use = CpuUse()
    psutil.cpu_percent(percpu=True)
    yield use
    busy = psutil.cpu_percent(percpu=True)
    use.server = busy[SERVER_CPU] if len(busy) > SERVER_CPU else 0.0
    use.client = busy[CLIENT_CPU] if len(busy) > CLIENT_CPU else 0.0


@dataclass
class ProcessCpu:
    """CPU seconds (user + system) a server process and its children used during a measured run."""

    seconds: float = 0.0

    def per_request_us(self, requests: float) -> float:
        return self.seconds / requests * 1e6 if requests else 0.0


@contextlib.contextmanager
def process_cpu(pid: int) -> Iterator[ProcessCpu]:
    """The server's own CPU time during the block. Divided by the requests served it gives CPU per
    request, which other processes sharing the machine skew far less than requests/s: they take CPU
    time from the server, not instructions from each request."""
    root = psutil.Process(pid)
    processes = [root, *root.children(recursive=True)]
    before = {process.pid: process.cpu_times() for process in processes}
    use = ProcessCpu()
    yield use
    for process in processes:
        with contextlib.suppress(psutil.Error):
            now, then = process.cpu_times(), before[process.pid]
            use.seconds += (now.user - then.user) + (now.system - then.system)


# -- (a) throughput ------------------------------------------------------------------------------------

def wrk(url: str, seconds: float, connections: int = 50) -> dict[str, Any]:
    """Run wrk on the client CPU; requests/s and non-2xx/3xx count."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s"]
    for header in WRK_HEADERS:
        command += ["-H", header]
    output = subprocess.run(pinned(CLIENT_CPU, [*command, url]), capture_output=True, text=True,
                            timeout=seconds + 30, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {"rps": float(rate.group(1)) if rate else 0.0, "requests": float(total.group(1)) if total else 0.0,
            "non_2xx_3xx": float(bad.group(1)) if bad else 0.0, "socket_errors": errors.group(1) if errors else ""}


def bench_throughput(work: Path, seconds: float, report: Report) -> None:
    print("(a) GET /owa/auth/logon.aspx, full capture, server on CPU 0, wrk on CPU 1", flush=True)
    if shutil.which("wrk") is None:
        report.note("wrk not found (apt-get install wrk): throughput skipped")
        return
    with sensor(work / "sensor-a", https=True, cpu=SERVER_CPU) as live:
        url = f"http://{HOST}:{live.address('http')[1]}{LOGON}"
        status, headers, body = fetch(live.address("http"), LOGON)
        if status != 200:
            report.note(f"the sensor answers {LOGON} with {status}, not 200 (persona route missing?)")
        wrk(url, 2)  # warm-up
        before = live.spool_events()
        with cpu_use() as our_cpu, process_cpu(live.process.pid) as our_time:
            ours = wrk(url, seconds)
        captured = live.spool_events() - before
        spool_mb = live.spool_bytes() / 2**20
        cert = live.directory / "state" / "exchange" / "tls-cert.pem"
        key = live.directory / "state" / "exchange" / "tls-key.pem"
    figures: dict[str, object] = {"sensor": ours, "events_spooled": captured, "spool_mb": spool_mb,
                                  "status": status, "body_bytes": len(body),
                                  "head_bytes": len(_head_text(status, headers))}
    report.data["throughput"] = figures
    if ours["non_2xx_3xx"] or ours["socket_errors"]:
        report.note(f"sensor: {ours['non_2xx_3xx']:.0f} non-2xx/3xx, socket errors {ours['socket_errors']}")
    report.row("requests/s, logon page", f"{ours['rps']:,.0f}")
    report.row("events spooled during the run", f"{captured:,} ({ours['requests']:,.0f} requests)")
    if shutil.which("nginx") is None:
        report.note("nginx not found (apt-get install nginx): no baseline")
        return
    with nginx(work / "nginx-a", body, headers, cert, key, SERVER_CPU) as server:
        url = f"http://{HOST}:{server.port}{LOGON}"
        nginx_status, nginx_headers, nginx_body = fetch((HOST, server.port), LOGON)
        if nginx_status != 200 or nginx_body != body:
            raise RuntimeError(f"nginx answers {nginx_status} with {len(nginx_body)} bytes, not the same page")
        wrk(url, 2)
        with cpu_use() as their_cpu, process_cpu(server.process.pid) as their_time:
            theirs = wrk(url, seconds)
    ratio = ours["rps"] / theirs["rps"] if theirs["rps"] else 0.0
    our_us, their_us = our_time.per_request_us(ours["requests"]), their_time.per_request_us(theirs["requests"])
    cpu_ratio = their_us / our_us if our_us else 0.0
    figures.update(nginx=theirs, ratio=ratio, nginx_head_bytes=len(_head_text(nginx_status, nginx_headers)),
                   cpu={"sensor": vars(our_cpu), "nginx": vars(their_cpu)},
                   cpu_us_per_request={"sensor": our_us, "nginx": their_us}, cpu_ratio=cpu_ratio)
    report.row("requests/s vs nginx", f"{ours['rps']:,.0f}", f"{theirs['rps']:,.0f}", f"{ratio:.2f}x",
               f">= {TARGETS['throughput_ratio']}x")
    report.row("server CPU per request (user+sys)", f"{our_us:.1f} µs", f"{their_us:.1f} µs",
               f"{cpu_ratio:.2f}x", f">= {TARGETS['throughput_ratio']}x")
    report.row("response head bytes", str(len(_head_text(status, headers))),
               str(len(_head_text(nginx_status, nginx_headers))))
    report.row("CPU use during the run", str(our_cpu), str(their_cpu))
    report.client_bound("requests/s", our_cpu, their_cpu)


def _head_text(status: int, headers: list[tuple[str, str]]) -> str:
    return f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"


# -- (b) memory ----------------------------------------------------------------------------------------

MEMORY_CONFIG = f"""
[sensor.limits]
max_connections = {FLOOD + 2000}
idle_timeout = 600.0
header_timeout = 600.0
"""


def bench_memory(work: Path, report: Report) -> None:
    print("(b) sensor RSS, idle and with 10k open connections", flush=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FLOOD + 1000
    if hard != resource.RLIM_INFINITY and hard < wanted:
        report.note(f"RLIMIT_NOFILE hard limit {hard} < {wanted}: memory figure skipped")
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))  # inherited by the sensor
    try:
        with sensor(work / "sensor-b", config=MEMORY_CONFIG) as live:
            fetch(live.address("http"), LOGON)  # warm: persona pages loaded, as in service
            time.sleep(0.5)
            idle = live.rss_mb
            opened, connected, partial = _flood(live)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    report.data["memory"] = {"idle_mb": idle, "connections": opened, "connected_mb": connected,
                             "partial_head_mb": partial}
    report.row("RSS idle (MB)", f"{idle:.1f}", target=f"<= {TARGETS['rss_idle_mb']}")
    report.row(f"RSS with {opened:,} idle connections (MB)", f"{connected:.1f}",
               target=f"<= {TARGETS['rss_10k_mb']}")
    report.row(f"RSS with {opened:,} connections x 1 KiB partial head (MB)", f"{partial:.1f}",
               target=f"<= {TARGETS['rss_10k_mb']}")


def _flood(live: Sensor) -> tuple[int, float, float]:
    sockets: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while len(sockets) < FLOOD and time.monotonic() < deadline:
            sockets.append(socket.create_connection(live.address("http"), timeout=5))
        connected = _settled_rss(live)
        for sock in sockets:
            sock.send(b"POST /ews/exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\nX-Pad: " + b"a" * 960)
        return len(sockets), connected, _settled_rss(live)
    finally:
        for sock in sockets:
            sock.close()


def _settled_rss(live: Sensor) -> float:
    """RSS once it stops growing (the sensor has accepted/read everything), bounded to 10 s."""
    last, deadline = -1.0, time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = live.rss_mb
        if abs(now - last) < 0.2:
            return now
        last = now
    return last


# -- (c) TLS handshakes --------------------------------------------------------------------------------

CLIENT_PROCESSES = 8


def _handshake_worker(port: int, seconds: float) -> int:
    """Full handshakes (no session resumption) in a loop for ``seconds``; runs pinned to the client CPU."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {CLIENT_CPU})
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=5) as plain, \
                    context.wrap_socket(plain, server_hostname="mail.contoso.com"):
                done += 1
        except OSError:
            time.sleep(0.01)
    return done


def handshakes_per_second(port: int, seconds: float) -> float:
    """Full handshakes/s: parallel ``openssl s_time -new`` clients on the client CPU (C, so the client costs
    little per handshake), else a pool of Python ``ssl`` clients."""
    if shutil.which("openssl") is None:
        with concurrent.futures.ProcessPoolExecutor(CLIENT_PROCESSES) as pool:
            counts = list(pool.map(_handshake_worker, [port] * CLIENT_PROCESSES, [seconds] * CLIENT_PROCESSES))
        return sum(counts) / seconds
    command = pinned(CLIENT_CPU, ["openssl", "s_time", "-connect", f"{HOST}:{port}", "-new",
                                  "-time", str(max(1, round(seconds)))])
    started = time.monotonic()
    clients = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
               for _ in range(CLIENT_PROCESSES)]
    total = 0
    for client in clients:
        output, _ = client.communicate(timeout=seconds + 30)
        found = re.search(r"(\d+) connections in [\d.]+ real seconds", output)
        total += int(found.group(1)) if found else 0
    return total / (time.monotonic() - started)


def tls_method() -> str:
    client = "openssl s_time -new" if shutil.which("openssl") else "Python ssl client"
    return f"{CLIENT_PROCESSES} parallel {client} processes on CPU {CLIENT_CPU}, new connection + full handshake each"


def bench_tls(work: Path, seconds: float, report: Report) -> None:
    print("(c) full TLS handshakes/s, server on CPU 0, client processes on CPU 1", flush=True)
    with sensor(work / "sensor-c", https=True, cpu=SERVER_CPU) as live:
        port = live.address("https")[1]
        fetch(live.address("https"), "/", tls=True)
        handshakes_per_second(port, 1)  # warm-up
        with cpu_use() as our_cpu:
            ours = handshakes_per_second(port, seconds)
        cert = live.directory / "state" / "exchange" / "tls-cert.pem"
        key = live.directory / "state" / "exchange" / "tls-key.pem"
        version = _negotiated(port)
    method = (f"{tls_method()} (no resumption), {version}, the sensor's generated RSA certificate and key for "
              "both servers; nginx offers only the protocol and cipher the sensor negotiated")
    figures: dict[str, object] = {"sensor_hps": ours, "method": method, "sensor_version": version}
    report.data["tls"] = figures
    report.row("TLS handshakes/s", f"{ours:,.0f}")
    if shutil.which("nginx") is None:
        report.note("nginx not found: no TLS baseline")
        return
    protocol, cipher = version.split(" ", 1)
    with nginx(work / "nginx-c", b"ok", [], cert, key, SERVER_CPU, protocol=protocol, cipher=cipher) as server:
        handshakes_per_second(server.tls_port, 1)
        with cpu_use() as their_cpu:
            theirs = handshakes_per_second(server.tls_port, seconds)
        their_version = _negotiated(server.tls_port)
    ratio = ours / theirs if theirs else 0.0
    figures.update(nginx_hps=theirs, ratio=ratio, nginx_version=their_version,
                   cpu={"sensor": vars(our_cpu), "nginx": vars(their_cpu)})
    report.row("TLS handshakes/s vs nginx", f"{ours:,.0f}", f"{theirs:,.0f}", f"{ratio:.2f}x")
    report.row("TLS negotiated", version, their_version)
    report.row("CPU use during the TLS run", str(our_cpu), str(their_cpu))
    report.client_bound("TLS handshakes/s", our_cpu, their_cpu)
    report.note(f"TLS method: {method}")


def _negotiated(port: int) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((HOST, port), timeout=5) as plain, \
            context.wrap_socket(plain, server_hostname="mail.contoso.com") as tls:
        cipher = tls.cipher()
        return f"{tls.version()} {cipher[0] if cipher else ''}"


# -- main ----------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run (default 10)")
    parser.add_argument("--only", default="throughput,memory,tls", help="comma-separated subset to run")
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    report = Report()
    if len(os.sched_getaffinity(0)) < 2:
        report.note("fewer than 2 CPUs: server and client share a CPU, figures are not comparable")
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="honeyscope-bench-") as temporary:
        work = Path(temporary)
        work.chmod(0o755)  # nginx workers (user nobody when started as root) must reach their files
        if "throughput" in chosen:
            bench_throughput(work, args.duration, report)
        if "memory" in chosen:
            bench_memory(work, report)
        if "tls" in chosen:
            bench_tls(work, args.duration, report)
    print("\n" + report.table())
    for note in report.notes:
        print(f"note: {note}")
    save(report, args.duration, started)
    return 0


def save(report: Report, duration: float, started: float) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": duration,
        "machine": {"cpu": _cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "kernel": platform.release()},
        "tools": {name: _tool_version(name) for name in ("nginx", "wrk")},
        "figures": report.data,
        "targets": TARGETS,
        "notes": report.notes,
    }
    RESULTS.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwritten {RESULTS.relative_to(HERE.parent)}")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _tool_version(name: str) -> str:
    if shutil.which(name) is None:
        return "absent"
    done = subprocess.run([name, "-v"], capture_output=True, text=True, timeout=10, check=False)
    return (done.stdout + done.stderr).strip().splitlines()[0] if (done.stdout + done.stderr).strip() else "?"


if __name__ == "__main__":
    raise SystemExit(main())
