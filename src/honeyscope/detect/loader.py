"""``load_rules``: Sigma files → compiled rules, with every problem as ``path:line: message``.

Each file is parsed by pySigma on its own (``SigmaCollection.from_dicts`` over the file's YAML
documents), so a malformed rule costs only itself. Rules then go through the field-mapping pipeline
and the compiler; correlation rules are resolved against every rule loaded, from any file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule
from sigma.rule.base import SigmaRuleBase

from honeyscope.detect import fields, locate
from honeyscope.detect.compiler import (
    CompileError,
    compile_conditions,
    predicate,
    requirement,
    unknown_fields,
)
from honeyscope.detect.pipeline import webserver_pipeline
from honeyscope.detect.rules import CompiledCorrelation, CompiledRule, Problem, RuleMeta, RuleSet

#: Rule files: ``*.yml``/``*.yaml``; sample files beside them (``*.samples.yaml``) are not rules (and, not
#: being ``*.yml``, pySigma's and sigma-cli's default globbing skips them too).
SAMPLES_SUFFIX: Final = ".samples.yaml"
#: The custom rule attribute naming the exploit-chain stage a detection marks.
STAGE_ATTRIBUTE: Final = "honeyscope_stage"
#: Log sources describing requests a web server received (proxy logs describe outbound traffic).
WEB_CATEGORIES: Final = frozenset({"webserver"})
_STAGE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
_CVE = re.compile(r"^(\d{4})[-.](\d{4,7})$")
_TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$")
_CVE_IN_TITLE = re.compile(r"\bCVE-(\d{4})-(\d{4,7})\b", re.IGNORECASE)
_CORRELATION_TYPES: Final = frozenset({"event_count", "value_count", "temporal", "temporal_ordered"})


def rule_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Rule files under ``paths`` (files, or directories searched recursively), sorted."""
    found: list[Path] = []
    problems: list[Problem] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if _is_rule_file(p)))
        elif path.is_file():
            found.append(path)
        else:
            problems.append(Problem(str(path), 1, "no such file or directory — check the rule path"))
    return found, problems


def _is_rule_file(path: Path) -> bool:
    return path.is_file() and path.suffix in (".yml", ".yaml") and not path.name.endswith(SAMPLES_SUFFIX)


def load_rules(paths: Iterable[str | Path]) -> RuleSet:
    """Load and compile every Sigma rule under ``paths``. Never raises for a bad rule: the rule is left
    out and the problem is in ``errors``; doubtful rules load with a message in ``warnings``."""
    files, problems = rule_files(paths)
    result = RuleSet(files=files)
    _add(result, problems)
    pending: list[tuple[SigmaCorrelationRule, RuleMeta, _Located]] = []
    for path in files:
        pending.extend(_load_file(path, result))
    _check_duplicate_ids(result)
    for correlation, meta, located in pending:
        _resolve_correlation(correlation, meta, located, result)
    return result


def _add(result: RuleSet, problems: Iterable[Problem]) -> None:
    for problem in problems:
        (result.warnings if problem.severity == "warning" else result.errors).append(problem)


def _message(error: BaseException) -> str:
    """An exception's message without pySigma's appended ' in <path>', and with the fix for a regex."""
    text = str(error.args[0]) if error.args else type(error).__name__
    if type(error).__name__ == "SigmaRegularExpressionError":
        # pySigma quotes RE2's reason as a bytes repr (b'...').
        text = re.sub(r": b'(.*)'$", r": \1", text) + " — RE2 runs rule regexes (linear time): rewrite it " \
            "without look-around or back-references"
    return text


def _load_file(path: Path, result: RuleSet) -> list[tuple[SigmaCorrelationRule, RuleMeta, _Located]]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _add(result, [Problem(name, 1, f"cannot read rule file: {error}")])
        return []
    try:
        docs = list(yaml.load_all(text, Loader=locate.RuleLoader))
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        _add(result, [Problem(name, locate.yaml_error_line(error), f"invalid YAML: {problem}")])
        return []
    lines = [line for line, doc in zip(locate.document_lines(text), docs, strict=False) if doc is not None]
    docs = [doc for doc in docs if doc is not None]
    if not all(isinstance(doc, dict) for doc in docs):
        _add(result, [Problem(name, 1, "a Sigma rule must be a YAML mapping (title, logsource, detection, ...)")])
        return []
    if not docs:
        _add(result, [Problem(name, 1, "no rule in this file", "warning")])
        return []
    source = _Source(name, text, lines, ["action" not in doc for doc in docs])
    try:
        collection = SigmaCollection.from_dicts(docs, collect_errors=True, source=SigmaRuleLocation(path),
                                                resolve_references=False)
    except SigmaError as error:
        _add(result, [Problem(name, locate.error_line(source.node(0), error), _message(error))])
        return []
    pending = []
    for index, rule in enumerate(collection.rules):
        if rule.errors:
            _add(result, [Problem(name, locate.error_line(source.node(index), error), _message(error))
                          for error in rule.errors])
            continue
        loaded = _load_rule(rule, source, index, result)
        if loaded is not None:
            pending.append(loaded)
    return pending


