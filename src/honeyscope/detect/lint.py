"""``honeyscope rules lint``: every problem of a rule set as ``path:line: message``.

Three sources: what ``load_rules`` refuses or warns about (syntax, pySigma errors, unknown fields and
modifiers, unsafe regexes, unresolved correlations), the samples files, and a selection of pySigma's
own validators (the ones that need no network: pySigma's ATT&CK tag validator downloads its data).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.validation import SigmaValidator
from sigma.validators.core import validators

from honeyscope.detect import locate
from honeyscope.detect.loader import load_rules
from honeyscope.detect.rules import Problem
from honeyscope.detect.samples import SampleError, load_samples, samples_path

log = logging.getLogger(__name__)

#: pySigma validators run by lint (offline ones that find real mistakes, not house style).
VALIDATORS: Final = ("identifier_existence", "identifier_uniqueness", "duplicate_tag", "tag_format", "cvetag",
                     "dangling_detection", "double_wildcard", "control_character", "invalid_modifier_combinations",
                     "all_of_them_condition", "them_condition_with_single_detection", "escaped_wildcard")


def lint(paths: Iterable[str | Path]) -> list[Problem]:
    """All problems under ``paths``, sorted by file and line (errors and warnings)."""
    rules = load_rules(paths)
    problems = [*rules.errors, *rules.warnings]
    for rule_file in rules.files:
        problems += _sample_problems(rule_file)
    problems += _validator_problems(rules.files)
    return sorted(set(problems), key=lambda p: (p.path, p.line, p.message))


def _sample_problems(rule_file: Path) -> list[Problem]:
    path = samples_path(rule_file)
    if not path.is_file():
        return []
    try:
        load_samples(path)
    except SampleError as error:
        where, _, message = str(error).partition(": ")
        line = where.rsplit(":", 1)[-1]
        return [Problem(str(path), int(line) if line.isdigit() else 1, message)]
    except OSError as error:
        return [Problem(str(path), 1, f"cannot read samples: {error}")]
    return []


def _validator_problems(files: list[Path]) -> list[Problem]:
    validator = SigmaValidator([validators[name] for name in VALIDATORS])
    problems = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            collection = SigmaCollection.from_yaml(text, collect_errors=True)
        except (OSError, UnicodeDecodeError, SigmaError, ValueError):
            continue  # load_rules already reported why this file does not load
        nodes = [node for node in locate.documents(text) if node is not None]
        for issue in _validate(validator, collection):
            problems.append(Problem(str(path), _issue_line(issue, nodes), f"{issue.description} "
                                    f"({_issue_details(issue)}) [pySigma {type(issue).__name__}]", "warning"))
    return problems


def _validate(validator: SigmaValidator, collection: SigmaCollection) -> list[Any]:
    """Issues of the rules that loaded (pySigma's validators assume a rule without errors)."""
    issues: list[Any] = []
    try:
        for rule in collection:
            if isinstance(rule, SigmaRule) and not rule.errors:
                issues.extend(validator.validate_rule(rule))
        issues.extend(validator.finalize())
    except Exception:  # a validator bug must not hide the other problems
        log.debug("pySigma validator failed", exc_info=True)
    return issues


def _issue_details(issue: object) -> str:
    return ", ".join(f"{field.name}: {getattr(issue, field.name)}" for field in dataclasses.fields(issue)  # type: ignore[arg-type]
                     if field.name not in ("rules", "severity", "description"))


def _issue_line(issue: object, nodes: Sequence[object]) -> int:
    for field in dataclasses.fields(issue):  # type: ignore[arg-type]
        value = getattr(issue, field.name)
        text = getattr(value, "original", None) or (value if isinstance(value, str) else None) or \
            (str(value) if field.name in ("tag", "detection_name") else None)
        if text:
            for node in nodes:
                line = locate.text_line(node, str(text))  # type: ignore[arg-type]
                if line is not None:
                    return line
    return 1
