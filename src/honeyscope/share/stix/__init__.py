"""STIX 2.1 export: events and attribution as a bundle (or a stream of objects for TAXII).

    with open("export.json", "wb") as output:
        stats = write_stix(events, output, options=StixOptions(tlp="amber"), clusters=attributed)

What an export contains, its ids, markings and limits: docs/sharing.md ("STIX 2.1").
"""

from honeyscope.share.stix.actors import ActorEvidence, AttributedCluster, attribute_events, from_attribution
from honeyscope.share.stix.bundle import write_bundle, write_stix
from honeyscope.share.stix.export import ExportStats, StixOptions, StixRecord, stix_objects, stix_records

__all__ = [
    "ActorEvidence",
    "AttributedCluster",
    "ExportStats",
    "StixOptions",
    "StixRecord",
    "attribute_events",
    "from_attribution",
    "stix_objects",
    "stix_records",
    "write_bundle",
    "write_stix",
]