class _Source:
    """One rule file: its documents' first lines, and their YAML node trees, composed only when a problem
    needs a line number (composing costs more than loading)."""

    def __init__(self, path: str, text: str, lines: list[int], is_rule: list[bool]) -> None:
        self.path = path
        self._text = text
        self._lines = [line for line, rule in zip(lines, is_rule, strict=False) if rule]
        self._is_rule = is_rule
        self._nodes: list[yaml.Node] | None = None

    def line(self, index: int) -> int:
        """First line of the ``index``-th rule document."""
        return self._lines[index] if index < len(self._lines) else 1

    def node(self, index: int) -> yaml.Node | None:
        """Node tree of the ``index``-th rule document."""
        if self._nodes is None:
            nodes = [node for node in locate.documents(self._text) if node is not None]
            self._nodes = [node for node, rule in zip(nodes, self._is_rule, strict=False) if rule]
        return self._nodes[index] if index < len(self._nodes) else None


def _load_rule(rule: SigmaRuleBase, source: _Source, index: int,
               result: RuleSet) -> tuple[SigmaCorrelationRule, RuleMeta, _Located] | None:
    located = _Located(source, index)
    path = source.path
    meta, problems = _meta(rule, located, path)
    _add(result, problems)
    if isinstance(rule, SigmaCorrelationRule):
        try:
            webserver_pipeline().apply(rule)
        except SigmaError as error:
            _add(result, [Problem(path, locate.error_line(located.node(), error), _message(error))])
            return None
        return rule, meta, located
    if not isinstance(rule, SigmaRule):
        _add(result, [Problem(path, meta.line, f"{type(rule).__name__} documents are not supported here")])
        return None
    if not _is_web_rule(rule):
        _add(result, [Problem(path, locate.key_line(located.node(), ("logsource",)) or meta.line,
                              f"rule '{meta.title}' is for log source {_logsource(rule)}, not web requests: "
                              "skipped", "warning")])
        return None
    compiled = _compile(rule, meta, located, result)
    if compiled is not None:
        result.rules.append(compiled)
    return None


class _Located:
    """A rule document whose node tree is composed on first use."""

    def __init__(self, source: _Source, index: int) -> None:
        self.source = source
        self.index = index

    def line(self) -> int:
        return self.source.line(self.index)

    def node(self) -> yaml.Node | None:
        return self.source.node(self.index)

    def detection(self) -> yaml.Node | None:
        node = self.node()
        return locate.subtree(node, ("detection",)) or node


def _compile(rule: SigmaRule, meta: RuleMeta, located: _Located, result: RuleSet) -> CompiledRule | None:
    path = meta.path
    try:
        webserver_pipeline().apply(rule)
        conditions = [condition.parse() for condition in rule.detection.parsed_condition]
        tree = compile_conditions(conditions)
    except CompileError as error:
        _add(result, [Problem(path, locate.error_line(located.detection(), error, error.hint), str(error))])
        return None
    except SigmaError as error:
        _add(result, [Problem(path, locate.error_line(located.node(), error), _message(error))])
        return None
    reverse = {canonical: name for name, canonical in fields.TAXONOMY.items()}
    for unknown in unknown_fields(tree, fields.is_known):
        written = reverse.get(unknown, unknown)
        line = locate.text_line(located.detection(), written) or meta.line
        _add(result, [Problem(path, line, f"rule '{meta.title}' uses field '{written}' that honeyscope's field "
                              "mapping does not know: that part never matches (see docs/detection.md)",
                              "warning")])
    return CompiledRule(meta=meta, tree=tree, match=predicate(tree), requirement=requirement(tree))


def _is_web_rule(rule: SigmaRule) -> bool:
    source = rule.logsource
    return source.category in WEB_CATEGORIES or source.product == "honeyscope" or \
        (source.category is None and source.product is None and source.service is None)


