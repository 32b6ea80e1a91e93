"""The spool: append-only, rotating segment files that every event reaches before its response is sent.

Format: one record per line, ``<crc32 as 8 hex digits> <event JSON>\\n``. The checksum lets a reader
tell a torn or corrupted record from a good one; a line without its newline is a record still being
written (or, in a sealed segment, torn by a crash). Readers skip and count bad records and go on. Lines
stay greppable: ``cut -c10- segment-*.jsonl | jq .`` shows the events.

Segments are named ``segment-<number>.jsonl`` with a zero-padded, increasing number; each sensor start
opens a new segment, so a crash's torn tail is never appended to. "Handed to the OS" means ``write(2)``
returned: a killed sensor loses nothing that was answered. ``fsync`` per batch is optional (power loss).

Artifacts (web shells, payloads) are stored once each under ``artifacts/<sha[:2]>/<sha256>``.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

_SEGMENT: Final = re.compile(r"segment-(\d{12})\.jsonl\Z")
_CHECK_LEN: Final = 9  # 8 hex digits and a space


def segment_name(number: int) -> str:
    """File name of segment ``number``."""
    return f"segment-{number:012d}.jsonl"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """The spool's segments in order."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _SEGMENT.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def frame(payload: bytes) -> bytes:
    """One spool record for ``payload`` (which must not contain a newline: JSON never does)."""
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


class SpoolWriter:
    """Appends framed records to the current segment; rotates by size; survives a full disk.

    On a write error (disk full, I/O error) the batch is counted in ``dropped_events``, a loud log
    line is written (once per error streak), and the caller carries on: the decoy keeps answering.
    """

    def __init__(self, directory: Path, *, segment_bytes: int = 64 * 1024 * 1024, fsync: bool = False) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.dropped_events = 0
        self.written_events = 0
        self._failing = False
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "artifacts").mkdir(exist_ok=True)
        existing = list_segments(directory)
        self._number = existing[-1][0] + 1 if existing else 1
        self._fd = -1
        self._size = 0
        self._open_segment()

    @property
    def current_segment(self) -> Path:
        return self.directory / segment_name(self._number)

    def _open_segment(self) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.current_segment, flags, 0o640)
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        os.close(self._fd)
        self._number += 1
        self._open_segment()

    def append(self, payloads: list[bytes]) -> bool:
        """Write a batch of event payloads; True once the OS has them, False if they were dropped."""
        if not payloads:
            return True
        # The same bytes as joining frame(payload) for each, without copying every payload twice.
        parts: list[bytes] = []
        for payload in payloads:
            parts += (b"%08x " % zlib.crc32(payload), payload, b"\n")
        data = b"".join(parts)
        try:
            if self._size >= self.segment_bytes:
                self._rotate()
            self._write_all(data)
        except OSError as error:
            self._on_error(error, len(payloads))
            return False
        if self._failing:
            log.warning("spool %s: writing again after %d dropped events", self.directory, self.dropped_events)
            self._failing = False
        self.written_events += len(payloads)
        return True

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self._size += written
        if self.fsync:
            os.fsync(self._fd)

    def _on_error(self, error: OSError, count: int) -> None:
        self.dropped_events += count
        if not self._failing:
            reason = "disk full" if error.errno == errno.ENOSPC else error.strerror
            log.error("SPOOL WRITE FAILED (%s) in %s: events are being DROPPED; the decoy keeps answering. "
                      "Free space or fix the spool directory.", reason, self.directory)
            self._failing = True

    def store_artifact(self, content: bytes) -> str:
        """Store content once under its sha256 and return the hex digest. Errors are logged, not raised."""
        digest = hashlib.sha256(content).hexdigest()
        path = self.directory / "artifacts" / digest[:2] / digest
        if path.exists():
            return digest
        try:
            path.parent.mkdir(exist_ok=True)
            temporary = path.with_suffix(".part")
            temporary.write_bytes(content)
            temporary.replace(path)
        except OSError as error:
            log.error("artifact %s could not be stored: %s", digest, error)
        return digest

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@dataclass
class SpoolRecord:
    """A good record: where it is and its payload."""

    segment: Path
    offset: int
    next_offset: int
    payload: bytes


@dataclass
class ReadStats:
    """What a read skipped: checksum failures, torn tails of sealed segments."""

    records: int = 0
    corrupt: int = 0
    torn: int = 0
    problems: list[str] = field(default_factory=list)


def read_segment(path: Path, offset: int = 0, *, sealed: bool, stats: ReadStats) -> Iterator[SpoolRecord]:
    """Good records of one segment from ``offset``. A final line without newline is a record being
    written unless the segment is ``sealed`` (a later segment exists), in which case it is torn.

    Read a line at a time through the file's buffer, not the whole segment at once: a segment is up to
    ``segment_bytes`` (64 MiB by default) and a backlog of them must not cost that much memory each; a
    line is at most one record (bounded by the sensor's body limit)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        start = offset
        for line in handle:
            if not line.endswith(b"\n"):
                if sealed:
                    stats.torn += 1
                    stats.problems.append(f"{path.name}@{start}: torn record skipped")
                return
            end = start + len(line)
            record = _check(line[:-1])
            if record is None:
                stats.corrupt += 1
                stats.problems.append(f"{path.name}@{start}: corrupt record skipped")
            else:
                stats.records += 1
                yield SpoolRecord(path, start, end, record)
            start = end


def _check(line: bytes) -> bytes | None:
    if len(line) <= _CHECK_LEN or line[8:9] != b" ":
        return None
    payload = line[_CHECK_LEN:]
    try:
        expected = int(line[:8], 16)
    except ValueError:
        return None
    return payload if zlib.crc32(payload) == expected else None


def read_spool(directory: Path, stats: ReadStats | None = None) -> Iterator[SpoolRecord]:
    """Every good record of every segment, in order."""
    stats = stats if stats is not None else ReadStats()
    segments = list_segments(directory)
    for index, (_, path) in enumerate(segments):
        yield from read_segment(path, sealed=index < len(segments) - 1, stats=stats)


class GroupCommit:
    """Batches the events of every connection served in one event-loop turn into one ``write(2)``.

    Each connection submits its events with a callback that sends its responses; the flush writes all
    the events first and only then runs the callbacks — so the spool-before-response rule holds while
    the write syscall (the costliest step per request) is paid once per loop turn instead of per request.
    """

    def __init__(self, spool: SpoolWriter, call_soon: Callable[[Callable[[], None]], object]) -> None:
        self.spool = spool
        self._call_soon = call_soon
        self._payloads: list[bytes] = []
        self._then: list[Callable[[], None]] = []
        self._scheduled = False

    def submit(self, payloads: list[bytes], then: Callable[[], None]) -> None:
        """Queue events; ``then`` runs after they have been handed to the OS (or counted as dropped)."""
        self._payloads.extend(payloads)
        self._then.append(then)
        if not self._scheduled:
            self._scheduled = True
            self._call_soon(self.flush)

    def flush(self) -> None:
        payloads, then = self._payloads, self._then
        self._payloads, self._then, self._scheduled = [], [], False
        self.spool.append(payloads)
        for callback in then:
            try:
                callback()
            except Exception:  # one broken connection must not keep others from their responses
                log.exception("sending a response failed")
