"""STIX 2.1 export of 100k sightings: time and peak memory. Prints figures; nothing passes or fails.

    .venv/bin/python bench/stix.py [--sources 100000] [--days 1] [--trace] [--validate 200]

Synthetic Exchange campaign (``share.stix.synthetic``): each source probes OWA, every third sends the
ProxyLogon SSRF request, every tenth writes a web shell; one sighting per source address and day (plus
the exploit paths and shell hashes). Events are generated lazily, as the store pages them, and the bundle
is written to a temporary file, so the memory figures are the exporter's (process peak RSS; with --trace
the tracemalloc peak). All sources fall on one day: the worst case for the per-day aggregates. Optionally
validates a sample of the objects with stix2-validator 3.2.0.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from honeyscope.share.stix import ExportStats, StixOptions, write_stix
from honeyscope.share.stix.synthetic import campaign_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=100_000, help="source addresses (one sighting each per day)")
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--trace", action="store_true",
                        help="also measure the exporter's own allocations with tracemalloc (≈ 10x slower)")
    parser.add_argument("--validate", type=int, default=0, metavar="N",
                        help="validate N random objects with stix2-validator (≈ 15-30 ms each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "bundle.json"
        export(args.sources, args.days, output)
        if args.trace:
            traced(args.sources, args.days, output)
        if args.validate:
            validate(output, args.validate)


def export(sources: int, days: int, output: Path) -> ExportStats:
    """Wall and CPU time, and the process's peak RSS before and after (events are generated lazily)."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    with output.open("wb") as handle:
        stats = write_stix(campaign_events(sources=sources, days=days), handle, options=StixOptions(),
                           bundle_key=("bench",))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"events {stats.events:,} → {stats.total_objects:,} objects, {stats.objects.get('sighting', 0):,} "
          f"sightings, {output.stat().st_size / 1e6:.1f} MB")
    print(f"time {elapsed:.1f} s wall, {cpu:.1f} s CPU = {stats.events / cpu:,.0f} events/s, "
          f"{stats.total_objects / cpu:,.0f} objects/s of CPU (generating the synthetic events included)")
    print(f"process peak RSS {rss_before / 1e3:.0f} MB before → {rss_after / 1e3:.0f} MB after")
    print("objects by type: " + ", ".join(f"{k} {v:,}" for k, v in sorted(stats.objects.items())))
    return stats


def traced(sources: int, days: int, output: Path) -> None:
    tracemalloc.start()
    with output.open("wb") as handle:
        write_stix(campaign_events(sources=sources, days=days), handle, options=StixOptions(), bundle_key=("bench",))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak traced memory (tracemalloc) {peak / 1e6:.1f} MB = {peak / sources / days:,.0f} bytes per "
          "source address and day")


def validate(bundle_path: Path, sample: int) -> None:
    from stix2validator import ValidationOptions, validate_instance

    objects = json.loads(bundle_path.read_bytes())["objects"]
    chosen = random.Random(7).sample(objects, min(sample, len(objects)))
    started = time.perf_counter()
    result = validate_instance({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000",
                                "objects": chosen}, ValidationOptions(version="2.1"))
    print(f"stix2-validator on {len(chosen)} sampled objects: valid={result.is_valid} "
          f"({len(result.errors)} errors) in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