def _logsource(rule: SigmaRule) -> str:
    source = rule.logsource
    parts = [f"{key}: {value}" for key, value in (("category", source.category), ("product", source.product),
                                                    ("service", source.service)) if value]
    return "{" + ", ".join(parts) + "}"


def _meta(rule: SigmaRuleBase, located: _Located, path: str) -> tuple[RuleMeta, list[Problem]]:
    problems: list[Problem] = []
    line = located.line()
    rule_id = str(rule.id) if rule.id else (rule.name or f"{Path(path).stem}:{line}")
    cves: list[str] = []
    techniques: list[str] = []
    for tag in rule.tags:
        namespace, name = tag.namespace.lower(), tag.name.lower()
        cve = _CVE.match(name)
        if namespace == "cve" and cve:
            cves.append(f"CVE-{cve.group(1)}-{cve.group(2)}")
        elif namespace == "attack" and _TECHNIQUE.match(name):
            techniques.append(name.upper())
    if not cves:  # many SigmaHQ rules name their CVE only in the title ("Log4j RCE CVE-2021-44228 ...")
        cves = [f"CVE-{year}-{number}" for year, number in _CVE_IN_TITLE.findall(rule.title or "")]
    stage = rule.custom_attributes.get(STAGE_ATTRIBUTE)
    if stage is not None and not (isinstance(stage, str) and _STAGE.match(stage)):
        problems.append(Problem(path, locate.key_line(located.node(), (STAGE_ATTRIBUTE,)) or line,
                                f"{STAGE_ATTRIBUTE} must be dotted lower-case words like "
                                f"'proxylogon.sid_leak', not {stage!r}: ignored", "warning"))
        stage = None
    level = rule.level.name.lower() if rule.level is not None else "medium"
    meta = RuleMeta(rule_id=rule_id, title=rule.title or rule_id, severity=level, cves=list(dict.fromkeys(cves)),
                    techniques=list(dict.fromkeys(techniques)), stage=stage, path=path, line=line, name=rule.name)
    return meta, problems


def _check_duplicate_ids(result: RuleSet) -> None:
    seen: dict[str, RuleMeta] = {}
    for meta in [rule.meta for rule in result.rules]:
        first = seen.setdefault(meta.rule_id, meta)
        if first is not meta:
            result.warnings.append(Problem(meta.path, meta.line, f"rule id {meta.rule_id} is also used by "
                                           f"{first.path}:{first.line}: detections cannot tell them apart",
                                           "warning"))


def _resolve_correlation(rule: SigmaCorrelationRule, meta: RuleMeta, located: _Located,
                         result: RuleSet) -> None:
    path = meta.path
    kind = rule.type.name.lower()

    def fail(message: str, where: tuple[str, ...]) -> None:
        result.errors.append(Problem(path, locate.key_line(located.node(), where) or meta.line, message))

    if kind not in _CORRELATION_TYPES:
        fail(f"correlation type {kind} is not supported: use event_count, value_count, temporal or "
             "temporal_ordered", ("correlation", "type"))
        return
    condition: Any = rule.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        fail("extended correlation conditions are not supported: list the rules and use gte/gt/...",
             ("correlation", "condition"))
        return
    by_reference = {}
    for compiled in result.rules:
        by_reference[compiled.meta.rule_id] = compiled
        if compiled.meta.name:
            by_reference[compiled.meta.name] = compiled
    referenced = []
    for reference in rule.rules or []:
        target = by_reference.get(str(reference.reference))
        if target is None:
            fail(f"correlation '{meta.title}' refers to rule '{reference.reference}', which is not loaded "
                 "(give its name or id, and load its file too)", ("correlation", "rules"))
            return
        referenced.append(target)
    for target in referenced:
        target.generate = target.generate and bool(rule.generate)
    group_by = list(rule.group_by or [])
    fieldref = condition.fieldref
    value_field = (fieldref[0] if isinstance(fieldref, list) and fieldref else fieldref or None) \
        if kind == "value_count" else None
    if isinstance(value_field, list):
        value_field = None
    for name in [*group_by, *([value_field] if value_field else [])]:
        if not fields.is_known(name):
            result.warnings.append(Problem(path, locate.text_line(located.node(), name) or meta.line,
                                           f"correlation '{meta.title}' uses field '{name}' that honeyscope's field "
                                           "mapping does not know: its value is always empty", "warning"))
    result.correlations.append(CompiledCorrelation(
        meta=meta, kind=kind, rules=[target.meta.rule_id for target in referenced], group_by=group_by,
        timespan=float(rule.timespan.seconds), op=condition.op.name.lower(), count=int(condition.count),
        value_field=value_field))
