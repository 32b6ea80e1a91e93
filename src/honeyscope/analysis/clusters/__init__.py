"""Activity clusters: sessions linked by shared infrastructure, tool fingerprints, web shells and payloads.

    clusters = build_clusters(sessions)            # deterministic, explainable (cluster.links)
    clusters = build_clusters(sessions, LinkModel(min_weight=1.2))

Link kinds, weights, the minimum and the bucketing that avoids comparing every pair: docs/attribution.md.
"""

from honeyscope.analysis.clusters.build import Cluster, Link, build_clusters, cluster_id
from honeyscope.analysis.clusters.links import GENERIC_SHELL_KEYS, LINK_KINDS, LinkModel, minimal_sets
from honeyscope.analysis.clusters.payloads import payload_families, tlsh_distance

__all__ = [
    "GENERIC_SHELL_KEYS",
    "LINK_KINDS",
    "Cluster",
    "Link",
    "LinkModel",
    "build_clusters",
    "cluster_id",
    "minimal_sets",
    "payload_families",
    "tlsh_distance",
]
