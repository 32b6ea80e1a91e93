"""The spool keeps every event it was handed, and readers survive damage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from honeyscope.sensor.spool import ReadStats, SpoolWriter, list_segments, read_spool


def payloads(n: int, prefix: str = "e") -> list[bytes]:
    return [b'{"id":"%s%d"}' % (prefix.encode(), i) for i in range(n)]


def test_written_records_read_back_in_order_across_rotation(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, segment_bytes=200)
    for batch in range(10):
        assert writer.append(payloads(3, f"b{batch}-"))
    writer.close()
    assert len(list_segments(tmp_path)) > 3
    got = [r.payload for r in read_spool(tmp_path)]
    assert got == [p for batch in range(10) for p in payloads(3, f"b{batch}-")]


def test_each_start_opens_a_new_segment(tmp_path: Path) -> None:
    SpoolWriter(tmp_path).append(payloads(1))
    second = SpoolWriter(tmp_path)
    assert second.current_segment.name == "segment-000000000002.jsonl"


def test_torn_tail_of_a_sealed_segment_is_skipped_and_counted(tmp_path: Path) -> None:
    first = SpoolWriter(tmp_path)
    first.append(payloads(3))
    first.close()
    with first.current_segment.open("ab") as handle:
        handle.write(b"0123abcd {\"id\":\"torn")  # a crash mid-write
    SpoolWriter(tmp_path).append(payloads(1, "after"))
    stats = ReadStats()
    got = [r.payload for r in read_spool(tmp_path, stats)]
    assert got == [*payloads(3), *payloads(1, "after")]
    assert stats.torn == 1 and stats.corrupt == 0


def test_incomplete_last_line_of_the_live_segment_is_not_consumed(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.append(payloads(2))
    with writer.current_segment.open("ab") as handle:
        handle.write(b"00000000 {\"partial")
    stats = ReadStats()
    records = list(read_spool(tmp_path, stats))
    assert len(records) == 2 and stats.torn == 0
    assert records[-1].next_offset < writer.current_segment.stat().st_size


def test_corrupt_record_in_the_middle_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.append(payloads(5))
    writer.close()
    data = bytearray(writer.current_segment.read_bytes())
    second_line = data.index(b"\n") + 1
    data[second_line + 12] ^= 0x20  # flip one bit inside record 2's JSON
    writer.current_segment.write_bytes(bytes(data))
    stats = ReadStats()
    got = [r.payload for r in read_spool(tmp_path, stats)]
    assert got == [p for i, p in enumerate(payloads(5)) if i != 1]
    assert stats.corrupt == 1
    assert "corrupt record" in stats.problems[0]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to simulate a full disk")
def test_full_disk_drops_counted_without_raising(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    writer = SpoolWriter(tmp_path)
    os.dup2(os.open("/dev/full", os.O_WRONLY), writer._fd)  # the real ENOSPC path of the kernel
    assert writer.append(payloads(3)) is False
    assert writer.append(payloads(2)) is False
    assert writer.dropped_events == 5
    assert sum("DROPPED" in r.getMessage() for r in caplog.records) == 1  # loud once per streak, not per event


def test_artifacts_are_content_addressed_and_stored_once(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    shell = b'<script language="JScript" runat="server">function Page_Load(){eval(Request["x"],"unsafe");}</script>'
    digest = writer.store_artifact(shell)
    assert writer.store_artifact(shell) == digest
    path = tmp_path / "artifacts" / digest[:2] / digest
    assert path.read_bytes() == shell
    assert len(list((tmp_path / "artifacts").rglob("*"))) == 2  # one folder, one file
