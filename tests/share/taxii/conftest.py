"""A real TAXII server: the app mounted at /taxii2 (as the web app mounts it), served by uvicorn on
127.0.0.1 on a free port, in a thread, stopped after the test."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from honeyscope.share.stix import StixRecord, stix_records
from honeyscope.share.stix.synthetic import campaign_events
from honeyscope.share.taxii import CollectionInfo, MemorySource, taxii_app

COLLECTION = CollectionInfo(id="3d2b1f4e-6a7c-4d5e-8f90-123456789abc", title="honeyscope test observations",
                            description="synthetic campaign", alias="test")


@pytest.fixture(scope="session")
def records() -> list[StixRecord]:
    return list(stix_records(campaign_events(sources=8, days=3)))


@pytest.fixture(scope="session")
def memory_source(records: list[StixRecord]) -> MemorySource:
    return MemorySource({COLLECTION: records})


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` served on 127.0.0.1; yields the base URL. Startup and shutdown are bounded (10 s each)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="taxii-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive()


@pytest.fixture
def live_taxii() -> Callable[..., Any]:
    """``live_taxii(source, **taxii_app_options)`` → context manager yielding the discovery URL."""

    @contextmanager
    def start(source: Any, **options: Any) -> Iterator[str]:
        app = Starlette(routes=[Mount("/taxii2", app=taxii_app(source, title="honeyscope test", **options))])
        with serve(app) as base:
            yield f"{base}/taxii2/"

    return start


@pytest.fixture(scope="session")
def collection_info() -> CollectionInfo:
    return COLLECTION
