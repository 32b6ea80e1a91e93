"""Write STIX objects as one bundle, streaming: objects are encoded one at a time, never held together."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import IO, Any, Final

import msgspec

from honeyscope.events.schema import Event
from honeyscope.share.stix.actors import AttributedCluster
from honeyscope.share.stix.export import ExportStats, StixOptions, stix_objects
from honeyscope.share.stix.ids import object_id

__all__ = ["write_bundle", "write_stix"]

_ENCODER: Final = msgspec.json.Encoder()


def write_bundle(objects: Iterable[dict[str, Any]], output: IO[bytes], *, bundle_id: str) -> int:
    """``{"type": "bundle", "id": …, "objects": [...]}`` with one object per line; returns the count."""
    output.write(b'{"type":"bundle","id":' + _ENCODER.encode(bundle_id) + b',"objects":[')
    count = 0
    for obj in objects:
        output.write(b"\n" if count == 0 else b",\n")
        output.write(_ENCODER.encode(obj))
        count += 1
    output.write(b"\n]}\n")
    return count


def write_stix(events: Iterable[Event], output: IO[bytes], *, options: StixOptions | None = None,
               clusters: Sequence[AttributedCluster] = (), bundle_key: Sequence[str] = ()) -> ExportStats:
    """Export ``events`` (and attributed clusters) as one STIX 2.1 bundle.

    The bundle id is derived from the network name, the TLP level and ``bundle_key`` (e.g. the period), so
    re-exporting the same period gives the same bundle id as well as the same object ids."""
    options = options or StixOptions()
    stats = ExportStats()
    bundle_id = object_id("bundle", options.network_name, options.tlp, *bundle_key)
    write_bundle(stix_objects(events, options=options, clusters=clusters, stats=stats), output, bundle_id=bundle_id)
    return stats
