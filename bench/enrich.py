"""Enrichment speed: geo lookups/s (geoip2fast's bundled data, an MMDB through maxminddb's C extension),
the per-address cache, and ``Enricher.enrich()`` per event. Prints figures; nothing passes or fails.

    .venv/bin/python bench/enrich.py [--lookups 100000] [--networks 50000]
    .venv/bin/python bench/enrich.py --mmdb GeoLite2-Country.mmdb --asn-mmdb GeoLite2-ASN.mmdb

Without ``--mmdb`` a GeoLite2-like country file with ``--networks`` random /24 networks is built with
mmdb-writer (a dev dependency) in a temporary directory; a real file gives the fairer MMDB figure.
Addresses are random public IPv4 addresses (fixed seed), so most are distinct: "uncached" really is.
Each figure is the best of ``--repeat`` runs. Reference on a 2-core machine (docs/enrichment.md):
geoip2fast ≈ 100–123k lookups/s, maxminddb C ≈ 500k/s, cached ≈ 5M/s.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import maxminddb
import psutil

from honeyscope.config import EnrichSettings
from honeyscope.enrich import Enricher, classify
from honeyscope.enrich.geo_builtin import BuiltinGeo
from honeyscope.enrich.geo_mmdb import MmdbGeo
from honeyscope.enrich.scanners import ScannerMatcher
from honeyscope.events.schema import (
    Endpoint,
    EventMeta,
    Honeyscope,
    HsConnection,
    HttpRequestEvent,
    Observer,
    UserAgent,
)

USER_AGENTS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
               "Mozilla/5.0 zgrab/0.x", "python-requests/2.31.0", "curl/8.4.0")


def public_addresses(count: int, seed: int = 7) -> list[str]:
    """``count`` random public IPv4 addresses."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        text = ".".join(str(rng.randint(0, 255)) for _ in range(4))
        if classify(text) == "public":
            out.append(text)
    return out


def rate(run: Callable[[], int], repeat: int) -> float:
    """Best operations/s over ``repeat`` runs of ``run`` (which returns how many operations it did)."""
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        done = run()
        best = max(best, done / (time.perf_counter() - start))
    return best


def loop(function: Callable[[str], object], items: Sequence[str]) -> Callable[[], int]:
    def run() -> int:
        for item in items:
            function(item)
        return len(items)
    return run


def show(figure: str, value: float, unit: str = "/s") -> None:
    print(f"  {figure:<52} {value:>12,.0f} {unit}", flush=True)


