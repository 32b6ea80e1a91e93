"""What a rule's field name means on an ``http.request`` event.

Two layers, both documented in docs/detection.md:

- ``TAXONOMY``: Sigma's webserver taxonomy (and a few proxy names) → our canonical names. It is applied
  to rules as a pySigma processing pipeline (``honeyscope.detect.pipeline``), so rules written for IIS
  logs or for ECS both compile to the same canonical fields.
- ``FIELDS`` and the two prefix families (``http.request.headers.<name>``, ``http.request.cookies.<name>``):
  canonical name → the values of that field on an event. Every field is a tuple of strings (a field
  may hold several values: repeated headers, several credentials, the two spellings of a user agent);
  a value matches when any of them does, and ``null`` means "no value or only empty ones".

``EventView`` computes values lazily and once per event, lower-cased on demand (Sigma matching is
case-insensitive unless ``cased`` or ``re``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from honeyscope.events.schema import HttpRequestEvent

Values = tuple[str, ...]
Getter = Callable[[HttpRequestEvent], Values]

HEADER_PREFIX: Final = "http.request.headers."
COOKIE_PREFIX: Final = "http.request.cookies."
#: Pseudo-field of unfielded (keyword) detections: the request as received plus the status code.
KEYWORDS: Final = "keywords"
#: Bytes of a stored body that rules look at (the sensor stores 1 MiB by default): bounds the work
#: per event whatever the configuration.
MAX_BODY_BYTES: Final = 1 << 20

#: Sigma webserver taxonomy (and proxy synonyms) → canonical field.
TAXONOMY: Final[dict[str, str]] = {
    "cs-method": "http.request.method",
    "cs-uri-stem": "url.path",
    # SigmaHQ rules put path AND query into cs-uri-query (and match e.g. '/ecp/default.aspx' there).
    "cs-uri-query": "url.original",
    "cs-uri": "url.original",
    "c-uri": "url.original",
    "cs-user-agent": "user_agent.original",
    "c-useragent": "user_agent.original",
    "sc-status": "http.response.status_code",
    "c-ip": "source.ip",
    "s-ip": "destination.ip",
    "s-port": "destination.port",
    "cs-host": "http.request.headers.host",
    "cs-cookie": "http.request.headers.cookie",
    "cs-referer": "http.request.referrer",
    "cs-username": "user.name",
    "cs-version": "http.version",
    "cs-bytes": "http.request.bytes",
    "sc-bytes": "http.response.body.bytes",
    "cs-content-type": "http.request.mime_type",
    "s-computername": "observer.hostname",
}


def _method(e: HttpRequestEvent) -> Values:
    return (e.http.request.method,) if e.http.request.method else ()


def _original(e: HttpRequestEvent) -> Values:
    return (e.url.original or e.honeyscope.request.target,)


def _user_agent(e: HttpRequestEvent) -> Values:
    if e.user_agent is None:
        return ()
    agent = e.user_agent.original
    # IIS logs write spaces in cs(User-Agent) as '+': rules copied from IIS logs (HAFNIUM's
    # 'Mozilla/5.0+(compatible;+...') and rules written for raw headers both match.
    return (agent, agent.replace(" ", "+")) if " " in agent else (agent,)


def _status(e: HttpRequestEvent) -> Values:
    status = e.http.response.status_code
    return (str(status),) if status is not None else ()


def _version(e: HttpRequestEvent) -> Values:
    version = e.http.version
    return (version, f"HTTP/{version}") if version else ()


def _body(e: HttpRequestEvent) -> Values:
    body = e.honeyscope.request.body
    return (body[:MAX_BODY_BYTES].decode("latin-1"),) if body else ()


def _request_bytes(e: HttpRequestEvent) -> Values:
    return (str(len(e.honeyscope.request.head) + e.http.request.body.bytes),)


def _usernames(e: HttpRequestEvent) -> Values:
    names: list[str] = []
    for credential in e.honeyscope.credentials:
        names.append(credential.username)
        if credential.domain:
            names.append(f"{credential.domain}\\{credential.username}")
    return tuple(names)


def _opt(value: object) -> Values:
    return (str(value),) if value is not None and value != "" else ()


def _header(name: str) -> Getter:
    def get(e: HttpRequestEvent) -> Values:
        return tuple(value for key, value in e.honeyscope.request.headers if key.lower() == name)
    return get


#: Canonical field → values. Keep in step with the table in docs/detection.md (a test checks it).
FIELDS: Final[dict[str, Getter]] = {
    "http.request.method": _method,
    "url.original": _original,
    "url.path": lambda e: (e.url.path,),
    "url.query": lambda e: _opt(e.url.query),
    "url.domain": lambda e: _opt(e.url.domain),
    "user_agent.original": _user_agent,
    "http.response.status_code": _status,
    "http.version": _version,
    "http.request.body.content": _body,
    "http.request.body.bytes": lambda e: (str(e.http.request.body.bytes),),
    "http.request.bytes": _request_bytes,
    "http.response.body.bytes": lambda e: (str(e.http.response.body.bytes),),
    "http.request.referrer": _header("referer"),
    "http.request.mime_type": _header("content-type"),
    "source.ip": lambda e: (e.source.ip,),
    "source.port": lambda e: (str(e.source.port),),
    "destination.ip": lambda e: (e.destination.ip,),
    "destination.port": lambda e: (str(e.destination.port),),
    "source.geo.country_iso_code": lambda e: _opt(e.source.geo.country_iso_code if e.source.geo else None),
    "source.as.number": lambda e: _opt(e.source.as_.number if e.source.as_ else None),
    "source.as.organization.name": lambda e: _opt(e.source.as_.organization.name if e.source.as_ else None),
    "tls.client.server_name": lambda e: _opt(e.tls.client.server_name if e.tls else None),
    "observer.name": lambda e: (e.observer.name,),
    "observer.hostname": lambda e: _opt(e.observer.hostname),
    "user.name": _usernames,
    "honeyscope.credentials.username": lambda e: tuple(c.username for c in e.honeyscope.credentials),
    "honeyscope.credentials.password": lambda e: tuple(c.password for c in e.honeyscope.credentials
                                                       if c.password is not None),
    "honeyscope.credentials.scheme": lambda e: tuple(c.scheme for c in e.honeyscope.credentials),
    "honeyscope.persona": lambda e: (e.honeyscope.persona,),
    "honeyscope.route": lambda e: _opt(e.honeyscope.route),
    "honeyscope.stage": lambda e: _opt(e.honeyscope.stage),
    "honeyscope.tags": lambda e: tuple(e.honeyscope.tags),
    "honeyscope.callbacks": lambda e: tuple(e.honeyscope.callbacks),
    "honeyscope.tls.ja4": lambda e: _opt(e.honeyscope.tls.ja4 if e.honeyscope.tls else None),
    "honeyscope.request.error": lambda e: _opt(e.honeyscope.request.error),
    "honeyscope.enrichment.scanner": lambda e: _opt(e.honeyscope.enrichment.scanner
                                                    if e.honeyscope.enrichment else None),
}

#: Fields whose values are always a substring of ``request_text`` — the prefilter finds their literals
#: there. (The '+' spelling of a user agent is not, which is why literals of that field are split at
#: '+', see ``prefilter_pieces``.) Every other field a literal needs is appended to the prefilter text.
IN_REQUEST_TEXT: Final = frozenset({
    "http.request.method", "url.original", "url.path", "url.query", "http.request.body.content",
    "http.request.referrer", "http.request.mime_type", "user_agent.original", "http.response.status_code",
    "http.version",
})


def is_known(field: str) -> bool:
    """Whether ``field`` (canonical) has a meaning on an ``http.request`` event."""
    if field in FIELDS or field == KEYWORDS:
        return True
    return any(field.startswith(prefix) and len(field) > len(prefix) for prefix in (HEADER_PREFIX, COOKIE_PREFIX))


def in_request_text(field: str) -> bool:
    """Whether every value of ``field`` appears verbatim in the request text."""
    return field in IN_REQUEST_TEXT or field.startswith((HEADER_PREFIX, COOKIE_PREFIX)) or field == KEYWORDS


def prefilter_pieces(field: str, literal: str) -> list[str]:
    """The substrings of ``literal`` that must appear in the prefilter text when ``field`` contains it."""
    if field == "user_agent.original" and "+" in literal:
        return literal.split("+")
    return [literal]


def _cookie_values(event: HttpRequestEvent, name: str) -> Values:
    found: list[str] = []
    for key, value in event.honeyscope.request.headers:
        if key.lower() != "cookie":
            continue
        for part in value.split(";"):
            cookie, eq, content = part.strip().partition("=")
            if eq and cookie.lower() == name:
                found.append(content)
    return tuple(found)


def request_text(event: HttpRequestEvent) -> str:
    """What keyword (unfielded) detections search: the request head as received (request line and
    every header; rebuilt from the parsed fields when the event carries no raw head), the stored
    body, and the response status code — the fields of a web server's access-log line and more."""
    request = event.honeyscope.request
    head = request.head.decode("latin-1") if request.head else _rebuilt_head(event)
    body = request.body[:MAX_BODY_BYTES].decode("latin-1") if request.body else ""
    status = event.http.response.status_code
    return f"{head}\n{body}\n{status if status is not None else ''}"


