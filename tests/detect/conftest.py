"""Fixtures for the Sigma engine tests: the built-in pack, the SigmaHQ snapshot in ../shared (skipped
cleanly when absent), and a helper to write rule files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from honeyscope.detect import RuleSet, builtin_rule_paths, load_rules

REPO = Path(__file__).resolve().parents[2]
SIGMAHQ = REPO.parent / "shared" / "data" / "sigmahq"

WriteRule = Callable[..., Path]


def sigmahq_webserver_files() -> list[Path]:
    """The SigmaHQ rules whose log source is the webserver category (86 in the snapshot)."""
    return sorted(path for path in SIGMAHQ.rglob("*.yml") if "category: webserver" in path.read_text("utf-8"))


@pytest.fixture(scope="session")
def sigmahq_dir() -> Path:
    if not SIGMAHQ.is_dir():
        pytest.skip(f"SigmaHQ snapshot not found at {SIGMAHQ} (../shared/data/sigmahq beside the repository)")
    return SIGMAHQ


@pytest.fixture(scope="session")
def sigmahq_web_files(sigmahq_dir: Path) -> list[Path]:
    return sigmahq_webserver_files()


@pytest.fixture(scope="session")
def pack() -> RuleSet:
    """The built-in rule pack, loaded once."""
    return load_rules(builtin_rule_paths())


@pytest.fixture(scope="session")
def pack_and_sigmahq(sigmahq_dir: Path) -> RuleSet:
    """Our pack plus the SigmaHQ webserver rules."""
    return load_rules([*builtin_rule_paths(), *sigmahq_webserver_files()])


@pytest.fixture
def write_rule(tmp_path: Path) -> WriteRule:
    """Write ``text`` (dedented) as a rule file and return its path."""
    def write(text: str, name: str = "rule.yml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path
    return write
