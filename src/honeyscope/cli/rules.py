"""``honeyscope rules``: check Sigma rules (``lint``) and run their samples (``test``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rules", help="lint Sigma rules or run their samples",
        description="Check Sigma detection rules: 'lint' reports every problem as file:line: message; 'test' "
                    "replays each rule's samples (FILE.samples.yaml beside FILE.yml) through the decoy persona "
                    "in-process and checks the rule fires on 'match' samples and not on 'no_match' ones.")
    actions = parser.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    lint = actions.add_parser("lint", help="report problems as file:line: message (exit 1 if any)",
                              description="Load rules, validate their samples files and run pySigma's offline "
                                          "validators; print each problem as file:line: message.")
    lint.add_argument("paths", nargs="+", metavar="PATH", help="rule file or directory (searched recursively)")
    lint.add_argument("--errors-only", action="store_true", help="ignore warnings (exit 1 only on errors)")
    lint.set_defaults(run=run_lint)
    test = actions.add_parser("test", help="run every rule's samples (exit 1 on a failure)",
                              description="Replay each rule's samples and report PASS/FAIL per rule file; "
                                          "without PATH, the built-in rule pack.")
    test.add_argument("paths", nargs="*", metavar="PATH", help="rule files or directories (default: built-in pack)")
    test.add_argument("--with", dest="extra", action="append", default=[], metavar="PATH",
                      help="also load these rules (e.g. rules a correlation refers to) without testing them")
    test.set_defaults(run=run_test)


def run_lint(args: argparse.Namespace) -> int:
    from honeyscope.detect.lint import lint

    problems = lint(args.paths)
    shown = [p for p in problems if p.severity == "error"] if args.errors_only else problems
    for problem in shown:
        print(problem)
    errors = sum(1 for p in problems if p.severity == "error")
    print(f"{errors} error(s), {len(problems) - errors} warning(s)", file=sys.stderr)
    return 1 if shown else 0


def run_test(args: argparse.Namespace) -> int:
    from honeyscope.detect import builtin_rule_paths, load_rules
    from honeyscope.detect.loader import rule_files
    from honeyscope.detect.samples import run_samples

    paths = [Path(p) for p in args.paths] or builtin_rule_paths()
    rules = load_rules([*paths, *args.extra])
    for problem in rules.errors:
        print(f"ERROR {problem}")
    tested, _ = rule_files(paths)
    results = run_samples(rules, tested)
    failed = 0
    for result in results:
        if result.samples_file is None:
            print(f"NOSAMPLES {result.rule_file}")
        elif result.ok:
            print(f"PASS {result.rule_file} ({result.passed} samples)")
        else:
            failed += 1
            print(f"FAIL {result.rule_file}")
            for failure in result.failures:
                print(f"  {failure}")
    passed = sum(1 for r in results if r.ok and r.samples_file is not None)
    print(f"{passed} passed, {failed} failed", file=sys.stderr)
    return 1 if failed or rules.errors else 0