def _rebuilt_head(event: HttpRequestEvent) -> str:
    request = event.honeyscope.request
    version = f"HTTP/{event.http.version}" if event.http.version else ""
    lines = [f"{event.http.request.method or ''} {event.url.original or request.target} {version}"]
    lines.extend(f"{name}: {value}" for name, value in request.headers)
    return "\r\n".join(lines) + "\r\n\r\n"


def scan_bytes(event: HttpRequestEvent) -> bytes:
    """``request_text`` as ASCII-lower-cased bytes, built without decoding (what the prefilter scans).

    The prefilter's literals are ASCII (``compiler.requirement`` drops others), and within the latin-1
    range every letter ``str.lower`` lowers to ASCII is ASCII already, so a literal found in a lower-cased
    field value is found here too."""
    return scan_texts([event])[0].lower()


def scan_texts(events: list[HttpRequestEvent]) -> list[bytes]:
    """``scan_bytes`` of each event before ASCII lower-casing (``Detector.detect_batch`` joins the texts of
    many events and lower-cases them at once; a rebuilt head is lower-cased already, and ``bytes.lower``
    leaves its UTF-8 as is: no byte of it is an ASCII capital)."""
    texts = []
    for event in events:
        request = event.honeyscope.request
        head = request.head or _rebuilt_head(event).lower().encode("utf-8", "surrogatepass")
        status = event.http.response.status_code
        code = b"" if status is None else _STATUS_TEXT.get(status) or b"%d" % status
        texts.append(b"\n".join((head, request.body[:MAX_BODY_BYTES], code)))
    return texts


