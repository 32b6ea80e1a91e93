"""Runs the sensor as a child process and restarts it if it dies.

The decoy lives in its own process so that the collector's CPU work never slows its answers and a crash
on one side never takes the other down; the spool between them is the only thing they share.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import signal
import sys
from pathlib import Path

from honeyscope.config import ConfigError

log = logging.getLogger("honeyscope.up")

_READY_TIMEOUT = 30.0
_MAX_RESTART_DELAY = 30.0


class SensorStartError(ConfigError):
    """The sensor exited before listening, almost always a configuration problem (busy port, bad cert)."""


class SensorProcess:
    """``honeyscope sensor`` with the given arguments, supervised."""

    def __init__(self, arguments: list[str], ready_file: Path, log_file: Path) -> None:
        self.arguments = arguments
        self.ready_file = ready_file
        self.log_file = log_file
        self.process: asyncio.subprocess.Process | None = None
        self.listeners: list[str] = []
        self.restarts = 0
        self._stopping = False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def status(self) -> dict[str, object]:
        return {"pid": self.process.pid if self.process else None, "running": self.running,
                "restarts": self.restarts, "listeners": self.listeners, "log": str(self.log_file)}

    async def start(self) -> list[str]:
        """Start the sensor and wait until it listens; its URLs. Raises SensorStartError if it cannot."""
        self.ready_file.unlink(missing_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as output:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "honeyscope", "sensor", *self.arguments,
                "--ready-file", str(self.ready_file), stdout=output, stderr=output,
                preexec_fn=_die_with_parent)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READY_TIMEOUT
        while not self._ready():
            if self.process.returncode is not None or loop.time() > deadline:
                await self._terminate()
                raise SensorStartError(self._start_failure())
            await asyncio.sleep(0.05)
        self.listeners = self.ready_file.read_text(encoding="utf-8").split()
        return self.listeners

    async def supervise(self, stop: asyncio.Event) -> None:
        """Restart the sensor whenever it exits until ``stop`` is set (backoff up to 30 s)."""
        delay = 1.0
        while not stop.is_set():
            assert self.process is not None
            waiter = asyncio.create_task(self.process.wait())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if stop.is_set():
                waiter.cancel()
                return
            log.error("the sensor exited with status %s; restarting in %.0f s (log: %s)",
                      self.process.returncode, delay, self.log_file)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                return
            try:
                await self.start()
                self.restarts += 1
                delay = 1.0
            except SensorStartError as error:
                log.error("%s", error)
                delay = min(delay * 2, _MAX_RESTART_DELAY)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s: the sensor flushes its spool on SIGTERM."""
        await self._terminate()

    async def _terminate(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def _ready(self) -> bool:
        """The sensor writes its URLs, one per line, once it listens (complete when newline-terminated)."""
        try:
            return self.ready_file.read_text(encoding="utf-8").endswith("\n")
        except FileNotFoundError:
            return False

    def _start_failure(self) -> str:
        """The sensor's own one-line error when it gave one, else a pointer to its log."""
        for line in reversed(self._log_tail(50).splitlines()):
            if line.startswith("honeyscope: error: "):
                return "sensor: " + line.removeprefix("honeyscope: error: ")
        return f"the sensor did not start — see its log {self.log_file}"

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM the sensor when its parent dies (even by kill -9),
    so a crashed ``up`` never leaves an orphaned decoy holding its ports. Elsewhere this does nothing."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
