"""Attribution speed over synthetic sessions: clustering and scoring time and peak memory. Prints figures;
nothing passes or fails.

    .venv/bin/python bench/attribution.py [--sessions 100000] [--seed 1] [--no-trace]

Sessions are built directly (no events): background scanners and exploit waves from many networks, countries
and tools, plus small campaigns that use published indicators (HAFNIUM's Volexity addresses and shells, ESET's
per-group C2 hosts and web-shell names). Timed on one core (CPU affinity 0 where available):
(a) loading the knowledge base, (b) ``build_clusters``, (c) ``attribute`` (index build and scoring), and the
sum of (b) and (c) against the target of 10 s. Then, unless --no-trace, the same run again under tracemalloc
for peak traced memory. Max RSS is the whole process.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time
import timeit
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta

from honeyscope.analysis.attribution import attribute
from honeyscope.analysis.clusters import build_clusters
from honeyscope.analysis.knowledge import load_knowledge
from honeyscope.analysis.sessions import SessionSummary, tlsh_digest

START = datetime(2021, 2, 1, tzinfo=UTC)
VOLEXITY = ["103.77.192.219", "104.140.114.110", "104.250.191.110", "108.61.246.56", "149.28.14.163",
            "157.230.221.198", "167.99.168.251", "185.250.151.72", "192.81.208.169", "203.160.69.66"]
ESET = {"tick": (["www.averyspace.net"], "/aspnet_client/system_web/aspnet.aspx"),
        "calypso": (["yolkish.com"], "/aspnet_client/client.aspx"),
        "tonto": (["lab.symantecsafe.org"], "/aspnet_client/dukybySSSS.aspx"),
        "dltminer": (["p.estonine.com"], "")}
COUNTRIES = ["CN", "US", "RU", "NL", "DE", "KR", "BR", "IN", "VN", "FR", "GB", "SG", "HK", "JP", "IR"]
AGENTS = ["Mozilla/5.0 zgrab/0.x", "python-requests/2.25.1", "curl/7.68.0", "Go-http-client/1.1",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/88.0", "Nuclei - Open-source project",
          "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)", "ExchangeServicesClient/0.0.0.0"]
PATHS = ["/owa/auth/logon.aspx", "/owa/", "/autodiscover/autodiscover.xml", "/ecp/", "/owa/auth/x.js",
         "/mapi/nspi/", "/ews/exchange.asmx", "/.env", "/wp-login.php", "/remote/login", "/ecp/y.js"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    sessions = synthetic_sessions(args.sessions, random.Random(args.seed))
    reference = timeit.timeit("sum(range(1000))", number=5000) / 5000 * 1e6
    print(f"machine: sum(range(1000)) takes {reference:.1f} µs (≈ 10–15 µs on an idle modern core; more means a "
          f"busy or slow machine); load average {os.getloadavg()[0]:.1f}")
    began = time.perf_counter()
    knowledge = load_knowledge()
    loaded = time.perf_counter() - began
    print(f"(a) knowledge base: {len(knowledge.actors)} profiles in {loaded:.2f} s")
    began, cpu = time.perf_counter(), time.process_time()
    clusters = build_clusters(sessions)
    clustered, clustered_cpu = time.perf_counter() - began, time.process_time() - cpu
    began, cpu = time.perf_counter(), time.process_time()
    report = attribute(clusters, knowledge)
    scored, scored_cpu = time.perf_counter() - began, time.process_time() - cpu
    links = Counter(kind for c in clusters for link in c.links for kind in link.kinds)
    print(f"(b) build_clusters: {len(sessions):,} sessions → {len(clusters):,} clusters in {clustered:.2f} s "
          f"(CPU {clustered_cpu:.2f} s) "
          f"({len(sessions) / clustered:,.0f} sessions/s); link kinds used: {dict(links.most_common())}")
    print(f"(c) attribute: {scored:.2f} s (CPU {scored_cpu:.2f} s; {len(clusters) / scored:,.0f} clusters/s); "
          f"{report.attributed} "
          f"attributed: {dict(Counter(r.actor for r in report.clusters if r.actor).most_common())}")
    print(f"    clusters + attribution: {clustered + scored:.2f} s wall, {clustered_cpu + scored_cpu:.2f} s CPU "
          "(target < 10 s on one core); max RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if not args.no_trace:
        del clusters, report
        tracemalloc.start()
        attribute(build_clusters(sessions), knowledge)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"    peak traced memory of clustering + attribution: {peak / 2**20:.0f} MB "
              "(sessions and knowledge base already in memory)")


def synthetic_sessions(count: int, rng: random.Random) -> list[SessionSummary]:
    """Background traffic plus a few campaigns with published indicators (about 1% of sessions)."""
    bodies = [tlsh_digest(_body(rng, family)) for family in range(300) for _ in range(3)]
    digests = [d for d in bodies if d]
    ja4s = [f"t13d{rng.randrange(10, 20)}{rng.randrange(10, 20)}h2_{rng.getrandbits(48):012x}_"
            f"{rng.getrandbits(48):012x}" for _ in range(12)]
    orders = [f"{rng.getrandbits(64):016x}" for _ in range(40)]
    sessions: list[SessionSummary] = []
    for index in range(count):
        at = START + timedelta(seconds=rng.randrange(90 * 86400))
        roll = rng.random()
        if roll < 0.002:
            sessions.append(_hafnium(index, at, rng, digests))
        elif roll < 0.006:
            sessions.append(_eset(index, rng, digests))
        else:
            sessions.append(_background(index, at, rng, digests, ja4s, orders))
    return sessions


def _background(index: int, at: datetime, rng: random.Random, digests: list[str], ja4s: list[str],
                orders: list[str]) -> SessionSummary:
    network = rng.randrange(1, 4000)
    exploit = rng.random() < 0.3
    address = f"{11 + network % 200}.{network // 200}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return SessionSummary(
        id=f"s-{index:08d}", source_ip=address,
        first_seen=at, last_seen=at + timedelta(seconds=rng.randrange(1, 900)), events=rng.randrange(1, 40),
        country=rng.choice(COUNTRIES), asn=64512 + network % 700, personas=["exchange"],
        cves=["CVE-2021-26855"] if exploit else [], techniques=["T1190"] if exploit else [],
        stages=["proxylogon.ssrf_probe"] if exploit else ["recon.exchange_version"],
        user_agents=[rng.choice(AGENTS)], ja4=[rng.choice(ja4s)], header_orders=[rng.choice(orders)],
        paths=rng.sample(PATHS, 3), payload_tlsh=[rng.choice(digests)] if exploit else [],
    )


def _hafnium(index: int, at: datetime, rng: random.Random, digests: list[str]) -> SessionSummary:
    day = START + timedelta(days=rng.randrange(25)) + (at - at.replace(hour=0, minute=0, second=0))
    return SessionSummary(
        id=f"s-{index:08d}", source_ip=rng.choice(VOLEXITY), first_seen=day, last_seen=day + timedelta(minutes=3),
        events=9, country="US", personas=["exchange"], cves=["CVE-2021-26855", "CVE-2021-27065"],
        stages=["proxylogon.autodiscover", "proxylogon.sid_leak", "proxylogon.ecp_logon",
                "proxylogon.oab_setobject_externalurl", "proxylogon.oab_reset_write", "webshell.command"],
        user_agents=["python-requests/2.25.1", "antSword/v2.1"], paths=["/ecp/y.js", "/owa/auth/OutlookZH.aspx"],
        webshells=["/owa/auth/OutlookZH.aspx"], shell_keys=["klk123456"], payload_tlsh=[rng.choice(digests)],
    )


def _eset(index: int, rng: random.Random, digests: list[str]) -> SessionSummary:
    actor = rng.choice(sorted(ESET))
    hosts, shell = ESET[actor]
    at = datetime(2021, 3, 4, tzinfo=UTC) + timedelta(seconds=rng.randrange(20 * 86400))
    return SessionSummary(
        id=f"s-{index:08d}", source_ip=f"45.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        first_seen=at, last_seen=at + timedelta(minutes=4), events=6, country=rng.choice(COUNTRIES),
        personas=["exchange"], cves=["CVE-2021-26855", "CVE-2021-27065"], webshells=[shell] if shell else [],
        callbacks=hosts, user_agents=["python-requests/2.25.1"], payload_tlsh=[rng.choice(digests)],
    )


def _body(rng: random.Random, family: int) -> bytes:
    base = random.Random(family)
    words = [bytes(base.choice(b"abcdefghijklmnopqrstuvwxyz<>/=") for _ in range(base.randint(2, 9)))
             for _ in range(200)]
    text = b" ".join(base.choice(words) for _ in range(200))
    cut = rng.randrange(len(text))
    return text[:cut] + f"{rng.getrandbits(32):08x}@example.com".encode() + text[cut:]


if __name__ == "__main__":
    main()
