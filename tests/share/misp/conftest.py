"""Events for the MISP tests: a synthetic campaign, and HAFNIUM's chain with what attribution concludes."""

from __future__ import annotations

import pytest

from honeyscope.events.schema import HttpRequestEvent
from honeyscope.share.stix import AttributedCluster, attribute_events
from honeyscope.share.stix.synthetic import campaign_events, hafnium_chain


@pytest.fixture(scope="session")
def misp_campaign() -> list[HttpRequestEvent]:
    return list(campaign_events(sources=6, days=2, shell_every=5))


@pytest.fixture(scope="session")
def misp_hafnium(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[HttpRequestEvent], list[AttributedCluster]]:
    events = hafnium_chain(tmp_path_factory.mktemp("hafnium") / "spool")
    return events, attribute_events(events)
