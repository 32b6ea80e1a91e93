"""TAXII 2.1 server (read-only) for the STIX export, as a Starlette application.

    source = StoreSource.from_store(store, options=StixOptions(network_name="Example CERT honeypots"))
    app.mount("/taxii2", taxii_app(source, title="Example CERT honeypots", auth_check=is_logged_in))

Endpoints, filters, paging and what ``date_added`` means: docs/sharing.md ("TAXII 2.1").
"""

from honeyscope.share.taxii.app import MEDIA_TYPE, STIX_MEDIA_TYPE, AuthCheck, taxii_app
from honeyscope.share.taxii.source import (
    BackgroundClusters,
    CollectionInfo,
    MemorySource,
    ObjectSource,
    StoredObject,
    StoreSource,
    sort_records,
)

__all__ = [
    "MEDIA_TYPE",
    "STIX_MEDIA_TYPE",
    "AuthCheck",
    "BackgroundClusters",
    "CollectionInfo",
    "MemorySource",
    "ObjectSource",
    "StoreSource",
    "StoredObject",
    "sort_records",
    "taxii_app",
]
