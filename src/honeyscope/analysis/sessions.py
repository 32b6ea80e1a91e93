"""Attacker sessions: each source address's events, split where it went quiet for longer than a gap.

    summaries = build_sessions(events)                  # any order; sorted here
    builder = SessionBuilder(gap=timedelta(minutes=30))  # streaming, events in time order
    for event in stream:
        yield from builder.add(event)                   # sessions that have ended
    yield from builder.finish()

A session is the ``http.request`` and ``tls.handshake`` events of one source address in which no two
consecutive events are more than ``gap`` apart (an event exactly ``gap`` after the previous one stays in the
session). Its id hashes the address and the first event's id, so re-running over the same events gives the
same ids. The summary keeps what clustering and attribution need — infrastructure, tool fingerprints,
exploit stages, web shells, payload hashes — each list capped (``MAX_VALUES``) so a hostile client
cannot make a summary large. Passwords never appear in a summary: it counts the distinct passwords tried
and lists user names; the passwords stay in the stored events.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import parse_qsl, unquote_plus

import msgspec
import tlsh  # type: ignore[import-not-found]  # C extension without type information

from honeyscope.events.schema import Event, HttpRequestEvent, TlsHandshakeEvent

#: Default inactivity gap that ends a session.
DEFAULT_GAP: Final = timedelta(minutes=30)
#: Distinct values kept per list in a summary; more are counted in ``dropped_values``.
MAX_VALUES: Final = 32
#: Longest string kept for one value (user agents, paths, names); longer ones are cut.
MAX_TEXT: Final = 512
#: Smallest body TLSH gives a digest for (it needs 50 bytes and some variety).
TLSH_MIN_BYTES: Final = 50
#: Body bytes searched for web-shell keys and paths (bodies are stored up to 1 MiB).
_SCAN_BYTES: Final = 256 * 1024
#: Web-shell keys and written files looked for per request.
_MATCHES: Final = 16
#: Distinct passwords remembered to count them; beyond this the count stops growing.
_MAX_PASSWORDS: Final = 4096

_SHELL_KEY = re.compile(
    r"""Request\s*(?:\.\s*(?:Item|Form|QueryString|Params))?\s*\[\s*\\?["']([^"'\\\]\s]{1,64})\\?["']\s*\]""",
    re.IGNORECASE)
_SHELL_FILE = re.compile(
    r"\\(frontend\\httpproxy|inetpub\\wwwroot)((?:\\[^\\\"'<>|\r\n]{1,100}){1,8}?\.(?:aspx|ashx|asmx|asp))",
    re.IGNORECASE)
_BACKSLASHES = re.compile(r"\\{2,}")
_URL_HOST = re.compile(r"(?i)\b(?:https?|ftp)://([a-z0-9.\-]{1,253}|\[[0-9a-f:]{2,39}\])")
_TOOL_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9._\-]{0,39}")


# gc=False: these structs hold strings, numbers, lists of those and other such structs, never a cycle;
# leaving them out of the cycle collector makes 100k-session runs faster (bench/attribution.py).
class SessionSummary(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """What one source address did in one session."""

    id: str
    source_ip: str
    first_seen: datetime
    last_seen: datetime
    #: Events in the session (requests and TLS handshakes).
    events: int
    requests: int = 0
    sensors: list[str] = msgspec.field(default_factory=list)
    personas: list[str] = msgspec.field(default_factory=list)
    #: From the collector's enrichment (the first event that had them).
    country: str | None = None
    asn: int | None = None
    as_org: str | None = None
    #: A known research scanner (enrichment), e.g. ``Shodan``.
    scanner: str | None = None
    #: Exploit-chain stages in the order first reached (persona stages and detections' stages).
    stages: list[str] = msgspec.field(default_factory=list)
    cves: list[str] = msgspec.field(default_factory=list)
    techniques: list[str] = msgspec.field(default_factory=list)
    rule_ids: list[str] = msgspec.field(default_factory=list)
    #: Requests that matched at least one rule.
    alerts: int = 0
    #: Tool names read from user agents (``python-requests``, ``Googlebot``) and the scanner name.
    tools: list[str] = msgspec.field(default_factory=list)
    user_agents: list[str] = msgspec.field(default_factory=list)
    ja4: list[str] = msgspec.field(default_factory=list)
    #: Header-order fingerprints: first 16 hex of SHA-256 over the header names, in order, as sent.
    header_orders: list[str] = msgspec.field(default_factory=list)
    #: Request paths (without query), first seen first.
    paths: list[str] = msgspec.field(default_factory=list)
    #: Credentials: user names and how many attempts and distinct passwords (never the passwords).
    usernames: list[str] = msgspec.field(default_factory=list)
    credential_attempts: int = 0
    passwords_tried: int = 0
    #: URL paths of web shells this session wrote (OAB/export file paths in its requests) or used.
    webshells: list[str] = msgspec.field(default_factory=list)
    #: Known web-shell paths it requested that it had not written (a sweep for other actors' shells).
    webshell_probes: list[str] = msgspec.field(default_factory=list)
    #: Web-shell passwords/keys: ``Request["key"]`` in planted code, parameter names sent to its shells.
    shell_keys: list[str] = msgspec.field(default_factory=list)
    #: SHA-256 of every non-empty request body, and TLSH of bodies of at least ``TLSH_MIN_BYTES``.
    payload_sha256: list[str] = msgspec.field(default_factory=list)
    payload_tlsh: list[str] = msgspec.field(default_factory=list)
    #: Stored artifacts (SHA-256): files and commands the persona extracted.
    artifacts: list[str] = msgspec.field(default_factory=list)
    #: Hosts the session asked the decoy to contact (out-of-band callbacks, URLs in shell commands).
    callbacks: list[str] = msgspec.field(default_factory=list)
    #: Values left out because a list was full.
    dropped_values: int = 0

    @property
    def duration(self) -> timedelta:
        return self.last_seen - self.first_seen


def session_id(source_ip: str, first_event_id: str) -> str:
    """Stable id: the same events give the same id on every run."""
    digest = hashlib.sha256(f"{source_ip}\x00{first_event_id}".encode("utf-8", "surrogatepass")).hexdigest()
    return "s-" + digest[:20]


def header_order_hash(names: Iterable[str]) -> str:
    """Fingerprint of a client's header order (names as sent, case kept)."""
    return hashlib.sha256("\n".join(names).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def tool_of(user_agent: str) -> str | None:
    """The product a user agent names: ``python-requests/2.25.1`` → ``python-requests``; for
    ``Mozilla/5.0 (compatible; Googlebot/2.1; …)`` the token after ``compatible;``; browsers → None."""
    text = user_agent.replace("+", " ").strip()
    if text.startswith("Mozilla/"):
        _, marker, rest = text.partition("compatible;")
        if not marker:
            return None
        text = rest.strip()
    match = _TOOL_TOKEN.match(text)
    return match.group(0).split("/")[0] if match else None


def tlsh_digest(data: bytes) -> str | None:
    """TLSH of ``data``, or None when TLSH cannot give one (too short or too uniform)."""
    if len(data) < TLSH_MIN_BYTES:
        return None
    digest = str(tlsh.hash(data))
    return digest if digest.startswith("T1") else None


def build_sessions(events: Iterable[Event], gap: timedelta = DEFAULT_GAP) -> list[SessionSummary]:
    """Sessions of all ``events`` (any order: they are sorted by time, then id), ordered by start."""
    ordered = sorted((e for e in events if isinstance(e, HttpRequestEvent | TlsHandshakeEvent)),
                     key=lambda e: (_utc(e.timestamp), e.event.id))
    builder = SessionBuilder(gap)
    sessions = [*itertools.chain.from_iterable(builder.add(event) for event in ordered), *builder.finish()]
    return sorted(sessions, key=lambda s: (s.first_seen, s.id))


class SessionBuilder:
    """Streaming grouping: feed events in time order; ended sessions come back from ``add``.

    Memory holds only open sessions: when time moves on, sessions idle for more than ``gap`` are closed.
    An event older than its address's open session (input slightly out of order) joins that session when
    it lies within ``gap`` of it, else it opens a session of its own; ``build_sessions`` sorts first and
    so never sees this.
    """

    def __init__(self, gap: timedelta = DEFAULT_GAP) -> None:
        if gap <= timedelta(0):
            raise ValueError(f"session gap must be positive, got {gap}")
        self.gap = gap
        # Least recently active first, so closing idle sessions only looks at the front.
        self._open: OrderedDict[str, _Session] = OrderedDict()
        self._now: datetime | None = None

    @property
    def open_sessions(self) -> int:
        return len(self._open)

    def add(self, event: Event) -> list[SessionSummary]:
        """Add one event; returns the sessions that ended (idle longer than ``gap`` before it)."""
        if not isinstance(event, HttpRequestEvent | TlsHandshakeEvent):
            return []
        when = _utc(event.timestamp)
        ended = self._close_idle(when) if self._now is None or when > self._now else []
        self._now = when if self._now is None else max(self._now, when)
        address = event.source.ip
        session = self._open.get(address)
        if session is not None and not session.accepts(when, self.gap):
            ended.append(session.summary())
            del self._open[address]
            session = None
        if session is None:
            session = self._open[address] = _Session(address, event.event.id, when)
        self._open.move_to_end(address)
        session.add(event, when)
        return ended

    def finish(self) -> list[SessionSummary]:
        """Close every open session (end of input)."""
        ended = [session.summary() for session in self._open.values()]
        self._open.clear()
        return ended

    def _close_idle(self, now: datetime) -> list[SessionSummary]:
        ended: list[SessionSummary] = []
        while self._open:
            address, session = next(iter(self._open.items()))
            if now - session.last_seen <= self.gap:
                break
            ended.append(session.summary())
            del self._open[address]
        return ended


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _Distinct:
    """Insertion-ordered distinct values, at most ``MAX_VALUES``; counts what it had to leave out."""

    __slots__ = ("dropped", "values")

    def __init__(self) -> None:
        self.values: dict[str, None] = {}
        self.dropped = 0

    def add(self, value: str | None) -> None:
        if not value:
            return
        value = value[:MAX_TEXT]
        if value in self.values:
            return
        if len(self.values) >= MAX_VALUES:
            self.dropped += 1
            return
        self.values[value] = None

    def ordered(self) -> list[str]:
        return list(self.values)

    def sorted(self) -> list[str]:
        return sorted(self.values)


_LISTS: Final = ("sensors", "personas", "stages", "cves", "techniques", "rule_ids", "tools", "user_agents", "ja4",
                 "header_orders", "paths", "usernames", "webshells", "webshell_probes", "shell_keys",
                 "payload_sha256", "payload_tlsh", "artifacts", "callbacks")
#: Lists whose order means something (first seen first); the others are reported sorted.
_ORDERED: Final = frozenset({"stages", "user_agents", "paths", "webshells", "webshell_probes", "shell_keys"})


class _Session:
    """One open session being accumulated."""

    def __init__(self, address: str, first_event_id: str, when: datetime) -> None:
        self.address = address
        self.id = session_id(address, first_event_id)
        self.first_seen = when
        self.last_seen = when
        self.events = 0
        self.requests = 0
        self.alerts = 0
        self.attempts = 0
        self.passwords: set[str] = set()
        self.country: str | None = None
        self.asn: int | None = None
        self.as_org: str | None = None
        self.scanner: str | None = None
        self.lists = {name: _Distinct() for name in _LISTS}
        self._tlsh_seen: set[str] = set()

    def accepts(self, when: datetime, gap: timedelta) -> bool:
        return self.first_seen - gap <= when <= self.last_seen + gap

    def add(self, event: HttpRequestEvent | TlsHandshakeEvent, when: datetime) -> None:
        self.events += 1
        self.first_seen = min(self.first_seen, when)
        self.last_seen = max(self.last_seen, when)
        self.lists["sensors"].add(event.observer.name)
        self._enrichment(event)
        if isinstance(event, TlsHandshakeEvent):
            self.lists["personas"].add(event.honeyscope.persona)
            self.lists["ja4"].add(event.honeyscope.tls.ja4)
            return
        self.requests += 1
        self._request(event)

    def _enrichment(self, event: HttpRequestEvent | TlsHandshakeEvent) -> None:
        source = event.source
        if self.country is None and source.geo is not None:
            self.country = source.geo.country_iso_code
        if self.asn is None and self.as_org is None and source.as_ is not None:
            self.asn = source.as_.number
            self.as_org = source.as_.organization.name
        enrichment = event.honeyscope.enrichment
        if enrichment is not None and enrichment.scanner and self.scanner is None:
            self.scanner = enrichment.scanner[:MAX_TEXT]
            self.lists["tools"].add(self.scanner)

    def _request(self, event: HttpRequestEvent) -> None:
        hs = event.honeyscope
        lists = self.lists
        lists["personas"].add(hs.persona)
        lists["paths"].add(event.url.path)
        if hs.tls is not None:
            lists["ja4"].add(hs.tls.ja4)
        if event.user_agent is not None:
            lists["user_agents"].add(event.user_agent.original)
            lists["tools"].add(tool_of(event.user_agent.original))
        lists["header_orders"].add(header_order_hash(name for name, _ in hs.request.headers))
        lists["stages"].add(hs.stage)
        self._detections(event)
        self._credentials(event)
        self._shells(event)
        self._payload(event)
        for artifact in hs.artifacts:
            lists["artifacts"].add(artifact.sha256)
        for host in hs.callbacks:
            lists["callbacks"].add(host.lower())

    def _detections(self, event: HttpRequestEvent) -> None:
        detections = event.honeyscope.detections
        if detections:
            self.alerts += 1
        for detection in detections:
            self.lists["rule_ids"].add(detection.rule_id)
            self.lists["stages"].add(detection.stage)
            for cve in detection.cves:
                self.lists["cves"].add(cve.upper())
            for technique in detection.techniques:
                self.lists["techniques"].add(technique.upper())
            if detection.stage and detection.stage.startswith("webshell.") \
                    and not event.honeyscope.route.startswith("webshell."):
                self.lists["webshell_probes"].add(event.url.path)

    def _credentials(self, event: HttpRequestEvent) -> None:
        for credential in event.honeyscope.credentials:
            self.attempts += 1
            self.lists["usernames"].add(credential.username)
            if credential.password is not None and len(self.passwords) < _MAX_PASSWORDS:
                self.passwords.add(hashlib.sha256(credential.password.encode("utf-8", "replace")).hexdigest())

    def _shells(self, event: HttpRequestEvent) -> None:
        hs = event.honeyscope
        text = hs.request.body[:_SCAN_BYTES].decode("latin-1")
        query = event.url.query or ""
        for chunk in (text, query):
            for found in (chunk, unquote_plus(chunk)) if "%" in chunk else (chunk,):
                self._planted(found)
        if hs.route.startswith("webshell."):
            self.lists["webshells"].add(event.url.path)
            for name, value in _parameters(query) + _parameters(text):
                if value.strip():
                    self.lists["shell_keys"].add(name)
            for host in _URL_HOST.findall(text + " " + unquote_plus(query)):
                self.lists["callbacks"].add(host.lower().strip("[]"))

    def _planted(self, text: str) -> None:
        """Keys of code the request plants (``Request["key"]``) and files it has the server write."""
        # At most _MATCHES of each per request: a body repeating the pattern cannot make this slow.
        if "equest" in text:
            for match in itertools.islice(_SHELL_KEY.finditer(text), _MATCHES):
                self.lists["shell_keys"].add(match.group(1))
        if "\\" in text:
            for match in itertools.islice(_SHELL_FILE.finditer(_BACKSLASHES.sub(r"\\", text)), _MATCHES):
                self.lists["webshells"].add(match.group(2).replace("\\", "/"))

    def _payload(self, event: HttpRequestEvent) -> None:
        request = event.honeyscope.request
        empty = event.http.request.body.bytes == 0 and not request.body
        if empty or not request.body_sha256:
            return
        self.lists["payload_sha256"].add(request.body_sha256)
        if request.body_sha256 in self._tlsh_seen or len(self._tlsh_seen) >= MAX_VALUES:
            return
        self._tlsh_seen.add(request.body_sha256)
        self.lists["payload_tlsh"].add(tlsh_digest(request.body))

    def summary(self) -> SessionSummary:
        def values(name: str) -> list[str]:
            found = self.lists[name]
            return found.ordered() if name in _ORDERED else found.sorted()

        return SessionSummary(
            id=self.id, source_ip=self.address, first_seen=self.first_seen, last_seen=self.last_seen,
            events=self.events, requests=self.requests, sensors=values("sensors"), personas=values("personas"),
            country=self.country, asn=self.asn, as_org=self.as_org, scanner=self.scanner, stages=values("stages"),
            cves=values("cves"), techniques=values("techniques"), rule_ids=values("rule_ids"), alerts=self.alerts,
            tools=values("tools"), user_agents=values("user_agents"), ja4=values("ja4"),
            header_orders=values("header_orders"), paths=values("paths"), usernames=values("usernames"),
            credential_attempts=self.attempts, passwords_tried=len(self.passwords), webshells=values("webshells"),
            webshell_probes=values("webshell_probes"), shell_keys=values("shell_keys"),
            payload_sha256=values("payload_sha256"), payload_tlsh=values("payload_tlsh"),
            artifacts=values("artifacts"), callbacks=values("callbacks"),
            dropped_values=sum(found.dropped for found in self.lists.values()),
        )


def _parameters(text: str) -> list[tuple[str, str]]:
    """Form/query parameters of hostile text; nothing when it is not form-shaped."""
    if not text or "=" not in text:
        return []
    try:
        return [(name[:64], value) for name, value in parse_qsl(text[:_SCAN_BYTES], max_num_fields=64)]
    except ValueError:
        return []