def build_mmdb(directory: Path, networks: int, lookups: int) -> tuple[Path, list[str]]:
    """A GeoLite2-Country-like file of ``networks`` random /24s (IPv6 tree holding IPv4, like GeoLite2),
    and ``lookups`` addresses inside them (a real database answers for nearly every address: so should
    this one, or the figure measures misses)."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPNetwork, IPSet

    countries = [("US", "United States", "NA"), ("CN", "China", "AS"), ("RU", "Russia", "EU"),
                 ("DE", "Germany", "EU"), ("BR", "Brazil", "SA"), ("IN", "India", "AS")]
    rng = random.Random(3)
    groups: list[list[str]] = [[] for _ in countries]
    for index in range(networks):
        base = rng.randint(1 << 24, (223 << 24) - 1) & ~0xFF
        groups[index % len(countries)].append(str(IPNetwork((base, 24))))
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country", languages=["en"],
                        description={"en": "honeyscope bench"})
    for (iso, name, continent), group in zip(countries, groups, strict=True):
        writer.insert_network(IPSet(group), {"country": {"iso_code": iso, "names": {"en": name}},
                                             "continent": {"code": continent}})
    path = directory / "bench-country.mmdb"
    writer.to_db_file(str(path))
    every = [network for group in groups for network in group]
    hosts = [str(IPNetwork(rng.choice(every))[rng.randint(1, 254)]) for _ in range(lookups)]
    return path, hosts


def request(ip: str, user_agent: str) -> HttpRequestEvent:
    return HttpRequestEvent(timestamp=datetime.now(UTC), event=EventMeta(id="bench"), observer=Observer(name="b"),
                            source=Endpoint(ip=ip, port=40000), destination=Endpoint(ip="192.0.2.1", port=443),
                            user_agent=UserAgent(original=user_agent),
                            honeyscope=Honeyscope(persona="exchange", connection=HsConnection(id="c")))


def bench_builtin(addresses: list[str], repeat: int) -> None:
    process = psutil.Process()
    before = process.memory_info().rss
    start = time.perf_counter()
    geo = BuiltinGeo()
    load = time.perf_counter() - start
    grown = (process.memory_info().rss - before) / 2**20
    print(f"geoip2fast ({geo.label}): loaded in {load:.2f} s, +{grown:.0f} MB RSS")
    show("lookups, uncached (BuiltinGeo.lookup)", rate(loop(geo.lookup, addresses), repeat))


def bench_mmdb(country: Path, asn: Path | None, addresses: list[str], repeat: int) -> None:
    geo = MmdbGeo(str(country), str(asn) if asn else None)
    print(f"MMDB ({geo.label}): C extension {'yes' if geo.uses_c_extension else 'NO (pure Python)'}")
    reader = maxminddb.open_database(str(country), maxminddb.MODE_MMAP_EXT)
    show("maxminddb reader.get, uncached", rate(loop(reader.get, addresses), repeat))
    show("lookups, uncached (MmdbGeo.lookup, records parsed)", rate(loop(geo.lookup, addresses), repeat))
    reader.close()
    geo.close()


def bench_enricher(addresses: list[str], repeat: int) -> None:
    enricher = Enricher.from_settings(EnrichSettings(cache_size=len(addresses) + 10))
    hot = addresses[:1000]
    for ip in hot:
        enricher.lookup(ip)
    print(f"Enricher (builtin geo, {len(enricher.scanners.entries)} scanner entries)")
    show("address lookups, cached (1,000 hot addresses)", rate(loop(enricher.lookup, hot * 100), repeat))
    events = [request(hot[i % len(hot)], USER_AGENTS[i % len(USER_AGENTS)]) for i in range(100_000)]

    def enrich_all() -> int:
        enricher.enrich_batch(events)
        return len(events)

    per_second = rate(enrich_all, repeat)
    show("enrich() per event, cached address", per_second)
    print(f"  {'  = per event':<52} {1e6 / per_second:>12.2f} µs")
    fresh = [request(ip, USER_AGENTS[i % len(USER_AGENTS)]) for i, ip in enumerate(addresses)]
    best = 0.0
    for _ in range(repeat):
        cold = Enricher.from_settings(EnrichSettings(cache_size=len(addresses) + 10))
        start = time.perf_counter()
        cold.enrich_batch(fresh)
        best = max(best, len(fresh) / (time.perf_counter() - start))
    show("enrich() per event, every address new", best)
    matcher = ScannerMatcher.load()
    agents = [f"{USER_AGENTS[i % len(USER_AGENTS)]} {i}" for i in range(50_000)]
    show("scanner by user agent, uncached", rate(loop(matcher.by_user_agent, agents), repeat))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lookups", type=int, default=100_000, help="distinct addresses per run")
    parser.add_argument("--networks", type=int, default=50_000, help="networks in the generated MMDB")
    parser.add_argument("--mmdb", type=Path, help="a real country (or combined) MMDB to measure instead")
    parser.add_argument("--asn-mmdb", type=Path, help="a real ASN MMDB used together with --mmdb")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    addresses = public_addresses(args.lookups)
    print(f"python {sys.version.split()[0]}, {args.lookups:,} random public IPv4 addresses, best of {args.repeat}")
    bench_builtin(addresses, args.repeat)
    with tempfile.TemporaryDirectory(prefix="honeyscope-bench-") as tmp:
        country, hits = args.mmdb, addresses
        if country is None:
            start = time.perf_counter()
            country, hits = build_mmdb(Path(tmp), args.networks, args.lookups)
            print(f"(built a {args.networks:,}-network GeoLite2-like MMDB in {time.perf_counter() - start:.1f} s; "
                  "every lookup below is a hit)")
        bench_mmdb(country, args.asn_mmdb, hits, args.repeat)
    bench_enricher(addresses, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
