"""Reading real-world W3C logs: any #Fields order, several header blocks, comments, gzip, damage."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime
from pathlib import Path

from honeyscope.share.iis import read_w3c, record_to_event

CUSTOM = (
    "#Software: Microsoft Internet Information Services 8.5\r\n"
    "#Version: 1.0\r\n"
    "#Date: 2021-03-02 23:59:58\r\n"
    "#Fields: date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username "
    "c-ip cs-version cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status sc-substatus sc-win32-status "
    "sc-bytes cs-bytes time-taken\r\n"
    "2021-03-02 23:59:58 W3SVC1 EXCH01 10.1.1.5 POST /ecp/y.js &CorrelationID=<empty>;&cafeReqId=1b2c; 443 - "
    "192.0.2.10 HTTP/1.1 python-requests/2.25.1 X-BEResource=a]@exch01:444/x?#~1 - mail.contoso.com 200 0 0 "
    "1200 900 31\r\n"
    "# a comment line from a log shipper\r\n"
    "\r\n"
    "#Software: Microsoft Internet Information Services 8.5\r\n"
    "#Date: 2021-03-03 00:10:00\r\n"
    "#Fields: time date c-ip cs-method cs-uri-stem sc-status cs-username\r\n"
    "00:10:01 2021-03-03 192.0.2.11 GET /owa/auth/errorFE.aspx 200 CONTOSO\\svc$\n"
)


def test_any_field_order_and_several_header_blocks(tmp_path: Path) -> None:
    path = tmp_path / "u_ex210302.log"
    path.write_text(CUSTOM, newline="")
    records = list(read_w3c(path))
    assert [r.line_number for r in records] == [5, 11]
    first, second = (record_to_event(r) for r in records)
    assert first is not None and second is not None
    assert first.timestamp == datetime(2021, 3, 2, 23, 59, 58, tzinfo=UTC)
    assert (first.http.request.method, first.url.path, first.url.domain) == ("POST", "/ecp/y.js", "mail.contoso.com")
    assert first.url.query == "&CorrelationID=<empty>;&cafeReqId=1b2c;"
    assert first.http.version == "1.1" and first.event.duration == 31_000_000
    assert first.observer.name == "iis-import" and first.observer.hostname == "EXCH01"
    assert ("Cookie", "X-BEResource=a]@exch01:444/x?#~1") in first.honeyscope.request.headers
    assert first.user_agent is not None and first.user_agent.original == "python-requests/2.25.1"
    assert (second.source.ip, second.http.response.status_code) == ("192.0.2.11", 200)
    assert second.timestamp == datetime(2021, 3, 3, 0, 10, 1, tzinfo=UTC)
    assert [(c.scheme, c.username) for c in second.honeyscope.credentials] == [("iis", "CONTOSO\\svc$")]
    assert records[0].location == f"{path}:5"


def test_lines_before_any_fields_use_the_iis_default(tmp_path: Path) -> None:
    path = tmp_path / "u_ex210303.log"
    path.write_text("2021-03-03 01:02:03 10.0.0.5 GET /owa/ - 443 - 192.0.2.1 curl/8.0 - 302 0 0 4\n")
    [record] = read_w3c(path)
    event = record_to_event(record)
    assert event is not None and event.url.original == "/owa/" and event.http.response.status_code == 302


def test_gzip_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "u_ex210303.log.gz"
    with gzip.open(path, "wt", newline="") as handle:
        handle.write(CUSTOM)
    assert len(list(read_w3c(path))) == 2


def test_damaged_and_over_long_lines(tmp_path: Path) -> None:
    path = tmp_path / "u_ex210304.log"
    good = b"2021-03-04 01:02:03 10.0.0.5 GET /owa/ - 443 - 192.0.2.1 curl/8.0 - 302 0 0 4\r\n"
    path.write_bytes(good + b"2021-03-04 only four values\r\n" + b"x" * 3_000_000 + b"\r\n"
                     + b"not-a-date 01:02:03 10.0.0.5 GET /owa/ - 443 - 192.0.2.1 curl/8.0 - 302 0 0 4\r\n" + good)
    records = list(read_w3c(path, max_line_bytes=1 << 20))
    assert [r.line_number for r in records] == [1, 2, 3, 4, 5]
    assert records[1].fields is None and records[1].problem == "4 values for 15 fields"
    assert len(records[2].raw) == 1 << 20
    assert record_to_event(records[3]) is None
    assert record_to_event(records[4]) is not None


def test_binary_garbage_does_not_break_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "garbage.log"
    path.write_bytes(random.Random(11).randbytes(500_000))
    records = list(read_w3c(path))
    assert all(record_to_event(r) is None for r in records)
