"""Scan request bodies and stored artifacts with compiled YARA rules; matches become ``Detection``s.

One ``yara_x.Scanner`` is built at load time and reused (building one per scan costs more than the
scan). A scanner is not thread-safe: use one ``YaraScanner`` per thread or process.

Bounds: every input is cut to ``max_bytes`` before scanning (so ``filesize`` is the scanned size) and
each scan is aborted after ``timeout_seconds`` (yara-x's own timer, at least 2 s; a timed-out scan
reports nothing, is logged and counted in ``timeouts``). yara-x compiles regexes to automata without backtracking, so a
pathological pattern costs time linear in the input, which the byte cap bounds. Each pattern keeps at
most ``max_matches_per_pattern`` matches; evidence is cut to ``max_evidence`` entries.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Final

import yara_x

from honeyscope.detect.yara.loader import EXTERNALS, CompiledRules, compile_files
from honeyscope.detect.yara.meta import RuleInfo, rule_info
from honeyscope.events.schema import ArtifactRef, Detection, HttpRequestEvent

log = logging.getLogger(__name__)

_SHA256: Final = re.compile(r"[0-9a-f]{64}\Z")
_SNIPPET: Final = 40


@dataclass(frozen=True, slots=True)
class YaraLimits:
    """How much work one scan may do."""

    #: Bytes of each input that are scanned (the rest is ignored).
    max_bytes: int = 1024 * 1024
    #: Seconds before yara-x aborts one scan. yara-x counts whole seconds on a heartbeat, so a limit of N
    #: aborts after N-1 to N seconds: 1 would abort fast scans that straddle a tick (measured), hence >= 2.
    timeout_seconds: int = 2
    #: Matches kept per pattern (bounds memory and time on inputs that repeat a pattern).
    max_matches_per_pattern: int = 64
    #: Evidence strings kept per detection.
    max_evidence: int = 8


@dataclass(frozen=True, slots=True)
class ScanInput:
    """One thing to scan and what the externals should say about it."""

    label: str
    data: bytes
    filename: str = ""
    filepath: str = ""
    extension: str = ""


class YaraScanner:
    """Compiled rules plus one reusable scanner. Build it with ``YaraScanner.load(paths)``."""

    def __init__(self, compiled: CompiledRules, limits: YaraLimits | None = None) -> None:
        self.limits = limits or YaraLimits()
        self.errors: list[str] = list(compiled.errors)
        self.warnings: list[str] = list(compiled.warnings)
        self.files: list[Path] = list(compiled.files)
        self._infos: dict[tuple[str, str], RuleInfo] = {
            (rule.namespace, rule.identifier): rule_info(rule.namespace, rule.identifier, rule.metadata, rule.tags)
            for rule in compiled.rules
        }
        self._scanner = yara_x.Scanner(compiled.rules)
        self._scanner.set_timeout(max(2, self.limits.timeout_seconds))
        self._scanner.max_matches_per_pattern(self.limits.max_matches_per_pattern)
        self._globals = dict.fromkeys(EXTERNALS, "")
        self.scans = 0
        self.timeouts = 0

    @classmethod
    def load(cls, paths: Iterable[Path | str], limits: YaraLimits | None = None) -> YaraScanner:
        """Compile the rule files and directories in ``paths``. Files that fail are listed in ``errors``
        as ``file:line: message``; the others load."""
        return cls(compile_files([Path(p) for p in paths]), limits)

    @property
    def rule_count(self) -> int:
        """Number of rules that compiled."""
        return len(self._infos)

    def rule_ids(self) -> list[str]:
        """``namespace:rule`` of every compiled rule."""
        return [info.rule_id for info in self._infos.values()]

    def scan_bytes(self, data: bytes, name: str = "data", *, filepath: str = "") -> list[Detection]:
        """Detections for one input. ``name`` prefixes the evidence; ``filepath`` (the path the content
        was meant to be written to, given to rules in Windows form) fills the ``filename``, ``filepath``
        and ``extension`` externals (``extension`` with its dot, lower-case: ``.aspx``)."""
        return self._scan(_input(name, data, filepath))

    def scan_event(self, event: HttpRequestEvent, artifact_root: Path | None = None) -> list[Detection]:
        """Scan the event's request body and (with ``artifact_root``, the spool directory or its
        ``artifacts`` folder) its stored artifacts. New detections are appended to
        ``event.honeyscope.detections`` (once per rule) and make the event an alert (``event.kind``, and
        ``intrusion_detection`` in ``event.category``); they are returned."""
        found: dict[str, Detection] = {}
        for item in _event_inputs(event, artifact_root, self.limits.max_bytes):
            for detection in self._scan(item):
                _merge(found, detection, self.limits.max_evidence)
        known = {(d.engine, d.rule_id) for d in event.honeyscope.detections}
        new = [d for d in found.values() if ("yara", d.rule_id) not in known]
        if new:
            event.honeyscope.detections.extend(new)
            event.event.kind = "alert"  # as the Sigma engine marks its alerts
            if "intrusion_detection" not in event.event.category:
                event.event.category = [*event.event.category, "intrusion_detection"]
        return new

    def _scan(self, item: ScanInput) -> list[Detection]:
        data = item.data[: self.limits.max_bytes]
        self._set_globals(item)
        self.scans += 1
        try:
            results = self._scanner.scan(data)
        except yara_x.TimeoutError:
            self.timeouts += 1
            log.warning("YARA scan of %s timed out after %d s", item.label, self.limits.timeout_seconds)
            return []
        except yara_x.ScanError as error:
            log.warning("YARA scan of %s failed: %s", item.label, error)
            return []
        return [self._detection(rule, data, item.label) for rule in results.matching_rules]

    def _set_globals(self, item: ScanInput) -> None:
        wanted = {"filename": item.filename, "filepath": item.filepath, "extension": item.extension}
        for name, value in wanted.items():
            if self._globals[name] != value:  # set_global costs a call into yara-x: skip unchanged ones
                self._scanner.set_global(name, value)
                self._globals[name] = value

    def _detection(self, rule: yara_x.Rule, data: bytes, label: str) -> Detection:
        info = self._infos.get((rule.namespace, rule.identifier)) or rule_info(
            rule.namespace, rule.identifier, rule.metadata, rule.tags)
        return Detection(
            rule_id=info.rule_id, title=info.title, engine="yara", severity=info.severity,
            cves=list(info.cves), techniques=list(info.techniques), stage=info.stage,
            evidence=_evidence(rule, data, label, self.limits.max_evidence),
        )


def _input(label: str, data: bytes, filepath: str) -> ScanInput:
    if not filepath:
        return ScanInput(label, data)
    # The emulated servers run Windows, which takes '/' as a separator too: rules see one form.
    windows = filepath.replace("/", "\\")
    name = PureWindowsPath(windows).name
    return ScanInput(label, data, filename=name, filepath=windows, extension=PureWindowsPath(name).suffix.lower())


def _event_inputs(event: HttpRequestEvent, root: Path | None, max_bytes: int) -> list[ScanInput]:
    inputs = []
    body = event.honeyscope.request.body
    if body:
        inputs.append(ScanInput("request.body", body))
    if root is not None:
        for artifact in event.honeyscope.artifacts:
            data = _read_artifact(root, artifact, max_bytes)
            if data is not None:
                inputs.append(_input(f"artifact {artifact.kind} {artifact.name or artifact.sha256}", data,
                                     artifact.name))
    return inputs


def _read_artifact(root: Path, artifact: ArtifactRef, max_bytes: int) -> bytes | None:
    """The artifact's first ``max_bytes``; None when it is missing or its hash is not a sha256 (an event
    from the bus must not name arbitrary files)."""
    digest = artifact.sha256.lower()
    if not _SHA256.match(digest):
        log.warning("artifact reference %r is not a sha256; not scanned", artifact.sha256[:80])
        return None
    for base in (root, root / "artifacts"):
        path = base / digest[:2] / digest
        try:
            with path.open("rb") as handle:
                return handle.read(max_bytes)
        except FileNotFoundError:
            continue
        except OSError as error:
            log.warning("artifact %s unreadable: %s", path, error.strerror)
            return None
    return None


def _evidence(rule: yara_x.Rule, data: bytes, label: str, limit: int) -> list[str]:
    evidence: list[str] = []
    for pattern in rule.patterns:
        for match in pattern.matches[:3]:
            snippet = _printable(data[match.offset: match.offset + min(match.length, _SNIPPET)])
            more = "…" if match.length > _SNIPPET else ""
            evidence.append(f"{label}: {pattern.identifier}@{match.offset}: {snippet}{more}")
            if len(evidence) >= limit:
                return evidence
    if not evidence:  # a rule on the externals or on file structure only: say what it looked at
        evidence.append(f"{label}: condition matched")
    return evidence


def _printable(data: bytes) -> str:
    """Bytes as text a log line can hold: printable ASCII kept, everything else as ``\\xNN``."""
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in data)


def _merge(found: dict[str, Detection], detection: Detection, limit: int) -> None:
    """One detection per rule per event: later inputs add their evidence to the first."""
    first = found.get(detection.rule_id)
    if first is None:
        found[detection.rule_id] = detection
        return
    room = limit - len(first.evidence)
    if room > 0:
        first.evidence.extend(detection.evidence[:room])


def scan_all(scanner: YaraScanner, events: Sequence[HttpRequestEvent], artifact_root: Path | None = None) -> int:
    """Scan a batch of events in place; returns how many events got new detections."""
    return sum(1 for event in events if scanner.scan_event(event, artifact_root))
