"""``honeyscope web`` as a child process, for tests that drive the real dashboard over HTTP on loopback."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence


@contextlib.contextmanager
def web_process(arguments: Sequence[str], env: Mapping[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``python -m honeyscope web ARGUMENTS``; yields the process and the first line it printed (which
    names its URL). On leaving, a process still running is terminated (killed after 20 s) and its pipes are
    closed."""
    process = subprocess.Popen([sys.executable, "-m", "honeyscope", "web", *arguments], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(env))
    try:
        assert process.stdout is not None
        yield process, process.stdout.readline()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def wait_until_answering(url: str, timeout: float = 20.0) -> None:
    """Poll ``url`` until the server answers at all (any HTTP status); AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 — tests pass http://127.0.0.1 URLs only
                return
        except urllib.error.HTTPError:
            return  # an answer: the server is up (e.g. 401 before login)
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, f"nothing answered at {url} within {timeout:g} s"
            time.sleep(0.1)
