"""Fixtures shared by the browser tests (tests/web, tests/report): one Chromium per module, and a directory
for the screenshots they take, named by the test package and announced once on the terminal."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from honeyscope.testing.browser import artifact_directory, headless_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with headless_chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def artifacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              pytestconfig: pytest.Config) -> Path:
    """``$HONEYSCOPE_TEST_ARTIFACTS/<package>`` (CI keeps it) or a temporary directory, e.g. ``web``."""
    kind = Path(str(request.path)).parent.name
    directory = artifact_directory(kind, tmp_path_factory.getbasetemp())
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\n{kind} browser screenshots: {directory}")
    return directory
