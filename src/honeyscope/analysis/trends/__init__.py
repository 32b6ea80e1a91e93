"""Trends: is attack activity per country, ASN, CVE, persona (or a pair, e.g. country × CVE) growing?

Pure functions over daily counts (``DailyTable``); ``load_table`` reads one from a store. The model,
its parameters and measured false-alarm rate and detection delay are in docs/trends.md.

``find_trends`` is imported on first use: it pulls in statsmodels, scipy and ruptures (seconds), which
every other ``honeyscope`` command should not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from honeyscope.analysis.trends.findings import Skipped, TrendFinding, TrendReport, format_p, sentence, subject
from honeyscope.analysis.trends.reading import load_table
from honeyscope.analysis.trends.settings import TrendSettings
from honeyscope.analysis.trends.table import DailyRow, DailyTable, Key, build_table, exposure_from_sensors

if TYPE_CHECKING:
    from honeyscope.analysis.trends.detect import find_trends


def __getattr__(name: str) -> Any:
    if name == "find_trends":
        return importlib.import_module("honeyscope.analysis.trends.detect").find_trends
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
