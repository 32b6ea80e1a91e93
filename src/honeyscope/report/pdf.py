"""Print an HTML report to PDF with headless Chromium (the browser the user already has; no Python PDF engine).

Chromium is found from an explicit path, then ``$HONEYSCOPE_CHROMIUM``, then ``chromium``,
``chromium-browser`` and ``google-chrome`` on ``PATH``. It runs with a fresh profile in a temporary
directory, no network services (background networking, component updates, sync all off) and a bounded
time; the report itself loads nothing (its Content-Security-Policy forbids it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

#: Names looked up on PATH, in order.
CHROMIUM_NAMES: Final = ("chromium", "chromium-browser", "google-chrome")
#: Environment variable naming the browser.
CHROMIUM_ENV: Final = "HONEYSCOPE_CHROMIUM"
#: Seconds a print may take before Chromium is stopped.
TIMEOUT: Final = 120.0


class PdfError(RuntimeError):
    """Chromium is missing, failed or timed out; the message says what to do."""


def find_chromium(explicit: str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] | None = None) -> Path:
    """The browser to print with; raises ``PdfError`` naming the fix when there is none."""
    environ = os.environ if environ is None else environ
    for candidate, origin in ((explicit, "--chromium"), (environ.get(CHROMIUM_ENV), f"${CHROMIUM_ENV}")):
        if candidate:
            path = Path(candidate)
            if path.is_file() and os.access(path, os.X_OK):
                return path
            raise PdfError(f"{origin} {candidate}: not an executable file — point it at Chromium, e.g. "
                           "/usr/bin/chromium")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise PdfError("PDF needs Chromium and none was found (tried --chromium, $HONEYSCOPE_CHROMIUM, "
                   f"{', '.join(CHROMIUM_NAMES)}) — install it (apt-get install chromium) or use --format html")


def chromium_command(chromium: Path, html: Path, pdf: Path, profile: Path) -> list[str]:
    """The command line that prints ``html`` to ``pdf``."""
    return [str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
            f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
            html.resolve().as_uri()]


def print_pdf(html: Path, pdf: Path, chromium: Path, *, timeout: float = TIMEOUT) -> int:
    """Print ``html`` (a file) to ``pdf``; return the PDF's size in bytes. Raises ``PdfError``."""
    with tempfile.TemporaryDirectory(prefix="honeyscope-chromium-") as profile:
        target = pdf.resolve()
        target.unlink(missing_ok=True)
        command = chromium_command(chromium, html, target, Path(profile))
        # A session of its own: on timeout the whole browser (zygote, renderer, GPU process) is stopped.
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, errors = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not finish printing within {timeout:g} s — try again, or use "
                           "--format html and print from a browser") from None
        finally:  # on a timeout, Ctrl-C or anything else too: no browser outlives the command
            _stop_leftovers(process.pid)
            if process.poll() is None:
                process.kill()
                process.wait()
    if process.returncode != 0 or not target.is_file() or target.read_bytes()[:5] != b"%PDF-":
        detail = _last_line(errors)
        raise PdfError(f"Chromium ({chromium}) failed to print the report (exit status {process.returncode}"
                       f"{': ' + detail if detail else ''}) — use --format html and print from a browser")
    return target.stat().st_size


def _stop_leftovers(group: int) -> None:
    """Helpers Chromium left behind in its session (none normally)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def _last_line(errors: bytes) -> str:
    lines = [line.strip() for line in errors.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
