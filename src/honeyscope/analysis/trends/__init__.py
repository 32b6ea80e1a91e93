"""Trends: is attack activity per country, ASN, CVE, persona (or a pair, e.g. country × CVE) growing?

Pure functions over daily counts (``DailyTable``); ``load_table`` reads one from a store. The model,
its parameters and measured false-alarm rate and detection delay are in docs/trends.md.

Names are imported on first use: ``honeyscope.config`` imports ``trends.settings`` for ``[trends]`` and
must not load numpy and pyarrow with it (every command, the decoy sensor too, reads the settings), and
``find_trends`` pulls in statsmodels, scipy and ruptures (seconds), which only the analysis should pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from honeyscope.analysis.trends.detect import find_trends
    from honeyscope.analysis.trends.findings import (
        Skipped,
        TrendFinding,
        TrendReport,
        format_p,
        sentence,
        subject,
    )
    from honeyscope.analysis.trends.reading import load_table
    from honeyscope.analysis.trends.settings import TrendSettings
    from honeyscope.analysis.trends.table import DailyRow, DailyTable, Key, build_table, exposure_from_sensors

_WHERE = {
    "find_trends": "detect",
    "Skipped": "findings", "TrendFinding": "findings", "TrendReport": "findings", "format_p": "findings",
    "sentence": "findings", "subject": "findings",
    "load_table": "reading",
    "TrendSettings": "settings",
    "DailyRow": "table", "DailyTable": "table", "Key": "table", "build_table": "table",
    "exposure_from_sensors": "table",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "DailyRow",
    "DailyTable",
    "Key",
    "Skipped",
    "TrendFinding",
    "TrendReport",
    "TrendSettings",
    "build_table",
    "exposure_from_sensors",
    "find_trends",
    "format_p",
    "load_table",
    "sentence",
    "subject",
]
