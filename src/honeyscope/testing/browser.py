"""Headless Chromium for browser tests: Debian's ``chromium`` driven by Playwright (never a browser that
Playwright downloads), and a directory for the screenshots a test keeps as artefacts.

Playwright is a test dependency (``pip install -e '.[dev]'``); it is imported only when a browser starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Where Debian's package puts the browser.
DEBIAN_CHROMIUM = "/usr/bin/chromium"
#: Names the skip reason gives when no browser is found.
MISSING = "Debian's chromium is not installed (apt-get install chromium)"


def chromium_path() -> str | None:
    """Debian's Chromium, else a ``chromium`` on PATH, else ``None``."""
    return DEBIAN_CHROMIUM if Path(DEBIAN_CHROMIUM).exists() else shutil.which("chromium")


def artifact_directory(kind: str, temporary_root: Path) -> Path:
    """``$HONEYSCOPE_TEST_ARTIFACTS/<kind>`` when set (CI keeps it), else ``<temporary_root>/<kind>-artifacts``."""
    root = os.environ.get("HONEYSCOPE_TEST_ARTIFACTS")
    directory = Path(root) / kind if root else temporary_root / f"{kind}-artifacts"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@contextlib.contextmanager
def headless_chromium() -> Iterator[Any]:
    """A Playwright ``Browser`` on the system's Chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise FileNotFoundError(MISSING)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield browser
        finally:
            browser.close()
