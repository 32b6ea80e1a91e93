"""``[trends]`` in the settings file: typed values, one clear line per mistake, documented keys, and no
heavy import for the commands that only read the settings."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import msgspec
import pytest

from honeyscope.analysis.trends import TrendSettings
from honeyscope.config import ConfigError, load_settings

DOCS = Path(__file__).resolve().parents[3] / "docs"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "honeyscope.toml"
    path.write_text(text)
    return path


def test_the_section_gives_typed_settings(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, """
[trends]
min_sustained_days = 10
min_total_events = 20
min_observed_days = 21
min_segment_days = 4
penalty = 6
alpha = 0.01
correction = "bh"
max_changes_per_series = 3
"""))
    assert settings.trends == TrendSettings(min_sustained_days=10, min_total_events=20, min_observed_days=21,
                                            min_segment_days=4, penalty=6.0, alpha=0.01, correction="bh",
                                            max_changes_per_series=3)
    assert load_settings(write(tmp_path, "[store]\nkind = \"duckdb\"\n")).trends == TrendSettings()


@pytest.mark.parametrize(("text", "expected"), [
    ("[trends]\nalhpa = 0.1\n", "unknown key 'trends.alhpa' — remove it or fix its spelling"),
    ("[trends]\nalpha = 2\n", "trends.alpha = 2.0 — it must lie between 0 and 1, e.g. 0.05"),
    ("[trends]\npenalty = 0\n", "trends.penalty = 0.0 — it must be positive"),
    ("[trends]\nmin_segment_days = 0\n", "trends.min_segment_days = 0 — it must be at least 1"),
    ("[trends]\nmin_total_events = \"many\"\n", "trends.min_total_events: Expected `int`, got `str`"),
    ("[trends]\ncorrection = \"holm\"\n", "trends.correction: Invalid enum value 'holm'"),
])
def test_mistakes_are_one_line_with_key_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    message = str(caught.value)
    assert expected in message and "\n" not in message and str(tmp_path) in message, message


def test_the_configuration_page_documents_every_key() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    section = re.split(r"^\[trends\]$", page, maxsplit=1, flags=re.MULTILINE)[1].split("```", 1)[0]
    documented = set(re.findall(r"^([a-z_]+) = ", section, re.MULTILINE))
    assert documented == {field.name for field in msgspec.structs.fields(TrendSettings)}
    # The values shown are the defaults.
    shown = tomllib.loads("\n".join(line.split("#", 1)[0] for line in section.splitlines() if " = " in line))
    assert msgspec.convert(shown, TrendSettings) == TrendSettings()


def test_reading_the_settings_loads_no_numerical_library() -> None:
    # Every command reads the settings (the decoy sensor too): [trends] must not pull in numpy or pyarrow.
    probe = ("import sys, honeyscope.config; honeyscope.config.load_settings(None); "
             "print(sorted({'numpy', 'pyarrow', 'statsmodels', 'scipy'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
