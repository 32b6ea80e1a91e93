"""``honeyscope hunt``: run our detection over IIS W3C logs (a real Exchange server's, or a decoy export)
and print the findings per CVE with the matching lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.config import ConfigError
from honeyscope.detect.yara import YaraScanner, builtin_yara_paths
from honeyscope.detect.yara.loader import RULE_SUFFIXES
from honeyscope.share.iis import (
    EventDetector,
    Finding,
    HuntReport,
    LineDetector,
    hunt,
    sigma_event_detectors,
    yara_line_detector,
)

_SIGMA_SUFFIXES = (".yml", ".yaml")
_SHOWN_CHARS = 240


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "hunt", help="hunt IIS W3C logs for Exchange exploitation (findings per CVE)",
        description="Read IIS W3C logs (u_ex*.log, .gz too; any #Fields order) and run the Sigma rules and "
                    "YARA log rules over every line. Findings are grouped per CVE, each with its file:line.",
        epilog="Example: honeyscope hunt C:/inetpub/logs/LogFiles/W3SVC1/u_ex21*.log "
               "--rules signature-base/yara --json")
    parser.add_argument("logs", nargs="+", type=Path, metavar="LOG", help="W3C log files")
    parser.add_argument("--rules", action="append", default=[], type=Path, metavar="PATH",
                        help="extra rules (repeatable): .yar/.yara files go to YARA, .yml/.yaml to Sigma; a "
                             "directory to whichever it contains")
    parser.add_argument("--no-builtin", action="store_true", help="run only the --rules given")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    missing = [str(path) for path in args.logs if not path.is_file()]
    if len(missing) == len(args.logs):
        raise ConfigError(f"{', '.join(missing)}: no such log file — pass IIS W3C log files (u_ex*.log)")
    yara_paths, sigma_paths = split_rule_paths(args.rules)
    lines, events, problems = _detectors(yara_paths, sigma_paths, builtin=not args.no_builtin)
    report = hunt([path for path in args.logs if path.is_file()], line_detectors=lines, event_detectors=events)
    report.problems[:0] = [f"{path}: no such file" for path in missing] + problems
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode(report_json(report)) + b"\n")
    else:
        print_report(report)
    for problem in report.problems[:20]:
        print(f"honeyscope: warning: {problem}", file=sys.stderr)
    return 0


def split_rule_paths(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(YARA paths, Sigma paths) by file suffix; a directory goes to each engine it has files for."""
    yara: list[Path] = []
    sigma: list[Path] = []
    for path in paths:
        if path.is_dir():
            suffixes = {p.suffix.lower() for p in path.rglob("*") if p.is_file()}
            if suffixes & set(RULE_SUFFIXES):
                yara.append(path)
            if suffixes & set(_SIGMA_SUFFIXES):
                sigma.append(path)
        elif path.suffix.lower() in _SIGMA_SUFFIXES:
            sigma.append(path)
        elif path.suffix.lower() in RULE_SUFFIXES:
            yara.append(path)
        else:
            raise ConfigError(f"{path}: not a rule file or directory — pass .yar/.yara (YARA) or .yml (Sigma)")
    return yara, sigma


def _detectors(yara_paths: list[Path], sigma_paths: list[Path], *,
               builtin: bool) -> tuple[list[LineDetector], list[EventDetector], list[str]]:
    problems: list[str] = []
    lines: list[LineDetector] = []
    paths = [*builtin_yara_paths(), *yara_paths] if builtin else yara_paths
    if paths:
        scanner = YaraScanner.load(paths)
        problems += scanner.errors
        lines.append(yara_line_detector(scanner))
    events: list[EventDetector] = []
    if builtin or sigma_paths:
        events, errors = sigma_event_detectors(sigma_paths)
        problems += errors
    return lines, events, problems


def print_report(report: HuntReport) -> None:
    """Findings per CVE: each rule once, then its lines as ``file:line  text``."""
    groups = report.by_cve()
    print(f"{report.files} files, {report.lines} lines, {len(report.findings)} findings "
          f"under {len(groups)} headings")
    for cve, findings in groups.items():
        lines = {finding.location for finding in findings}
        print(f"\n{cve}: {len(lines)} lines")
        for rule_findings in _by_rule(findings).values():
            detection = rule_findings[0].detection
            print(f"  [{detection.engine} {detection.severity}] {detection.rule_id}: {detection.title}")
            for finding in rule_findings:
                print(f"    {finding.location}  {_shown(finding.line)}")


def report_json(report: HuntReport) -> dict[str, Any]:
    """The report as a JSON-ready document."""
    return {
        "files": report.files, "lines": report.lines, "unparsed": report.unparsed,
        "findings": len(report.findings),
        "by_cve": {cve: [_finding_json(f) for f in findings] for cve, findings in report.by_cve().items()},
        "problems": report.problems,
    }


def _finding_json(finding: Finding) -> dict[str, Any]:
    detection = finding.detection
    return {"location": finding.location, "line": finding.line, "rule_id": detection.rule_id,
            "engine": detection.engine, "title": detection.title, "severity": detection.severity,
            "cves": detection.cves, "techniques": detection.techniques, "stage": detection.stage,
            "evidence": detection.evidence}


def _by_rule(findings: list[Finding]) -> dict[tuple[str, str], list[Finding]]:
    grouped: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        grouped.setdefault((finding.detection.engine, finding.detection.rule_id), []).append(finding)
    return grouped


def _shown(line: str) -> str:
    return line if len(line) <= _SHOWN_CHARS else line[:_SHOWN_CHARS] + "…"
