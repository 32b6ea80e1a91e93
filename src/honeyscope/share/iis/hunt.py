"""Hunt through IIS W3C logs: run detectors over every line, report findings per CVE.

Two kinds of detector, both plain callables, so any engine plugs in:

* a *line* detector sees the raw log line (YARA log rules, e.g. signature-base's, are written for
  lines: their regexes stop at ``\\n`` and several exclude lines by content, so a whole-file scan would
  let one line veto another; we scan line by line);
* an *event* detector sees the line parsed into an ``http.request`` event (the Sigma engine).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from honeyscope.detect.yara import YaraScanner
from honeyscope.events.schema import Detection, HttpRequestEvent
from honeyscope.share.iis.reader import W3CRecord, read_w3c, record_to_event

LineDetector = Callable[[bytes, str], list[Detection]]
EventDetector = Callable[[HttpRequestEvent], list[Detection]]
NO_CVE: Final = "no CVE"


@dataclass(frozen=True, slots=True)
class Finding:
    """A detection on one log line."""

    location: str
    line: str
    detection: Detection


@dataclass
class HuntReport:
    """Everything a hunt found, and what it could not read."""

    files: int = 0
    lines: int = 0
    unparsed: int = 0
    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def by_cve(self) -> dict[str, list[Finding]]:
        """Findings under each CVE they name (a finding with two CVEs is under both); those without a
        CVE under ``NO_CVE``, last. CVEs sort newest first."""
        groups: dict[str, list[Finding]] = {}
        for finding in self.findings:
            for cve in finding.detection.cves or [NO_CVE]:
                groups.setdefault(cve, []).append(finding)
        order = sorted((cve for cve in groups if cve != NO_CVE), key=_cve_key, reverse=True)
        return {cve: groups[cve] for cve in [*order, *([NO_CVE] if NO_CVE in groups else [])]}


def hunt(paths: Sequence[Path], *, line_detectors: Iterable[LineDetector] = (),
         event_detectors: Iterable[EventDetector] = (), max_line_bytes: int = 1 << 20) -> HuntReport:
    """Run the detectors over every data line of every file."""
    lines, events = list(line_detectors), list(event_detectors)
    report = HuntReport()
    for path in paths:
        try:
            for record in read_w3c(path, max_line_bytes):
                _examine(record, lines, events, report)
        except (OSError, EOFError) as error:
            report.problems.append(f"{path}: cannot read ({error}) — check the file")
            continue
        report.files += 1
    return report


def _examine(record: W3CRecord, lines: list[LineDetector], events: list[EventDetector],
             report: HuntReport) -> None:
    report.lines += 1
    found: list[Detection] = []
    for detect_line in lines:
        found.extend(detect_line(record.raw, record.location))
    event = record_to_event(record) if events else None
    if events and event is None:
        report.unparsed += 1
        if len(report.problems) < 100:
            report.problems.append(f"{record.location}: not a request line ({record.problem or 'no date/time'})")
    if event is not None:
        for detect_event in events:
            found.extend(detect_event(event))
    seen: set[tuple[str, str]] = set()
    for detection in found:
        key = (detection.engine, detection.rule_id)
        if key not in seen:
            seen.add(key)
            report.findings.append(Finding(record.location, record.text, detection))


def yara_line_detector(scanner: YaraScanner) -> LineDetector:
    """A line detector running every rule of ``scanner`` on each line."""
    def detect(line: bytes, location: str) -> list[Detection]:
        return scanner.scan_bytes(line, location)
    return detect


def sigma_event_detectors(rule_paths: Sequence[Path] = ()) -> tuple[list[EventDetector], list[str]]:
    """The Sigma engine of ``honeyscope.detect`` as an event detector (its built-in rules when
    ``rule_paths`` is empty), and its load errors. Empty, with a note, where the engine is absent."""
    module = importlib.import_module("honeyscope.detect")
    load_rules = getattr(module, "load_rules", None)
    detector_class = getattr(module, "Detector", None)
    if load_rules is None or detector_class is None:
        return [], ["the Sigma engine (honeyscope.detect) is not available; only YARA rules ran"]
    builtin = getattr(module, "builtin_rule_paths", None)
    paths = list(rule_paths) or (list(builtin()) if builtin else [])
    rules = load_rules(paths)
    errors = [str(error) for error in getattr(rules, "errors", [])]
    return [_sigma_adapter(detector_class(rules))], errors


def _sigma_adapter(detector: Any) -> EventDetector:
    def detect(event: HttpRequestEvent) -> list[Detection]:
        before = len(event.honeyscope.detections)
        result = detector.detect(event)
        if isinstance(result, list):  # the engine may return its detections or append them to the event
            return [item for item in result if isinstance(item, Detection)]
        return list(event.honeyscope.detections[before:])
    return detect


def _cve_key(cve: str) -> tuple[int, int]:
    parts = cve.split("-")
    try:
        return int(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return 0, 0
