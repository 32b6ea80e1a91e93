"""What the sensor records of each request, checked over real sockets against a real sensor process."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from honeyscope.events import HttpRequestEvent
from honeyscope.testing import exchange_raw, live_sensor, raw_request_bytes


def http_events(sensor_events: list) -> list[HttpRequestEvent]:
    return [e for e in sensor_events if isinstance(e, HttpRequestEvent)]


def test_every_field_of_a_request_is_recorded(tmp_path: Path) -> None:
    body = b"destination=https%3A%2F%2Fmail%2Fowa&flags=4&forcedownlevel=0&username=CONTOSO%5Cbob&password=S3cret%21"
    head = (b"POST /owa/auth.owa HTTP/1.1\r\nHost: mail.contoso.com\r\nuser-agent: curl/8.0\r\nX-Dup: 1\r\n"
            b"x-dup: 2\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body))
    started = datetime.now(UTC)
    with live_sensor(tmp_path) as sensor:
        answer = exchange_raw(sensor.address(), head + body, read_timeout=2)
        events = http_events(sensor.events())
    assert answer.startswith(b"HTTP/1.1 ")
    (event,) = events
    assert event.honeyscope.request.head == head
    assert event.honeyscope.request.headers[2:4] == [("X-Dup", "1"), ("x-dup", "2")]
    assert event.honeyscope.request.body == body
    assert event.honeyscope.request.body_sha256 == hashlib.sha256(body).hexdigest()
    assert event.http.request.method == "POST" and event.http.request.body.bytes == len(body)
    assert event.url.path == "/owa/auth.owa" and event.url.domain == "mail.contoso.com"
    assert event.user_agent is not None and event.user_agent.original == "curl/8.0"
    assert event.source.ip == "127.0.0.1" and event.destination.port == sensor.address()[1]
    assert event.http.response.status_code == int(answer.split(b" ")[1])
    assert started - timedelta(seconds=1) <= event.timestamp <= datetime.now(UTC)
    assert event.timestamp.microsecond != 0 or event.timestamp.tzinfo is not None
    assert event.observer.name == "test-sensor" and event.observer.type == "honeypot"
    assert event.honeyscope.persona == "exchange" and event.honeyscope.route
    assert event.honeyscope.connection.request_index == 1


def test_basic_credentials_are_recorded(tmp_path: Path) -> None:
    token = base64.b64encode(b"CONTOSO\\alice:Winter2021!").decode()
    with live_sensor(tmp_path) as sensor:
        exchange_raw(sensor.address(), raw_request_bytes("GET", "/EWS/Exchange.asmx",
                                                         [("Authorization", f"Basic {token}")]), read_timeout=2)
        (event,) = http_events(sensor.events())
    assert [(c.scheme, c.username, c.password) for c in event.honeyscope.credentials] == [
        ("basic", "CONTOSO\\alice", "Winter2021!")]


def test_body_is_stored_up_to_the_limit_with_full_hash_and_length(tmp_path: Path) -> None:
    body = bytes(range(256)) * 64  # 16 KiB
    with live_sensor(tmp_path, config_text="[sensor.limits]\nbody_store_bytes = 1000\n") as sensor:
        exchange_raw(sensor.address(), raw_request_bytes("POST", "/ews/exchange.asmx", [], body), read_timeout=2)
        (event,) = http_events(sensor.events())
    assert event.honeyscope.request.body == body[:1000]
    assert event.honeyscope.request.body_truncated
    assert event.http.request.body.bytes == len(body)
    assert event.honeyscope.request.body_sha256 == hashlib.sha256(body).hexdigest()


def test_forwarding_header_is_believed_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    request = raw_request_bytes("GET", "/owa/", [("X-Forwarded-For", "198.51.100.77")])
    with live_sensor(tmp_path / "a") as untrusted:
        exchange_raw(untrusted.address(), request, read_timeout=2)
        (plain,) = http_events(untrusted.events())
    with live_sensor(tmp_path / "b", config_text="[sensor]\ntrusted_proxies = ['127.0.0.1']\n") as trusted:
        exchange_raw(trusted.address(), request, read_timeout=2)
        (proxied,) = http_events(trusted.events())
    assert plain.source.ip == "127.0.0.1"
    assert plain.honeyscope.request.forwarded_for == "198.51.100.77"
    assert proxied.source.ip == "198.51.100.77"


def test_one_process_serves_several_listeners(tmp_path: Path) -> None:
    config = "[[sensor.listeners]]\naddress = '127.0.0.1:0'\n[[sensor.listeners]]\naddress = '[::1]:0'\n"
    with live_sensor(tmp_path, http=None, config_text=config) as sensor:
        hosts = {url.split("://")[1].rsplit(":", 1)[0] for url in sensor.urls}
        assert hosts == {"127.0.0.1", "[::1]"}
        for url in sensor.urls:
            host, port = url.split("://")[1].rsplit(":", 1)
            exchange_raw((host.strip("[]"), int(port)), raw_request_bytes("GET", "/owa/"), read_timeout=2)
        events = http_events(sensor.events())
    assert {e.source.ip for e in events} == {"127.0.0.1", "::1"}
    assert len({e.honeyscope.connection.listener for e in events}) == 2
