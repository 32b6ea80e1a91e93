"""One HTTP request event as STIX cyber observables: the source address, its AS, the request as
``network-traffic`` with the ``http-request-ext`` extension, and files for stored artifacts.

What is left out unless the export reveals the decoys: the decoy's own address (``dst_ref``), the ``Host``
header and the full ``url`` (they name the decoy). Sharing those would tell every recipient which addresses are
honeypots. Credentials an attacker sent in ``Authorization`` keep only their scheme.

Header names become STIX dictionary keys, which must match ``[a-zA-Z0-9_-]{1,250}`` (stix2-validator
rejects others): other characters become ``_``. Header values are lists, as the validator requires.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final, NamedTuple

from honeyscope.events.schema import HttpRequestEvent
from honeyscope.share.stix.ids import sco_id
from honeyscope.share.stix.text import clean

__all__ = ["HASHED_ARTIFACTS", "Observation", "SharedFile", "observe", "parse_address"]

#: Artifact kinds shared as file hashes (commands are left out: they are not files).
HASHED_ARTIFACTS: Final = frozenset({"webshell", "payload", "upload"})
#: Values kept per header name (repeated headers).
_VALUES_PER_HEADER: Final = 8
_KEY_CHARS: Final = re.compile(r"[^A-Za-z0-9_-]")
_HIDDEN_HEADERS: Final = frozenset({"host"})
_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization"})
#: A host name or address with an optional port, as a ``Host`` header holds it.
_HOST: Final = re.compile(r"(?i)(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}|\[[0-9a-f:.]+\])"
                          r"(?::\d{1,5})?")
#: A request target that is a valid URL path and query as sent (RFC 3986 characters, at most 2,048).
_URL_SAFE: Final = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{1,2048}")


class SharedFile(NamedTuple):
    """A stored artifact shared by its hash: the ``file`` SCO's id, the SHA-256, its kind and size."""

    object_id: str
    sha256: str
    kind: str
    size: int


class Observation(NamedTuple):
    """The observables of one request; ``objects`` are SCOs (type, properties without marking) by id."""

    address: str
    version: int
    address_id: str
    traffic_id: str
    files: tuple[SharedFile, ...]
    objects: dict[str, tuple[str, dict[str, Any]]]


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address, or ``None`` when ``text`` is not an IP address."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def observe(event: HttpRequestEvent, *, reveal_decoys: bool, max_text: int, max_headers: int) -> Observation | None:
    """The observables of ``event``; ``None`` when its source is not an IP address."""
    source = parse_address(event.source.ip)
    if source is None:
        return None
    objects: dict[str, tuple[str, dict[str, Any]]] = {}
    address_id = _address(objects, source, event)
    traffic: dict[str, Any] = {"src_ref": address_id}
    if reveal_decoys:
        destination = parse_address(event.destination.ip)
        if destination is not None:
            traffic["dst_ref"] = _address(objects, destination, None)
    if event.destination.port:
        traffic["dst_port"] = event.destination.port
    traffic["protocols"] = [f"ipv{source.version}", "tcp", "https" if event.tls is not None else "http"]
    traffic["extensions"] = {"http-request-ext": _http_request(event, reveal_decoys, max_text, max_headers)}
    traffic_id = sco_id("network-traffic", traffic)
    objects[traffic_id] = ("network-traffic", traffic)
    if reveal_decoys:
        _url(objects, event)
    files = tuple(SharedFile(_file(objects, a.sha256, a.size), a.sha256.lower(), a.kind, a.size)
                  for a in event.honeyscope.artifacts if a.kind in HASHED_ARTIFACTS and _is_sha256(a.sha256))
    return Observation(str(source), source.version, address_id, traffic_id, files, objects)


def _address(objects: dict[str, tuple[str, dict[str, Any]]],
             address: ipaddress.IPv4Address | ipaddress.IPv6Address, event: HttpRequestEvent | None) -> str:
    kind = f"ipv{address.version}-addr"
    properties: dict[str, Any] = {"value": str(address)}
    object_id = sco_id(kind, properties)
    autonomous = event.source.as_ if event is not None else None
    if autonomous is not None and autonomous.number is not None and 0 <= autonomous.number < 2**32:
        as_properties: dict[str, Any] = {"number": autonomous.number}
        as_id = sco_id("autonomous-system", as_properties)
        if autonomous.organization.name:
            as_properties["name"] = clean(autonomous.organization.name, 256)
        objects[as_id] = ("autonomous-system", as_properties)
        properties["belongs_to_refs"] = [as_id]
    objects[object_id] = (kind, properties)
    return object_id


def _http_request(event: HttpRequestEvent, reveal_decoys: bool, max_text: int, max_headers: int) -> dict[str, Any]:
    method = clean(event.http.request.method or "", 64).lower() or "unknown"
    request: dict[str, Any] = {"request_method": method,
                               "request_value": clean(event.url.original or event.honeyscope.request.target
                                                      or event.url.path, max_text)}
    if event.http.version:
        request["request_version"] = "http/" + clean(event.http.version, 16).lower()
    headers = _headers(event.honeyscope.request.headers, reveal_decoys, max_text, max_headers)
    if headers:
        request["request_header"] = headers
    if event.http.request.body.bytes:
        request["message_body_length"] = event.http.request.body.bytes
    return request


def _headers(pairs: list[tuple[str, str]], reveal_decoys: bool, max_text: int,
             max_headers: int) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in pairs:
        key = _KEY_CHARS.sub("_", name)[:250]
        lowered = key.lower()
        if not key or (lowered in _HIDDEN_HEADERS and not reveal_decoys):
            continue
        if lowered in _CREDENTIAL_HEADERS:
            value = (value.split(None, 1) or [""])[0] + " [credentials removed]"
        values = headers.get(key)
        if values is None:
            if len(headers) >= max_headers:
                continue
            headers[key] = values = []
        if len(values) < _VALUES_PER_HEADER:
            values.append(clean(value, max_text))
    return headers


def _url(objects: dict[str, tuple[str, dict[str, Any]]], event: HttpRequestEvent) -> None:
    """The full URL (only when revealing decoys: its host is the decoy's name), if it is a well-formed one."""
    host = next((value for name, value in event.honeyscope.request.headers if name.lower() == "host"), "")
    target = event.url.original
    if _HOST.fullmatch(host) and target.startswith("/") and _URL_SAFE.fullmatch(target):
        properties: dict[str, Any] = {"value": f"{'https' if event.tls is not None else 'http'}://{host}{target}"}
        objects[sco_id("url", properties)] = ("url", properties)


def _file(objects: dict[str, tuple[str, dict[str, Any]]], digest: str, size: int) -> str:
    properties: dict[str, Any] = {"hashes": {"SHA-256": digest.lower()}}
    object_id = sco_id("file", properties)
    if size >= 0:
        properties["size"] = size
    objects[object_id] = ("file", properties)
    return object_id


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)
