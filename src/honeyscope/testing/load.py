"""A bounded load generator for end-to-end tests and benchmarks: many keep-alive connections, each
sending a pipelined window of requests from a fixed mix, against loopback sensors only.

It stops by itself after ``total`` requests or ``deadline`` seconds, whichever comes first, and counts
only requests whose complete response arrived (so a request counted here was spooled by the sensor).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from honeyscope.testing.requests import raw_request_bytes

#: What a decoy sees all day: logon pages, fingerprinting, exploit probes, assets, junk.
DEFAULT_MIX: tuple[tuple[str, str], ...] = (
    ("GET", "/owa/auth/logon.aspx?replaceCurrent=1&url=https%3a%2f%2fmail.contoso.com%2fowa%2f"),
    ("GET", "/owa/"),
    ("GET", "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application"),
    ("GET", "/autodiscover/autodiscover.json?@evil.com/owa/&Email=autodiscover/autodiscover.json%3f@evil.com"),
    ("POST", "/ews/exchange.asmx"),
    ("GET", "/aspnet_client/discover.aspx"),
    ("GET", "/.env"),
    ("GET", "/owa/auth/x.js"),
    ("GET", "/rpc/rpcproxy.dll"),
    ("GET", "/mapi/emsmdb/"),
)

_LOOPBACK_PREFIXES = ("127.", "::1", "localhost")
#: A refused connection is retried for up to 30 s (100 × 0.3 s) before the connection's worker gives up.
_CONNECT_ATTEMPTS = 100
_CONNECT_RETRY_SECONDS = 0.3


@dataclass
class LoadResult:
    sent: int = 0
    answered: int = 0
    errors: int = 0
    per_target: dict[str, int] = field(default_factory=dict)


async def generate_load(targets: Sequence[tuple[str, int]], *, total: int, connections: int = 32,
                        pipeline: int = 8, deadline: float = 300.0,
                        mix: Sequence[tuple[str, str]] = DEFAULT_MIX, seed: int = 1) -> LoadResult:
    """Send up to ``total`` requests spread over the targets; return what was answered."""
    for host, _ in targets:
        if not host.startswith(_LOOPBACK_PREFIXES):
            raise ValueError(f"load is only generated against loopback addresses, not {host}")
    result = LoadResult()
    budget = _Budget(total)
    rng = random.Random(seed)
    requests = [raw_request_bytes(method, target, [("User-Agent", f"honeyscope-load/{index}")],
                                  b"<x/>" if method == "POST" else b"")
                for index, (method, target) in enumerate(mix)]
    cycle = itertools.cycle(targets)
    workers = [asyncio.create_task(_connection(next(cycle), requests, rng.randrange(len(requests)), pipeline,
                                               budget, result))
               for _ in range(connections)]
    done, pending = await asyncio.wait(workers, timeout=deadline)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            result.errors += 1
    return result


class _Budget:
    def __init__(self, total: int) -> None:
        self.left = total

    def take(self, wanted: int) -> int:
        granted = min(wanted, self.left)
        self.left -= granted
        return granted


async def _connection(target: tuple[str, int], requests: list[bytes], start: int, pipeline: int,
                      budget: _Budget, result: LoadResult) -> None:
    key = f"{target[0]}:{target[1]}"
    position = start
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        while True:
            window = budget.take(pipeline)
            if window == 0:
                return
            if writer is None:
                try:
                    reader, writer = await _connect(target)
                except OSError:
                    budget.left += window
                    raise
            assert reader is not None
            batch = [requests[(position + offset) % len(requests)] for offset in range(window)]
            position += window
            writer.write(b"".join(batch))
            result.sent += window
            answered, closed = await _read_responses(reader, window)
            result.answered += answered
            result.per_target[key] = result.per_target.get(key, 0) + answered
            if closed or answered < window:
                # The server closed (limits, errors): unanswered requests go back into the budget.
                budget.left += window - answered
                writer.close()
                reader = writer = None
    except (ConnectionError, OSError):
        result.errors += 1
    finally:
        if writer is not None:
            writer.close()


async def _connect(target: tuple[str, int]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect, retrying for a while: a sensor being restarted refuses connections for a moment."""
    for _ in range(_CONNECT_ATTEMPTS - 1):
        try:
            return await asyncio.open_connection(*target)
        except OSError:
            await asyncio.sleep(_CONNECT_RETRY_SECONDS)
    return await asyncio.open_connection(*target)


async def _read_responses(reader: asyncio.StreamReader, count: int) -> tuple[int, bool]:
    """Read ``count`` responses framed by Content-Length; (answered, server closed the connection)."""
    answered = 0
    for _ in range(count):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return answered, True
        length, close = _framing(head)
        if length:
            try:
                await reader.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError):
                return answered, True
        answered += 1
        if close:
            return answered, True
    return answered, False


def _framing(head: bytes) -> tuple[int, bool]:
    length, close = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value.strip() or b"0")
        elif lowered == b"connection" and value.strip().lower() == b"close":
            close = True
    return length, close
