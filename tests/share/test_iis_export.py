"""IIS W3C export: IIS's header block and default field order, one file per UTC day, and one line per
request whatever the client sent."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.events.schema import Credential, HsLimit, HttpRequestEvent, Url, UserAgent
from honeyscope.sensor.personas.exchange import ExchangePersona
from honeyscope.sensor.recording import limit_event, make_observer
from honeyscope.share.iis import (
    DEFAULT_FIELDS,
    IisExportOptions,
    iis_line,
    read_w3c,
    record_to_event,
    write_iis_logs,
)
from honeyscope.testing.record import InProcessRecorder

HEADER = ("#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: {date}\r\n"
          "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
          "cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n")
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.150"


def _event(tmp_path: Path, headers: list[tuple[str, str]] | None = None) -> HttpRequestEvent:
    recorder = InProcessRecorder(ExchangePersona(), tmp_path / "spool", start=datetime(2021, 3, 3, 8, 5, 9, tzinfo=UTC))
    _, event = recorder.send("GET", "/owa/auth/logon.aspx?url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0",
                             headers or [("User-Agent", BROWSER), ("Referer", "https://mail.contoso.com/owa/")])
    recorder.close()
    return event


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    assert data.endswith(b"\r\n")
    return data.decode("utf-8").split("\r\n")[:-1]


def test_default_field_order_is_iis_10() -> None:
    assert " ".join(DEFAULT_FIELDS) == ("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
                                        "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken")


def test_a_request_becomes_one_iis_line(tmp_path: Path) -> None:
    event = _event(tmp_path)
    event.event.duration = 15_400_000
    line = iis_line(event, IisExportOptions(exchange_suffix=False))
    assert line == ("2021-03-03 08:05:09 10.0.0.5 GET /owa/auth/logon.aspx "
                    "url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0 443 - 203.0.113.7 "
                    "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+"
                    "Chrome/88.0.4324.150 https://mail.contoso.com/owa/ 200 0 0 15")


def test_exchange_appends_its_correlation_fields_to_the_query(tmp_path: Path) -> None:
    event = _event(tmp_path)
    fields = iis_line(event).split(" ")
    assert fields[5].startswith("url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0&CorrelationID=<empty>;"
                                "&cafeReqId=")
    assert fields[5].endswith(";&encoding=;") and len(fields) == 15
    assert iis_line(event) == iis_line(event)  # stable: the same export twice gives the same file
    event.honeyscope.persona = "iis"
    assert iis_line(event).split(" ")[5] == "url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0"


def test_one_file_per_utc_day_with_the_iis_header(proxyshell_chain: Any, tmp_path: Path) -> None:
    events = list(reversed(proxyshell_chain.events))  # order does not matter
    stats = write_iis_logs(events, tmp_path / "logs")
    assert [p.name for p in stats.files] == ["u_ex210810.log", "u_ex210809.log"]
    assert stats.lines == len(events) and stats.skipped == 0
    for path in stats.files:
        text = path.read_bytes().decode("utf-8")
        day = "2021-08-09" if path.name == "u_ex210809.log" else "2021-08-10"
        first = _lines(path)[4]
        assert text.startswith(HEADER.format(date=f"{day} {first[11:19]}"))
        assert text.count("#Software:") == 1
        assert all(line.startswith(day) for line in _lines(path)[4:])
    assert sum(len(_lines(p)) - 4 for p in stats.files) == len(events)


def test_iis_version_follows_the_option(proxylogon_chain: Any, tmp_path: Path) -> None:
    stats = write_iis_logs(proxylogon_chain.events, tmp_path, IisExportOptions(iis_version=lambda event: "8.5"))
    assert _lines(stats.files[0])[0] == "#Software: Microsoft Internet Information Services 8.5"


def test_events_without_a_response_and_other_event_types_are_skipped(tmp_path: Path) -> None:
    event = _event(tmp_path)
    unanswered = msgspec.structs.replace(event, http=msgspec.structs.replace(
        event.http, response=msgspec.structs.replace(event.http.response, status_code=0)))
    limit = limit_event(event.timestamp, make_observer("decoy-1"), "exchange",
                        HsLimit(limit="max_connections", configured=10))
    stats = write_iis_logs([event, unanswered, limit], tmp_path / "logs")
    assert stats.lines == 1 and stats.skipped == 2


def test_cs_username_is_the_presented_basic_or_ntlm_user(tmp_path: Path) -> None:
    event = _event(tmp_path)
    event.honeyscope.credentials = [Credential(scheme="form", username="formuser", password="x"),
                                    Credential(scheme="ntlm", username="jdoe", domain="CONTOSO")]
    assert iis_line(event).split(" ")[7] == "CONTOSO\\jdoe"


def test_hostile_values_stay_on_one_line(tmp_path: Path) -> None:
    event = _event(tmp_path)
    cases = {
        "spaces and tabs": "a b\tc",
        "CR LF injection": "x\r\n2021-03-03 00:00:00 10.0.0.5 GET /fake - 443",
        "NUL and DEL": "a\x00b\x7fc",
        "invalid UTF-8": "bad\xff\xfe\xc3(",  # latin-1 decoded wire bytes that are not UTF-8
        "valid UTF-8": "K\xc3\xa4se/1.0",  # the wire bytes of 'Käse/1.0'
        "unicode line separator": "a\xe2\x80\xa8b",  # U+2028 as UTF-8 wire bytes
        "very long": "A" * 100_000,
    }
    expected = {
        "spaces and tabs": "a+b%09c",
        "CR LF injection": "x%0D%0A2021-03-03+00:00:00+10.0.0.5+GET+/fake+-+443",
        "NUL and DEL": "a%00b%7Fc",
        "invalid UTF-8": "bad%FF%FE%C3(",
        "valid UTF-8": "Käse/1.0",
        "unicode line separator": "a%E2%80%A8b",
        "very long": "A" * 16384,
    }
    for name, value in cases.items():
        event.user_agent = UserAgent(original=value)
        event.url = Url(original=f"/o w\r\na?{value}", path="/o w\r\na", query=value)
        line = iis_line(event, IisExportOptions(exchange_suffix=False))
        assert "\r" not in line and "\n" not in line and "\x00" not in line, name
        fields = line.split(" ")
        assert len(fields) == 15, name
        assert fields[4] == "/o+w%0D%0Aa" and fields[5] == fields[9] == expected[name], name


def test_hostile_lines_read_back_one_record_each(tmp_path: Path) -> None:
    event = _event(tmp_path)
    event.user_agent = UserAgent(original="evil\r\nagent \x00\xff")
    stats = write_iis_logs([event, event], tmp_path / "logs")
    records = list(read_w3c(stats.files[0]))
    assert len(records) == 2 and all(r.fields is not None for r in records)


def test_exported_lines_import_back(proxylogon_chain: Any, tmp_path: Path) -> None:
    stats = write_iis_logs(proxylogon_chain.events, tmp_path)
    imported = [record_to_event(r) for r in read_w3c(stats.files[0])]
    assert len(imported) == len(proxylogon_chain.events)
    for original, back in zip(proxylogon_chain.events, imported, strict=True):
        assert back is not None
        assert back.timestamp == original.timestamp.replace(microsecond=0)
        assert (back.http.request.method, back.url.path) == (original.http.request.method, original.url.path)
        assert back.http.response.status_code == original.http.response.status_code
        assert (back.source.ip, back.destination.ip, back.destination.port) == ("203.0.113.7", "10.0.0.5", 443)
        assert back.user_agent is not None and original.user_agent is not None
        assert back.user_agent.original == original.user_agent.original
        assert back.observer.name == "iis-import"


def test_cli_takes_the_iis_version_from_the_exchange_build(proxylogon_chain: Any, tmp_path: Path) -> None:
    config = tmp_path / "honeyscope.toml"
    config.write_text('[personas.exchange]\nbuild = "15.0.1497.2"\n')  # Exchange 2013 CU23: Server 2012 R2
    command = ["export", "iis", "--spool", str(proxylogon_chain.spool), "--output", str(tmp_path / "logs"),
               "--config", str(config)]
    result = subprocess.run([sys.executable, "-m", "honeyscope", *command], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert _lines(tmp_path / "logs" / "u_ex210303.log")[0] == "#Software: Microsoft Internet Information Services 8.5"
    assert f"{len(proxylogon_chain.events)} lines in 1 files; 0 events skipped" in result.stderr
