"""Events for the STIX tests: a synthetic campaign, hostile strings, and HAFNIUM's chain with attribution."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from honeyscope.events.schema import HttpRequestEvent
from honeyscope.share.stix import AttributedCluster, StixOptions, attribute_events, write_stix
from honeyscope.share.stix.synthetic import campaign_events, hafnium_chain


@pytest.fixture(scope="session")
def campaign() -> list[HttpRequestEvent]:
    """6 sources over 2 days: probes, ProxyLogon SSRF (every 3rd), web shells (every 5th)."""
    return list(campaign_events(sources=6, days=2, shell_every=5))


@pytest.fixture(scope="session")
def hafnium(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[HttpRequestEvent], list[AttributedCluster]]:
    """The in-the-wild ProxyLogon chain from a published HAFNIUM address, and what attribution concludes."""
    events = hafnium_chain(tmp_path_factory.mktemp("hafnium") / "spool")
    return events, attribute_events(events)


class Stix:
    """Export and read back as a recipient would."""

    @staticmethod
    def export(events: list[HttpRequestEvent], clusters: list[AttributedCluster] | None = None,
               **options: Any) -> dict[str, Any]:
        buffer = io.BytesIO()
        write_stix(events, buffer, options=StixOptions(**options), clusters=clusters or [])
        text = buffer.getvalue().decode("utf-8")  # strict: the bundle is valid UTF-8
        bundle: dict[str, Any] = json.loads(text)
        return bundle

    @staticmethod
    def of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        return [o for o in bundle["objects"] if o["type"] == kind]

    @staticmethod
    def validate(bundle: dict[str, Any]) -> Any:
        """stix2-validator 3.2.0's verdict on the whole bundle."""
        from stix2validator import ValidationOptions, validate_instance

        return validate_instance(bundle, ValidationOptions(version="2.1"))


@pytest.fixture(scope="session")
def stix() -> type[Stix]:
    return Stix
