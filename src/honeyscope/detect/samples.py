"""Rule samples: requests replayed through a real persona in-process, turned into events exactly as the
sensor records them (``sensor.recording.request_event``), then run through the rules.

A rule file ``foo.yml`` has its samples in ``foo.samples.yaml`` beside it::

    persona: exchange            # optional (default exchange)
    match:                       # each sample must make the file's rule fire
      - name: Metasploit check
        request: {method: POST, target: /owa/auth/x.js, headers: {Cookie: "X-AnonResource=true; ..."}}
      - name: built by the exploit-tool builders of honeyscope.testing.exploits
        tool: msf_ibm037
        args: [jdoe@contoso.com, /mapi/nspi/]
        kwargs: {method: GET}
      - name: a spray (correlation): the request 12 times, 5 s of event time apart, {i} = 1..12
        request: {method: POST, target: /owa/auth.owa, body: "username=user{i}&password=x&..."}
        repeat: 12
        every: 5
    no_match:                    # none of these may make it fire
      - name: the sign-in page
        setup: [{target: /owa/}]  # sent first by the same client; not checked
        request: {target: /owa/auth/logon.aspx}

Request keys: ``method`` (GET), ``target``, ``headers`` (mapping or list of pairs), ``body`` (text,
UTF-8) or ``body_base64``, ``source_ip`` (203.0.113.7); ``tool`` takes ``args`` (a list) and ``kwargs`` (a mapping).
A sample may set ``rule`` (id or name) when its
file holds several rules. Which requests each sample sends never depends on the wall clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import yaml

from honeyscope.detect import locate
from honeyscope.detect.engine import Detector
from honeyscope.detect.loader import SAMPLES_SUFFIX
from honeyscope.detect.rules import RuleSet
from honeyscope.events.schema import ArtifactRef, Endpoint, HttpRequestEvent

#: Event time of a sample's first request (a fixed instant: samples are deterministic).
SAMPLE_EPOCH: Final = datetime(2021, 3, 3, 12, 0, tzinfo=UTC)
DEFAULT_SOURCE: Final = "203.0.113.7"
_MAX_REPEAT: Final = 10_000


class SampleError(ValueError):
    """A samples file that cannot be used; the message is ``path:line: problem``."""


@dataclass(frozen=True, slots=True)
class SampleRequest:
    """One request of a sample."""

    method: str = "GET"
    target: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    source_ip: str = DEFAULT_SOURCE
    #: Seconds of event time after the sample's first request.
    at: float = 0.0


@dataclass(slots=True)
class Sample:
    """Requests that must (``expect_match``) or must not make a rule fire."""

    name: str
    expect_match: bool
    requests: list[SampleRequest]
    setup: int = 0
    rule: str | None = None
    line: int = 1


@dataclass(slots=True)
class SampleFile:
    path: Path
    persona: str
    samples: list[Sample] = field(default_factory=list)


def samples_path(rule_file: Path) -> Path:
    """Where the samples of ``rule_file`` live."""
    return rule_file.with_name(rule_file.name.rsplit(".", 1)[0] + SAMPLES_SUFFIX)


def load_samples(path: Path) -> SampleFile:
    """Parse a samples file (``SampleError`` names the line of a problem)."""
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=locate.StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise SampleError(f"{path}:{locate.yaml_error_line(error)}: invalid YAML") from None
    node = next(iter(locate.documents(text)), None)
    if not isinstance(data, dict):
        raise SampleError(f"{path}:1: a samples file is a mapping with 'match' and 'no_match' lists")
    unknown = set(data) - {"persona", "match", "no_match"}
    if unknown:
        raise SampleError(f"{path}:{locate.text_line(node, sorted(unknown)[0]) or 1}: unknown key "
                          f"{sorted(unknown)[0]!r} (use persona, match, no_match)")
    result = SampleFile(path, str(data.get("persona", "exchange")))
    for key, expect in (("match", True), ("no_match", False)):
        items = data.get(key) or []
        listing = locate.subtree(node, (key,))
        if not isinstance(items, list):
            raise SampleError(f"{path}:{locate.key_line(node, (key,)) or 1}: '{key}' must be a list of samples")
        for index, item in enumerate(items):
            line = _item_line(listing, index)
            result.samples.append(_sample(item, expect, f"{path}:{line}", line))
    return result


def _item_line(listing: yaml.Node | None, index: int) -> int:
    if isinstance(listing, yaml.SequenceNode) and index < len(listing.value):
        return int(listing.value[index].start_mark.line) + 1
    return 1


def _sample(item: Any, expect: bool, where: str, line: int) -> Sample:
    if not isinstance(item, dict):
        raise SampleError(f"{where}: a sample is a mapping with 'request' or 'tool'")
    known = {"name", "request", "tool", "args", "kwargs", "setup", "repeat", "every", "rule", "source_ip"}
    unknown = sorted(set(item) - known)
    if unknown:
        raise SampleError(f"{where}: unknown sample key {unknown[0]!r} (use {', '.join(sorted(known))})")
    setup = [_request(entry, where) for entry in item.get("setup") or []]
    if "tool" in item:
        main = _tool(str(item["tool"]), item.get("args") or [], item.get("kwargs") or {}, where)
    elif "request" in item:
        main = _request(item["request"], where)
    else:
        raise SampleError(f"{where}: a sample needs 'request' or 'tool'")
    repeat, every = item.get("repeat", 1), item.get("every", 1)
    if not isinstance(repeat, int) or not 1 <= repeat <= _MAX_REPEAT or not isinstance(every, int | float):
        raise SampleError(f"{where}: 'repeat' must be 1..{_MAX_REPEAT} and 'every' a number of seconds")
    source = str(item.get("source_ip", DEFAULT_SOURCE))
    requests = [_with_source(request, source, index * 0.001) for index, request in enumerate(setup)]
    start = len(setup) * 0.001
    requests += [_numbered(main, number, source, start + (number - 1) * float(every))
                 for number in range(1, repeat + 1)]
    name = str(item.get("name") or f"{'match' if expect else 'no_match'} sample at line {line}")
    return Sample(name, expect, requests, len(setup), str(item["rule"]) if "rule" in item else None, line)


def _with_source(request: SampleRequest, source: str, at: float) -> SampleRequest:
    return SampleRequest(request.method, request.target, request.headers, request.body, source, at)


def _numbered(request: SampleRequest, number: int, source: str, at: float) -> SampleRequest:
    """``{i}`` in target, headers and body becomes the repetition number."""
    mark = "{i}"
    return SampleRequest(
        request.method, request.target.replace(mark, str(number)),
        tuple((name, value.replace(mark, str(number))) for name, value in request.headers),
        request.body.replace(mark.encode(), str(number).encode()), source, at)


def _request(entry: Any, where: str) -> SampleRequest:
    if not isinstance(entry, dict):
        raise SampleError(f"{where}: a request is a mapping (method, target, headers, body)")
    unknown = sorted(set(entry) - {"method", "target", "headers", "body", "body_base64"})
    if unknown:
        raise SampleError(f"{where}: unknown request key {unknown[0]!r} (use method, target, headers, body, "
                          "body_base64)")
    headers = entry.get("headers") or {}
    pairs = list(headers.items()) if isinstance(headers, dict) else headers
    if not all(isinstance(pair, list | tuple) and len(pair) == 2 for pair in pairs):
        raise SampleError(f"{where}: 'headers' must be a mapping or a list of [name, value] pairs")
    body = str(entry.get("body", "")).encode("utf-8")
    if "body_base64" in entry:
        try:
            body = base64.b64decode(str(entry["body_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise SampleError(f"{where}: 'body_base64' is not valid base64") from None
    return SampleRequest(str(entry.get("method", "GET")), str(entry.get("target", "/")),
                         tuple((str(name), str(value)) for name, value in pairs), body)


def _tool(name: str, args: Any, kwargs: Any, where: str) -> SampleRequest:
    from honeyscope.testing import exploits

    builder = getattr(exploits, name, None)
    if builder is None or name.startswith("_") or not callable(builder):
        raise SampleError(f"{where}: no request builder {name!r} in honeyscope.testing.exploits")
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise SampleError(f"{where}: 'args' must be a list and 'kwargs' a mapping")
    try:
        built = builder(*args, **kwargs)
    except (TypeError, ValueError) as error:
        raise SampleError(f"{where}: {name}: {error}") from None
    if isinstance(built, list):
        built = built[0]
    if not isinstance(built, exploits.ToolRequest):
        raise SampleError(f"{where}: {name} does not build a request")
    return SampleRequest(built.method, built.target, built.headers, built.body)


# -- replay ---------------------------------------------------------------------------------------------


class Replayer:
    """One client talking to one persona in-process: each ``send`` parses the request bytes with the
    sensor's parser, lets the persona answer (state kept across calls, as for one attacker) and records
    the event as the sensor does. ``events`` collects them."""

    def __init__(self, persona_name: str = "exchange", epoch: datetime = SAMPLE_EPOCH) -> None:
        from honeyscope.sensor.personas.registry import load_persona
        from honeyscope.sensor.recording import make_observer

        self.persona = load_persona(persona_name)
        self.epoch = epoch
        self.state: dict[str, Any] = {}
        self.connection: dict[str, Any] = {}
        self.events: list[HttpRequestEvent] = []
        self._observer = make_observer("samples")
        self._destination = Endpoint(ip="192.0.2.10", port=443)

    def send(self, request: SampleRequest, *, new_connection: bool = False) -> tuple[Any, HttpRequestEvent | None]:
        """(the persona's ``Reply`` or None for a malformed request, the recorded event)."""
        from honeyscope.sensor.http.parser import HttpParser
        from honeyscope.sensor.personas.base import PersonaRequest
        from honeyscope.sensor.recording import ConnectionFacts, Exchange, request_event
        from honeyscope.testing.requests import raw_request_bytes

        if new_connection:
            self.connection.clear()
        index = len(self.events) + 1
        source = Endpoint(ip=request.source_ip, port=50123)
        facts = ConnectionFacts(connection_id=f"sample{index:05d}", listener="https", persona=self.persona.name,
                                observer=self._observer, source=source, destination=self._destination)
        now = self.epoch + timedelta(seconds=request.at)
        parser = HttpParser()
        parsed = parser.feed(raw_request_bytes(request.method, request.target, request.headers, request.body,
                                               host="mail.contoso.com"))
        raw = parsed[0] if parsed else parser.eof()
        if raw is None:
            return None, None
        reply = None
        if raw.error is None:
            path, _, query = raw.target.partition("?")
            reply = self.persona.handle(PersonaRequest(
                method=raw.method, target=raw.target, path=path, query=query, version=raw.version,
                headers=raw.headers, body=raw.body, body_length=raw.body_length, scheme="https",
                source_ip=source.ip, source_port=source.port, local_ip=self._destination.ip,
                local_port=self._destination.port, now=now, state=self.state, connection_state=self.connection))
        response = reply.response if reply is not None else self.persona.reject(raw)
        artifacts = [ArtifactRef(sha256=hashlib.sha256(item.content).hexdigest(), size=len(item.content),
                                 kind=item.kind, name=item.name) for item in (reply.artifacts if reply else [])]
        event = request_event(facts, Exchange(
            raw=raw, response=response, reply=reply, request_index=index, received_at=now, read_us=0,
            handle_us=0, duration_ns=0, artifacts=artifacts, forwarded_for=None, source=source))
        self.events.append(event)
        return reply, event


def replay(requests: Sequence[SampleRequest], persona_name: str = "exchange",
           epoch: datetime = SAMPLE_EPOCH) -> list[HttpRequestEvent]:
    """Send ``requests`` (one client) to a fresh persona; the events the sensor records."""
    replayer = Replayer(persona_name, epoch)
    for request in requests:
        replayer.send(request)
    return replayer.events


# -- running samples against rules ----------------------------------------------------------------------


@dataclass(slots=True)
class FileResult:
    """Outcome of one rule file's samples."""

    rule_file: Path
    samples_file: Path | None
    passed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def run_samples(rules: RuleSet, files: Iterable[Path] | None = None) -> list[FileResult]:
    """Replay the samples of every rule file in ``rules`` (or of ``files``) and check the rules' verdicts."""
    detector = Detector(rules)
    results = []
    for rule_file in files if files is not None else rules.files:
        results.append(_run_file(rules, detector, rule_file))
    return results


def _run_file(rules: RuleSet, detector: Detector, rule_file: Path) -> FileResult:
    path = samples_path(rule_file)
    result = FileResult(rule_file, path if path.is_file() else None)
    if result.samples_file is None:
        return result
    metas = [meta for meta in [*(r.meta for r in rules.rules), *(c.meta for c in rules.correlations)]
             if meta.path == str(rule_file)]
    if not metas:
        result.failures.append(f"{rule_file}: no rule of this file loaded (see the load errors)")
        return result
    try:
        sample_file = load_samples(path)
    except (SampleError, OSError) as error:
        result.failures.append(str(error))
        return result
    outputs = {rule.meta.rule_id for rule in rules.rules if rule.generate} | \
        {correlation.meta.rule_id for correlation in rules.correlations}
    for sample in sample_file.samples:
        wanted = [meta for meta in metas if sample.rule in (None, meta.rule_id, meta.name)
                  and meta.rule_id in outputs]
        failure = _check(detector, sample_file, sample, {meta.rule_id for meta in wanted})
        if failure:
            result.failures.append(f"{path}:{sample.line}: {sample.name}: {failure}")
        else:
            result.passed += 1
    return result


def _check(detector: Detector, sample_file: SampleFile, sample: Sample, wanted: set[str]) -> str | None:
    if not wanted:
        return f"no rule {sample.rule!r} producing detections in this file"
    detector.reset()
    events = replay(sample.requests, sample_file.persona)
    detector.detect_batch(events)
    checked = events[sample.setup:]
    fired = {d.rule_id for event in checked for d in event.honeyscope.detections}
    if sample.expect_match and not fired & wanted:
        seen = sorted({d.title for event in checked for d in event.honeyscope.detections})
        return f"expected a detection, got none (detections: {', '.join(seen) or 'none'}; " \
               f"stages: {', '.join(sorted({str(e.honeyscope.stage) for e in checked}))})"
    if not sample.expect_match and fired & wanted:
        evidence = next(itertools.chain.from_iterable(
            d.evidence for event in checked for d in event.honeyscope.detections if d.rule_id in wanted), "none")
        return f"expected no detection, but the rule fired (evidence: {evidence})"
    return None
