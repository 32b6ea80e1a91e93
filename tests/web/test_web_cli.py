"""``honeyscope web`` as a user runs it: refusals are one line, the server starts, serves and stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from honeyscope.cli.main import main
from honeyscope.store.duckdb import DuckDBStore
from honeyscope.testing.web import wait_until_answering, web_process
from honeyscope.web.settings import TOKEN_ENV, verify_token


def honeyscope(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    return subprocess.run([sys.executable, "-m", "honeyscope", "web", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_an_exposed_bind_without_a_token_is_refused_in_one_line(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert main(["web", "--data", str(tmp_path), "--bind", "0.0.0.0:0"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("honeyscope: error: web.bind 0.0.0.0:0 is not a loopback address") and TOKEN_ENV in line


def test_new_token_prints_a_token_and_its_hash(capsys):
    assert main(["web", "--new-token"]) == 0
    token, digest = capsys.readouterr().out.split()
    assert len(token) >= 40 and verify_token(token, digest)


def test_a_store_held_by_another_process_is_one_clear_line(tmp_path: Path):
    store = DuckDBStore(tmp_path / "honeyscope.duckdb")
    store.migrate()
    try:
        result = honeyscope("--data", str(tmp_path), "--bind", "127.0.0.1:0")
    finally:
        store.close()
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "DuckDB lets one process use a file" in line and "its own dashboard serves this store" in line


def test_standalone_dashboard_serves_the_store_and_stops_on_sigterm(tmp_path: Path, campaign):
    copy = DuckDBStore(tmp_path / "honeyscope.duckdb")
    copy.migrate()
    copy.write(campaign.events[:40])
    copy.close()
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    with web_process(["--data", str(tmp_path), "--bind", "127.0.0.1:0"], env) as (process, line):
        match = re.search(r"dashboard on (http://127\.0\.0\.1:\d+/) \(open on loopback", line)
        assert match, line + (process.stderr.read() if process.poll() is not None and process.stderr else "")
        wait_until_answering(match.group(1) + "api/overview")
        response = httpx.get(match.group(1) + "api/overview", timeout=5)
        assert response.status_code == 200 and response.json()["total"] == 40
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
