"""The contract between the sensor shell and a persona."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

import msgspec

from honeyscope.sensor.http.headers import Headers
from honeyscope.sensor.http.parser import RawRequest
from honeyscope.sensor.http.response import Response


class Credential(msgspec.Struct, frozen=True, omit_defaults=True):
    """A credential an attacker presented. ``scheme``: form, basic, ntlm."""

    scheme: str
    username: str
    password: str | None = None
    domain: str | None = None
    workstation: str | None = None


@dataclass(slots=True, frozen=True)
class Artifact:
    """Content worth keeping apart from the event (web shells, payloads, commands), stored by sha256.

    ``kind``: webshell, payload, command, upload, ... ; ``name`` is where the attacker meant it to go.
    """

    kind: str
    name: str
    content: bytes


def _parse_cookies(values: list[str]) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for value in values:
        for part in value.split(";"):
            name, eq, content = part.strip().partition("=")
            if eq and name and name not in cookies:
                cookies[name] = content
    return cookies


@dataclass(slots=True)
class PersonaRequest:
    """What a persona sees of one request. Text fields are latin-1 decoded (byte-exact)."""

    method: str
    target: str
    path: str
    query: str
    version: str
    headers: Headers
    body: bytes
    body_length: int
    scheme: str
    source_ip: str
    source_port: int
    local_ip: str
    local_port: int
    now: datetime
    #: Bounded state kept per attacker (source address) across connections, e.g. chain progress.
    state: dict[str, Any] = field(default_factory=dict)
    #: State of this connection only (NTLM handshakes are per connection).
    connection_state: dict[str, Any] = field(default_factory=dict)
    server_name: str | None = None
    # Derived values, computed on first use: the chain handlers and routes each look at them, and one
    # request passes through all of them.
    _cookies: dict[str, str] | None = None
    _decoded_path: str | None = None
    _query_params: list[tuple[str, str]] | None = None

    @property
    def host(self) -> str:
        """The Host header, or empty (HTTP/1.0 may omit it)."""
        return self.headers.get("host") or ""

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies by name; for duplicated names the first wins."""
        if self._cookies is None:
            self._cookies = _parse_cookies(self.headers.get_all("cookie"))
        return self._cookies

    @property
    def decoded_path(self) -> str:
        """The path percent-decoded (UTF-8, undecodable bytes replaced), as ``urllib.parse.unquote``."""
        if self._decoded_path is None:
            self._decoded_path = unquote(self.path)
        return self._decoded_path

    def query_params(self) -> list[tuple[str, str]]:
        """Query parameters, percent-decoded, in order, blanks kept."""
        if self._query_params is None:
            self._query_params = (
                parse_qsl(self.query, keep_blank_values=True, encoding="latin-1") if self.query else []
            )
        return list(self._query_params)

    def form(self) -> dict[str, str]:
        """An urlencoded body's fields (first value wins); empty for other content types."""
        content_type = (self.headers.get("content-type") or "").lower()
        if "application/x-www-form-urlencoded" not in content_type:
            return {}
        fields: dict[str, str] = {}
        text = self.body.decode("latin-1")
        for name, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"):
            fields.setdefault(name, value)
        return fields


@dataclass(slots=True)
class Reply:
    """A persona's answer and what it wants recorded beside the request."""

    response: Response
    #: Which persona route answered, e.g. ``owa.logon_page`` (documented per persona).
    route: str
    #: The emulated exploit-chain step this request reached, e.g. ``proxylogon.sid_leak``. This is the
    #: persona's own view, used to stay consistent; detection downstream judges independently.
    stage: str | None = None
    credentials: list[Credential] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    #: Out-of-band hosts or URLs the request asked the server to contact. Recorded, never contacted.
    callbacks: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    #: The answer depends on the request's head alone (no state, time, body or randomness, save header
    #: values stamped from a ``HeaderTemplate``): the sensor may answer an identical request from a
    #: source the persona holds no state for with ``renewed()``, without asking the persona again.
    reusable: bool = False

    def renewed(self) -> Reply | None:
        """A copy for an identical request: its own lists, per-response header values made afresh.
        None if the response cannot be renewed (see ``Response.renewed``)."""
        response = self.response.renewed()
        if response is None:
            return None
        return Reply(response, route=self.route, stage=self.stage, credentials=list(self.credentials),
                     artifacts=list(self.artifacts), callbacks=list(self.callbacks), tags=list(self.tags),
                     reusable=True)


class Persona(Protocol):
    """A decoy. Implementations are pure: same request and state in, same reply out."""

    name: str
    #: Highest TLS version the emulated server speaks ("1.2" for Windows Server 2016/2019 SChannel).
    tls_maximum_version: str

    def handle(self, request: PersonaRequest) -> Reply:
        """Answer one well-formed request."""
        ...

    def reject(self, request: RawRequest) -> Response:
        """Answer a request the parser refused (``request.error`` set), as the emulated server would."""
        ...

    def certificate_names(self) -> tuple[str, list[str]]:
        """The certificate common name and DNS names consistent with this persona."""
        ...

    def internal_error(self) -> Response:
        """What the emulated server answers when it fails; sent if ``handle`` itself raised (a bug)."""
        ...


class AttackerStates:
    """Per-attacker state, bounded: the least recently seen attackers are forgotten first."""

    def __init__(self, max_attackers: int = 20000) -> None:
        self._states: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._max = max_attackers

    def for_source(self, source_ip: str) -> dict[str, Any]:
        state = self._states.get(source_ip)
        if state is None:
            state = {}
            self._states[source_ip] = state
            if len(self._states) > self._max:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(source_ip)
        return state

    def holds(self, source_ip: str) -> bool:
        """Whether any state is kept for ``source_ip`` (without making it the most recently seen)."""
        return bool(self._states.get(source_ip))

    def __len__(self) -> int:
        return len(self._states)


class PersonaFactory(Protocol):
    """Builds a persona from its own settings table (``[personas.<name>]`` in the TOML file)."""

    def __call__(self, options: Mapping[str, Any]) -> Persona: ...
