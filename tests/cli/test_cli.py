"""Every command explains itself, and configuration errors are one line with a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [[], ["sensor"], ["spool"], ["spool", "cat"], ["spool", "stats"], ["personas"], ["docs"]]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "honeyscope", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help_explains_each_command(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "usage: honeyscope" in result.stdout
    assert len(result.stdout.splitlines()) >= 4


def test_personas_lists_exchange() -> None:
    assert "exchange" in run("personas").stdout.split()


def test_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[sensor.limits]\nmax_conections = 5\n")
    result = run("sensor", "--config", str(config), "--http", "127.0.0.1:0", "--spool", str(tmp_path / "s"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"honeyscope: error: {config}: unknown key 'sensor.limits.max_conections' — remove it or "
                     "fix its spelling (see docs/configuration.md for the valid keys)"]


def test_bad_persona_option_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[personas.exchange]\nbuild = 15\n")
    result = run("sensor", "--config", str(config), "--http", "127.0.0.1:0", "--spool", str(tmp_path / "s"))
    assert result.returncode == 2
    assert "personas.exchange.build" in result.stderr and "Traceback" not in result.stderr


def test_no_listener_is_a_clear_error(tmp_path: Path) -> None:
    result = run("sensor", "--spool", str(tmp_path / "s"))
    assert result.returncode == 2
    assert "no listener configured" in result.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("sensor", "--http", f"127.0.0.1:{port}", "--spool", str(tmp_path / "s"))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
