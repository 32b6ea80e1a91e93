"""``honeyscope replay``: feed recorded events through the same bus → collector → store path as live ones.

Accepted inputs: spool directories and segment files (CRC-framed lines), plain JSON lines of events (an
export, or a fixture), and the collector's ``rejected-events.jsonl`` (to re-ingest once the cause is
fixed). Writes are idempotent, so replaying the same file twice stores its events once.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.bus.base import Outgoing
from honeyscope.bus.memory import MemoryBus
from honeyscope.collector.pipeline import Collector, CollectorStats, DeadLetters, Stage
from honeyscope.config import CollectorSettings, ConfigError
from honeyscope.sensor.spool import list_segments
from honeyscope.store.base import EventStore


class _IdProbe(msgspec.Struct):
    class _Meta(msgspec.Struct):
        id: str = ""

    event: _Meta = msgspec.field(default_factory=_Meta)


class _DeadLetter(msgspec.Struct):
    payload: str


_ID_PROBE = msgspec.json.Decoder(_IdProbe)
_DEAD_LETTER = msgspec.json.Decoder(_DeadLetter)


@dataclass
class ReplayResult:
    read: int
    unreadable: int
    collector: CollectorStats


def replay_files(paths: Sequence[Path]) -> list[Path]:
    """Expand spool directories into their segments; refuse paths that do not exist."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            segments = [segment for _, segment in list_segments(path)]
            if not segments:
                raise ConfigError(f"{path}: no spool segments (segment-*.jsonl) in this directory — pass a "
                                  "spool directory, a segment file or a JSON-lines file of events")
            files.extend(segments)
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(f"{path}: no such file or directory — pass recorded events to replay")
    return files


def iter_payloads(path: Path) -> Iterator[tuple[bytes | None, int]]:
    """(event JSON or None if unreadable, bytes consumed) for every line of a file."""
    with path.open("rb") as handle:
        for line in handle:
            yield _payload_of(line.rstrip(b"\r\n")), len(line)


def _payload_of(line: bytes) -> bytes | None:
    if not line.strip():
        return None
    if line[:1] == b"{":
        if line.startswith(b'{"event_id"') and b'"payload"' in line:
            try:
                return _DEAD_LETTER.decode(line).payload.encode("utf-8")
            except msgspec.DecodeError:
                return None
        return line
    # A spool record: "<crc32 as 8 hex> <json>"; a checksum mismatch means a damaged line.
    if len(line) > 9 and line[8:9] == b" ":
        try:
            expected = int(line[:8], 16)
        except ValueError:
            return None
        payload = line[9:]
        return payload if zlib.crc32(payload) == expected else None
    return None


def event_id_of(payload: bytes) -> str:
    try:
        return _ID_PROBE.decode(payload).event.id
    except msgspec.DecodeError:
        return ""


async def replay(paths: Sequence[Path], store: EventStore, *, settings: CollectorSettings,
                 stages: Sequence[tuple[str, Stage]], dead_letters: DeadLetters,
                 progress: Callable[[int], None] | None = None) -> ReplayResult:
    """Publish every readable event and wait until the store has committed them."""
    bus = MemoryBus(capacity=max(settings.batch_events * 2, 1000))
    publisher = bus.publisher()
    collector = Collector(bus.subscriber(), store, settings=settings, stages=stages, dead_letters=dead_letters)
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(stop))
    read = unreadable = 0
    batch: list[Outgoing] = []
    # Several batches in flight, so decoding the next overlaps the store writing the previous one.
    in_flight: set[asyncio.Task[None]] = set()
    try:
        for path in paths:
            for payload, consumed in iter_payloads(path):
                if progress is not None:
                    progress(consumed)
                if payload is None:
                    unreadable += 1
                    continue
                read += 1
                batch.append(Outgoing(event_id_of(payload), payload))
                if len(batch) >= settings.batch_events:
                    await _publish_bounded(publisher.publish(batch), in_flight, settings.queue_batches + 1)
                    batch = []
        if batch:
            await _publish_bounded(publisher.publish(batch), in_flight, 1)
        if in_flight:
            await asyncio.gather(*in_flight)
    finally:
        stop.set()
        await task
        await bus.close()
    return ReplayResult(read, unreadable, collector.stats)


async def _publish_bounded(publish: Coroutine[Any, Any, None], in_flight: set[asyncio.Task[None]],
                           limit: int) -> None:
    task = asyncio.create_task(publish)
    in_flight.add(task)
    task.add_done_callback(in_flight.discard)
    while len(in_flight) >= limit:
        done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
        for finished in done:
            finished.result()
