"""Rule files as YAML with line numbers, so every load problem can say ``path:line``.

pySigma's errors carry the file but (in 2.0) no line; we re-read the file's YAML node tree and find the
line the error is about: the offending key or value named in the message, else the attribute its
exception class is about (``level``, ``detection.condition``, ``correlation.timespan`` …).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator
from typing import Any, Final

import yaml

#: pySigma exception class → the rule attribute it concerns.
_ATTRIBUTE: Final[dict[str, tuple[str, ...]]] = {
    "SigmaIdentifierError": ("id",),
    "SigmaTitleError": ("title",),
    "SigmaNameError": ("name",),
    "SigmaLevelError": ("level",),
    "SigmaStatusError": ("status",),
    "SigmaDateError": ("date",),
    "SigmaModifiedError": ("modified",),
    "SigmaTagError": ("tags",),
    "SigmaLogsourceError": ("logsource",),
    "SigmaDetectionError": ("detection",),
    "SigmaConditionError": ("detection", "condition"),
    "SigmaModifierError": ("detection",),
    "SigmaRegularExpressionError": ("detection",),
    "SigmaTypeError": ("detection",),
    "SigmaReferencesError": ("references",),
    "SigmaDescriptionError": ("description",),
    "SigmaAuthorError": ("author",),
    "SigmaFalsePositivesError": ("falsepositives",),
    "SigmaFieldsError": ("fields",),
    "SigmaRelatedError": ("related",),
    "SigmaLicenseError": ("license",),
    "SigmaScopeError": ("scope",),
    "SigmaTaxonomyError": ("taxonomy",),
    "SigmaCorrelationRuleError": ("correlation",),
    "SigmaCorrelationTypeError": ("correlation", "type"),
    "SigmaCorrelationConditionError": ("correlation", "condition"),
    "SigmaTimespanError": ("correlation", "timespan"),
    "SigmaRuleNotFoundError": ("correlation", "rules"),
}
_QUOTED = re.compile(r"'([^']{1,200})'|\"([^\"]{1,200})\"")


def _check_duplicates(loader: yaml.constructor.BaseConstructor, node: yaml.MappingNode, deep: bool) -> None:
    """Duplicate mapping keys are an error at their line (YAML would silently keep the last one)."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:
            continue  # unhashable key: the base class reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)


class RuleLoader(yaml.CSafeLoader):
    """Rule files: LibYAML (fast) with duplicate keys reported."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        _check_duplicates(self, node, deep)
        return super().construct_mapping(node, deep)


class StrictLoader(yaml.SafeLoader):
    """Sample files: the pure-Python parser, stricter than LibYAML in flow mappings (as pySigma's
    ``load_ruleset`` reads rules), with duplicate keys reported."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        _check_duplicates(self, node, deep)
        return super().construct_mapping(node, deep)


def document_lines(text: str) -> list[int]:
    """1-based first line of each YAML document of ``text`` (split at ``---`` lines), without parsing."""
    starts = [1]
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("---") and line[3:].strip() in ("", "|", ">"):
            if number == 1:
                continue
            starts.append(number + 1)
    return starts


def documents(text: str) -> list[yaml.Node | None]:
    """The YAML node tree of each document (empty list when the text is not YAML)."""
    try:
        return list(yaml.compose_all(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError:
        return []


def yaml_error_line(error: yaml.YAMLError) -> int:
    """1-based line of a YAML syntax error (1 when the parser gives none)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return mark.line + 1 if mark is not None else 1


def key_line(node: yaml.Node | None, path: tuple[str, ...]) -> int | None:
    """Line of the key at ``path`` (as deep as it exists) in a mapping node."""
    line: int | None = None
    for name in path:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == name:
                line, node = key.start_mark.line + 1, value
                break
        else:
            break
    return line


def text_line(node: yaml.Node | None, needle: str) -> int | None:
    """Line of the first key or scalar containing ``needle``."""
    for scalar in _scalars(node):
        if needle in scalar.value:
            return scalar.start_mark.line + 1
    return None


def _scalars(node: yaml.Node | None) -> Iterator[yaml.ScalarNode]:
    if isinstance(node, yaml.ScalarNode):
        yield node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _scalars(item)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _scalars(key)
            yield from _scalars(value)


def subtree(node: yaml.Node | None, path: tuple[str, ...]) -> yaml.Node | None:
    """The value node at ``path`` (None when absent)."""
    for name in path:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((value for key, value in node.value
                     if isinstance(key, yaml.ScalarNode) and key.value == name), None)
    return node


def error_line(node: yaml.Node | None, error: BaseException, hint: str | None = None) -> int:
    """Best line for ``error`` raised while loading the document ``node``."""
    attribute = _ATTRIBUTE.get(type(error).__name__, ())
    scope = subtree(node, attribute[:1]) if attribute else None
    for needle in ([hint] if hint else []) + _quoted(str(error)):
        for where in (scope, node):
            line = text_line(where, needle)
            if line is not None:
                return line
    line = key_line(node, attribute) if attribute else None
    if line is not None:
        return line
    return node.start_mark.line + 1 if node is not None else 1


def _quoted(message: str) -> list[str]:
    return [a or b for a, b in _QUOTED.findall(message)]
