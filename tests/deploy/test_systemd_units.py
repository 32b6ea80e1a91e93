"""The shipped systemd units start commands that exist, with flags our CLI accepts."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from honeyscope.cli.main import build_parser

UNITS = sorted((Path(__file__).resolve().parents[2] / "deploy" / "systemd").glob("*.service"))


def test_every_component_has_a_unit() -> None:
    assert {unit.stem for unit in UNITS} == {"honeyscope-sensor", "honeyscope-ship", "honeyscope-collect",
                                             "honeyscope-up"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.stem)
def test_exec_start_parses_and_runs_unprivileged(unit: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    service = parser["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/honeyscope")
    arguments = build_parser().parse_args(command[1:])  # exits (fails the test) on an unknown flag
    assert arguments.command == unit.stem.removeprefix("honeyscope-")
    assert service["User"] != "root" and service["NoNewPrivileges"] == "true"
    capabilities = service.get("AmbientCapabilities", "")
    assert capabilities in ("", "CAP_NET_BIND_SERVICE")
