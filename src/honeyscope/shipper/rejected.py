"""Records the shipper will not publish, listed in ``state_dir/shipper-rejected.jsonl``.

One JSON object per line: ``segment``, ``offset`` (of the record in the spool, which is left in place),
``version`` (schema version, when known), ``event_id`` (when known), ``reason`` and ``at`` (UTC). A newer
honeyscope can re-ship exactly these records. After a crash a record may be listed twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import msgspec

REJECTED_FILE: Final = "shipper-rejected.jsonl"


@dataclass(frozen=True)
class RejectedRecord:
    segment: str
    offset: int
    reason: str
    version: int | None = None
    event_id: str | None = None


class _Line(msgspec.Struct, omit_defaults=True):
    segment: str
    offset: int
    reason: str
    at: datetime
    version: int | None = None
    event_id: str | None = None


class RejectedLog:
    """Appends rejected records durably (fsync) before the shipper moves past them."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / REJECTED_FILE

    def append(self, records: list[RejectedRecord], at: datetime) -> None:
        """Append and fsync. Raises ``OSError``."""
        if not records:
            return
        data = b"".join(msgspec.json.encode(_Line(r.segment, r.offset, r.reason, at, r.version, r.event_id)) + b"\n"
                        for r in records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[RejectedRecord]:
        """Every listed record (for tools and tests)."""
        if not self.path.exists():
            return []
        lines = self.path.read_bytes().splitlines()
        decoded = [msgspec.json.decode(line, type=_Line) for line in lines if line.strip()]
        return [RejectedRecord(d.segment, d.offset, d.reason, d.version, d.event_id) for d in decoded]