#: Status codes as ASCII digits, made once (formatting per event costs more than the dict lookup).
_STATUS_TEXT: Final = {code: b"%d" % code for code in range(100, 600)}


class EventView:
    """One event as rules see it: field values and their lower-case forms, computed once."""

    __slots__ = ("_low", "_raw", "_text", "event")

    def __init__(self, event: HttpRequestEvent) -> None:
        self.event = event
        self._raw: dict[str, Values] = {}
        self._low: dict[str, Values] = {}
        self._text: str | None = None

    def values(self, field: str) -> Values:
        """The field's values as on the event."""
        cached = self._raw.get(field)
        if cached is None:
            cached = self._compute(field)
            self._raw[field] = cached
        return cached

    def lowered(self, field: str) -> Values:
        """The field's values, lower-cased (for case-insensitive matching)."""
        cached = self._low.get(field)
        if cached is None:
            values = self._raw.get(field)
            if values is None:  # values() inlined: this runs once per field and event, on the hot path
                getter = FIELDS.get(field)
                values = self._raw[field] = getter(self.event) if getter is not None else self._compute(field)
            cached = (values[0].lower(),) if len(values) == 1 else tuple([value.lower() for value in values])
            self._low[field] = cached
        return cached

    def text(self) -> str:
        """``request_text`` of the event (cached)."""
        if self._text is None:
            self._text = request_text(self.event)
        return self._text

    def _compute(self, field: str) -> Values:
        if field == KEYWORDS:
            return (self.text(),)
        getter = FIELDS.get(field)
        if getter is not None:
            return getter(self.event)
        if field.startswith(HEADER_PREFIX):
            return _header(field[len(HEADER_PREFIX):].lower())(self.event)
        if field.startswith(COOKIE_PREFIX):
            return _cookie_values(self.event, field[len(COOKIE_PREFIX):].lower())
        return ()
