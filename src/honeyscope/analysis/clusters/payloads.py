"""Payload families: request bodies whose TLSH digests are within a distance of each other.

Comparing every digest with every other is quadratic, so candidates come from locality-sensitive bands: the
64 hex digits of a TLSH body are cut into 21 bands of 3 (12 bits, 6 of TLSH's 2-bit buckets each); digests
that agree on a whole band are candidates, and only candidates are compared with ``tlsh.diff``. Each band
keeps at most ``REPRESENTATIVES`` digests, bounding the comparisons per digest to 21 × that. Near-duplicates
(one template, a few fields changed; TLSH distance ≤ 40) agreed on at least one band in every pair we
measured (docs/attribution.md). Families are single-linkage: A~B and B~C put A and C together.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import tlsh  # type: ignore[import-not-found]  # C extension without type information

#: Distance at or below which two digests are one family (TLSH: 0 identical; ~50 "similar").
DEFAULT_THRESHOLD: Final = 40
#: Digests kept per band to compare newcomers with.
REPRESENTATIVES: Final = 4
_BAND: Final = 3
_BODY_START: Final = 8  # "T1" + checksum (2 hex) + length (2 hex) + quartile ratios (2 hex)


def tlsh_distance(a: str, b: str) -> int:
    """TLSH distance between two digests (header and body)."""
    return int(tlsh.diff(a, b))


def payload_families(digests: Iterable[str], threshold: int = DEFAULT_THRESHOLD) -> dict[str, str]:
    """Family id of every digest: the smallest digest of its family (so ids do not depend on input order)."""
    unique = sorted({d for d in digests if d.startswith("T1") and len(d) >= _BODY_START + 64})
    parent = {d: d for d in unique}

    def root(digest: str) -> str:
        while parent[digest] != digest:
            parent[digest] = parent[parent[digest]]
            digest = parent[digest]
        return digest

    bands: dict[tuple[int, str], list[str]] = {}
    for digest in unique:
        keys = _bands(digest)
        candidates = sorted({c for key in keys for c in bands.get(key, ())})
        for candidate in candidates:
            a, b = root(candidate), root(digest)
            if a != b and tlsh_distance(candidate, digest) <= threshold:
                parent[max(a, b)] = min(a, b)
        for key in keys:
            members = bands.setdefault(key, [])
            if len(members) < REPRESENTATIVES:
                members.append(digest)
    return {digest: root(digest) for digest in unique}


def _bands(digest: str) -> list[tuple[int, str]]:
    body = digest[_BODY_START:_BODY_START + 63]
    return [(index, body[index * _BAND:(index + 1) * _BAND]) for index in range(len(body) // _BAND)]
