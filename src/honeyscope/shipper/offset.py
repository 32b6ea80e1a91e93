"""The shipper's durable position in the spool: ``state_dir/shipper-offset.json``.

``{"segment": "segment-000000000003.jsonl", "offset": 1234}`` — the next byte to ship. It only moves
after the bus acknowledged everything before it, and is replaced atomically (write a temporary file,
fsync, rename, fsync the directory), so after any crash it points at or before the first unshipped record.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec

log = logging.getLogger(__name__)

OFFSET_FILE: Final = "shipper-offset.json"


@dataclass(frozen=True)
class Offset:
    """A position: segment file name (empty: the start of the spool) and byte offset in it."""

    segment: str = ""
    offset: int = 0

    def __str__(self) -> str:
        return f"{self.segment}@{self.offset}" if self.segment else "the start of the spool"


class _Stored(msgspec.Struct):
    segment: str
    offset: int


class OffsetFile:
    """Reads and atomically replaces the offset file."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / OFFSET_FILE

    def load(self) -> Offset:
        """The stored position; the start of the spool when there is none or it is unreadable (re-shipping
        is harmless — the store drops duplicates — skipping would not be)."""
        try:
            stored = msgspec.json.decode(self.path.read_bytes(), type=_Stored)
        except FileNotFoundError:
            return Offset()
        except (OSError, msgspec.DecodeError) as error:
            log.error("shipper offset %s is unreadable (%s); shipping the whole spool again — the store drops "
                      "the duplicates", self.path, error)
            return Offset()
        return Offset(stored.segment, max(0, stored.offset))

    def save(self, position: Offset) -> None:
        """Replace the file with ``position`` durably. Raises ``OSError``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        data = msgspec.json.encode(_Stored(position.segment, position.offset)) + b"\n"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(self.path)
        _fsync_directory(self.path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (the directory entry); not possible on every platform."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
