"""Compile a pySigma condition tree into Python closures, and derive its prefilter literals.

Written by hand (pySigma has no evaluator): each detection value becomes a predicate over one field's
values, conditions become ``and``/``or``/``not`` of those, and every rule gets the set of literals of
which at least one must occur in the request for the rule to possibly match (``requirement``). The
detector searches all literals of all rules at once and evaluates only the rules whose literals it found.
"""

from __future__ import annotations

import importlib
import ipaddress
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
)

from honeyscope.detect.fields import KEYWORDS, TAXONOMY, EventView, in_request_text, prefilter_pieces
from honeyscope.detect.regexes import RegexRefused, compile_search

Predicate = Callable[[EventView], bool]
ValueTest = Callable[[str], bool]

#: Literals so common in requests to this decoy that finding them says nothing.
_COMMON: Final = frozenset({"get", "post", "http", "https", "/owa/", "/ecp/", "/owa", "/ecp", "mozilla",
                            "mozilla/5.0", ".aspx", ".js", ".css", "host", "200", "302", "401", "404",
                            "500", "/", "?", "=", "&", "@", "%", ".", "-", "_", "$"})


class CompileError(ValueError):
    """A detection the matcher cannot run; ``hint`` is text to find its line in the rule file."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(slots=True)
class Leaf:
    """One field compared with one value (or a group of values on the same field)."""

    field: str
    label: str
    #: Per-value test (on lower-cased values when ``lowered``); None for tests over the whole field.
    value_test: ValueTest | None
    lowered: bool
    #: Test over all values of the field (null, exists, field references).
    values_test: Callable[[EventView], bool] | None = None
    #: Lower-cased literals of which one must be in the field's value for a match; None = no literal.
    literals: list[str] | None = None
    #: For a plain case-insensitive ``contains``: the needle (so that ``or`` can group such leaves).
    contains: str | None = None
    #: For a case-insensitive value test that is one string operation on the lower-cased value: the
    #: operation (``equals``, ``starts with``, ``ends with``, ``contains``) and its needles (any may
    #: match). An ``or`` runs such leaves of one field as one test (``_fused``); witnesses keep the leaves.
    shape: tuple[str, tuple[str, ...]] | None = None
    #: The compiled test (set by ``predicate``).
    compiled: Predicate | None = None

    def predicate(self) -> Predicate:
        if self.values_test is not None:
            return self.values_test
        test = self.value_test
        assert test is not None
        name = self.field
        if self.lowered:
            return _any_lowered(name, test) if self.shape is None else _shape_predicate(name, [self.shape])

        def raw(view: EventView) -> bool:
            for value in view.values(name):  # noqa: SIM110
                if test(value):
                    return True
            return False
        return raw

    def matching_value(self, view: EventView) -> str | None:
        """The (original-case) value that made this leaf true, for evidence."""
        if self.values_test is not None:
            return ", ".join(view.values(self.field)) if self.values_test(view) else None
        assert self.value_test is not None
        candidates = view.lowered(self.field) if self.lowered else view.values(self.field)
        for index, value in enumerate(candidates):
            if self.value_test(value):
                return view.values(self.field)[index]
        return None


def _any_lowered(name: str, test: ValueTest) -> Predicate:
    """Whether ``test`` holds for one lower-cased value of field ``name``."""
    def lowered(view: EventView) -> bool:
        # Hot path (every leaf of every candidate rule): the view's cache is read inline, and the
        # explicit loops here and in Leaf.predicate avoid any()'s generator overhead.
        values = view._low.get(name)
        for value in values if values is not None else view.lowered(name):  # noqa: SIM110
            if test(value):
                return True
        return False
    return lowered


@dataclass(slots=True)
class Node:
    """``and``/``or``/``not`` over children."""

    kind: str
    children: list[Node | Leaf] = field(default_factory=list)
    #: The compiled test (set by ``predicate``).
    compiled: Predicate | None = None
    #: The witness when it does not depend on the event (no ``or`` outside a ``not``; set by ``predicate``).
    fixed: list[Leaf] | None = None


Tree = Node | Leaf


def compile_conditions(conditions: Sequence[Any]) -> Tree:
    """The tree of a rule: its parsed conditions or-ed (Sigma allows a list of conditions)."""
    trees = [_tree(condition) for condition in conditions if condition is not None]
    if not trees:
        raise CompileError("the rule's condition selects nothing", "condition")
    return trees[0] if len(trees) == 1 else _or(trees)


def _tree(item: Any) -> Tree:
    if isinstance(item, ConditionAND):
        return Node("and", [_tree(arg) for arg in item.args if arg is not None])
    if isinstance(item, ConditionOR):
        return _or([_tree(arg) for arg in item.args if arg is not None])
    if isinstance(item, ConditionNOT):
        return Node("not", [_tree(item.args[0])])
    if isinstance(item, ConditionFieldEqualsValueExpression):
        return _value(item.field, item.value, keyword=False)
    if isinstance(item, ConditionValueExpression):
        return _value(KEYWORDS, item.value, keyword=True)
    raise CompileError(f"unsupported condition element {type(item).__name__}")


def _or(children: list[Tree]) -> Tree:
    """An ``or``; plain ``contains`` leaves on one field become one leaf testing all their literals."""
    groups: dict[str, list[Leaf]] = {}
    rest: list[Tree] = []
    for child in children:
        if isinstance(child, Leaf) and child.contains is not None:
            groups.setdefault(child.field, []).append(child)
        else:
            rest.append(child)
    for name, leaves in groups.items():
        rest.append(leaves[0] if len(leaves) == 1 else _contains_any(name, leaves))
    return rest[0] if len(rest) == 1 else Node("or", rest)


def _contains_any(name: str, leaves: list[Leaf]) -> Leaf:
    unique = tuple(dict.fromkeys(leaf.contains for leaf in leaves if leaf.contains is not None))
    literals: list[str] | None = []
    for leaf in leaves:
        if leaf.literals is None or literals is None:
            literals = None  # one needle too short to prefilter on: the group cannot be prefiltered
        else:
            literals.extend(leaf.literals)

    def test(value: str) -> bool:
        for needle in unique:  # noqa: SIM110
            if needle in value:
                return True
        return False
    shown = ", ".join(repr(needle) for needle in unique[:3]) + (", ..." if len(unique) > 3 else "")
    return Leaf(name, f"contains one of {shown}", test, True, literals=literals, shape=("contains", unique))


def _value(name: str, value: SigmaType, *, keyword: bool) -> Tree:
    """The leaf (or small tree) for ``name`` compared with one Sigma value."""
    if isinstance(value, SigmaExpansion):
        return _or([_value(name, item, keyword=keyword) for item in value.values])
    if isinstance(value, SigmaCasedString):
        return _string(name, value, keyword=keyword, cased=True)
    if isinstance(value, SigmaString):
        return _string(name, value, keyword=keyword, cased=False)
    if isinstance(value, SigmaTimestampPart):
        raise CompileError("timestamp-part modifiers (minute, hour, day, ...) are not supported by the "
                           "honeyscope matcher — compare a field instead", "|")
    if isinstance(value, SigmaBool | SigmaNumber):
        text = _number_text(value) if isinstance(value, SigmaNumber) else str(bool(value)).lower()
        return _string(name, SigmaString(text), keyword=keyword, cased=False)
    if isinstance(value, SigmaRegularExpression):
        return _regex(name, value)
    if isinstance(value, SigmaNull):
        return Leaf(name, "is null", None, False, values_test=lambda view: not any(view.values(name)))
    if isinstance(value, SigmaExists):
        wanted = bool(value)
        return Leaf(name, f"exists: {wanted}", None, False,
                    values_test=lambda view: bool(view.values(name)) is wanted)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr(name, value)
    if isinstance(value, SigmaCompareExpression):
        return _compare(name, value)
    if isinstance(value, SigmaFieldReference):
        return _fieldref(name, value)
    raise CompileError(f"value type {type(value).__name__} (from its modifiers) is not supported by the "
                       "honeyscope matcher — see docs/detection.md for the supported modifiers", "|")


def _number_text(value: SigmaNumber) -> str:
    number = value.number
    return str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)


def _string(name: str, value: SigmaString, *, keyword: bool, cased: bool) -> Leaf:
    parts: list[Any] = list(value.s)
    if any(isinstance(part, Placeholder) for part in parts):
        raise CompileError("placeholders (the 'expand' modifier) are not supported: no pipeline defines "
                           "their values", "expand")
    if keyword:  # unfielded values are searched anywhere in the request text
        if not parts or parts[0] is not SpecialChars.WILDCARD_MULTI:
            parts.insert(0, SpecialChars.WILDCARD_MULTI)
        if parts[-1] is not SpecialChars.WILDCARD_MULTI:
            parts.append(SpecialChars.WILDCARD_MULTI)
    fold: Callable[[str], str] = (lambda s: s) if cased else str.lower
    # Literals are lower-cased even for a cased value: the prefilter searches lower-cased text.
    literals = [part.lower() for part in parts if isinstance(part, str) and part]
    longest = max(literals, key=len, default="")
    piece = max(prefilter_pieces(name, longest), key=len)
    needles = [piece] if len(piece) > 1 else None
    if SpecialChars.WILDCARD_SINGLE in parts:
        pattern = "".join(_glob_part(part) for part in parts)
        search = compile_search(f"^(?:{pattern})$", ignore_case=not cased, multiline=False, dot_all=True)
        return Leaf(name, f"matches {value.original!r}", search, False, literals=needles)
    segments, anchored_start, anchored_end = _segments(parts, fold)
    test, label = _glob(segments, anchored_start, anchored_end)
    plain = label == "contains" and not cased
    shape = (label, (segments[0],)) if not cased and len(segments) == 1 else None
    return Leaf(name, f"{label} {value.original!r}", test, not cased, literals=needles,
                contains=segments[0] if plain else None, shape=shape)


def _glob_part(part: Any) -> str:
    if part is SpecialChars.WILDCARD_MULTI:
        return ".*"
    if part is SpecialChars.WILDCARD_SINGLE:
        return "."
    return re.escape(str(part))


def _segments(parts: list[Any], fold: Callable[[str], str]) -> tuple[list[str], bool, bool]:
    """Literal segments between ``*`` wildcards, and whether the value is anchored at each end."""
    anchored_start = not parts or parts[0] is not SpecialChars.WILDCARD_MULTI
    anchored_end = not parts or parts[-1] is not SpecialChars.WILDCARD_MULTI
    segments: list[str] = []
    current = ""
    for part in parts:
        if part is SpecialChars.WILDCARD_MULTI:
            if current:
                segments.append(current)
            current = ""
        else:
            current += fold(part)
    if current or not segments:
        segments.append(current)
    return segments, anchored_start, anchored_end


def _glob(segments: list[str], start: bool, end: bool) -> tuple[ValueTest, str]:
    """A value test for ``*``-globs: plain string operations, linear time (no regex)."""
    if len(segments) == 1:
        only = segments[0]
        if start and end:
            return (lambda v: v == only), "equals"
        if start:
            return (lambda v: v.startswith(only)), "starts with"
        if end:
            return (lambda v: v.endswith(only)), "ends with"
        return (lambda v: only in v), "contains"

    def test(value: str) -> bool:
        position, limit, first, last = 0, len(value), 0, len(segments)
        if start:
            if not value.startswith(segments[0]):
                return False
            position, first = len(segments[0]), 1
        if end:
            limit -= len(segments[-1])
            if limit < position or not value.endswith(segments[-1]):
                return False
            last -= 1
        for segment in segments[first:last]:
            found = value.find(segment, position, limit)
            if found < 0:
                return False
            position = found + len(segment)
        return True
    return test, "matches"


def _regex(name: str, value: SigmaRegularExpression) -> Leaf:
    pattern = value.regexp.original if hasattr(value.regexp, "original") else str(value.regexp)
    flags = value.flags
    try:
        search = compile_search(pattern, ignore_case=SigmaRegularExpressionFlag.IGNORECASE in flags,
                                multiline=SigmaRegularExpressionFlag.MULTILINE in flags,
                                dot_all=SigmaRegularExpressionFlag.DOTALL in flags)
    except RegexRefused as error:
        raise CompileError(str(error), pattern) from None
    literal = required_literal(pattern)
    return Leaf(name, f"matches regex {pattern!r}", search, False, literals=[literal] if literal else None)


def required_literal(pattern: str) -> str | None:
    """The longest run of literal characters every match of ``pattern`` contains (lower-cased), if any of
    3 or more: taken from the pattern's top-level sequence only (not from alternations or optional parts)."""
    parser = importlib.import_module("re._parser")  # the stdlib's regex parser (RE2 syntax parses alike)
    constants = importlib.import_module("re._constants")
    try:
        items = list(parser.parse(pattern))
    except (re.error, OverflowError, RecursionError):
        return None
    runs, current = [], ""
    for op, argument in items:
        if op == constants.LITERAL:
            current += chr(argument)
            continue
        runs.append(current)
        current = ""
        if op == constants.SUBPATTERN and argument[-1] is not None:
            inner = required_literal_items(list(argument[-1]), constants)
            runs.append(inner)
    runs.append(current)
    best = max(runs, key=len)
    return best.lower() if len(best) >= 3 else None


def required_literal_items(items: list[Any], constants: Any) -> str:
    """Longest literal run of a group's sequence (groups are mandatory when not repeated)."""
    runs, current = [], ""
    for op, argument in items:
        if op == constants.LITERAL:
            current += chr(argument)
        else:
            runs.append(current)
            current = ""
    runs.append(current)
    return max(runs, key=len)


def _cidr(name: str, value: SigmaCIDRExpression) -> Leaf:
    network = value.network

    def test(text: str) -> bool:
        try:
            return ipaddress.ip_address(text.strip("[]")) in network
        except ValueError:
            return False
    return Leaf(name, f"in {value.cidr}", test, False)


_COMPARE: Final[dict[CompareOperators, Callable[[float, float], bool]]] = {
    CompareOperators.LT: operator.lt, CompareOperators.LTE: operator.le, CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge, CompareOperators.NEQ: operator.ne,
}


def _compare(name: str, value: SigmaCompareExpression) -> Leaf:
    compare = _COMPARE[value.op]
    bound = float(value.number.number)

    def test(text: str) -> bool:
        try:
            return compare(float(text), bound)
        except ValueError:
            return False
    return Leaf(name, f"{value.op.name.lower()} {_number_text(value.number)}", test, False)


def _fieldref(name: str, value: SigmaFieldReference) -> Leaf:
    other = TAXONOMY.get(value.field, value.field)
    compare: Callable[[str, str], bool] = operator.eq
    if value.starts_with:
        compare = str.startswith
    elif value.ends_with:
        compare = str.endswith

    def test(view: EventView) -> bool:
        theirs = view.lowered(other)
        return any(compare(mine, candidate) for mine in view.lowered(name) for candidate in theirs)
    return Leaf(name, f"equals field {other}", None, False, values_test=test)


# -- evaluation and prefilter ------------------------------------------------------------------------


def predicate(tree: Tree) -> Predicate:
    """The closure that evaluates ``tree`` on an event (also kept on each node, see ``witness``)."""
    tree.compiled = tree.predicate() if isinstance(tree, Leaf) else _node_predicate(tree)
    return tree.compiled


def _node_predicate(tree: Node) -> Predicate:
    children = [predicate(child) for child in tree.children]
    tree.fixed = _fixed_witness(tree)
    if tree.kind == "or":
        children = _fused(_alternatives(tree))
    if tree.kind == "not":
        only = children[0]
        return lambda view: not only(view)
    if tree.kind == "and":
        return _conjunction(_conjuncts(tree))
    if len(children) == 1:
        return children[0]
    if len(children) == 2:
        first, second = children
        return lambda view: first(view) or second(view)
    members = tuple(children)

    def some(view: EventView) -> bool:
        for child in members:  # noqa: SIM110
            if child(view):
                return True
        return False
    return some


def _conjuncts(tree: Node) -> list[tuple[Predicate, bool]]:
    """The terms of an ``and`` with nested ``and``s flattened and each ``not`` as (its operand, False), in
    the order the nested tree evaluates them (so short-circuiting skips the same terms)."""
    terms: list[tuple[Predicate, bool]] = []
    for child in tree.children:
        if isinstance(child, Node) and child.kind == "and":
            terms.extend(_conjuncts(child))
        elif isinstance(child, Node) and child.kind == "not" and child.children[0].compiled is not None:
            terms.append((child.children[0].compiled, False))
        else:
            assert child.compiled is not None
            terms.append((child.compiled, True))
    return terms


def _conjunction(terms: list[tuple[Predicate, bool]]) -> Predicate:
    """True when every term's predicate gives its wanted answer (one call per term, no ``not`` wrappers)."""
    if len(terms) == 1:
        only, wanted = terms[0]
        return only if wanted else (lambda view: not only(view))
    if len(terms) == 2:
        (first, want_first), (second, want_second) = terms
        if want_first and want_second:
            return lambda view: first(view) and second(view)
        if want_first:
            return lambda view: first(view) and not second(view)
        if want_second:
            return lambda view: not first(view) and second(view)
        return lambda view: not first(view) and not second(view)
    members = tuple(terms)

    def every(view: EventView) -> bool:
        for term, wanted in members:  # noqa: SIM110
            if (not term(view)) is wanted:
                return False
        return True
    return every


def _alternatives(tree: Node) -> list[Tree]:
    """The children of an ``or``, nested ``or``s flattened (their predicates are compiled already)."""
    found: list[Tree] = []
    for child in tree.children:
        found.extend(_alternatives(child) if isinstance(child, Node) and child.kind == "or" else [child])
    return found


def _fused(alternatives: list[Tree]) -> list[Predicate]:
    """Predicates of the alternatives of an ``or``, the string-operation leaves of each field run as one
    test (≈ 9 ``endswith`` leaves become one ``str.endswith(tuple)``): the ``or`` is true when any
    alternative is, whatever their grouping and order, so the rule matches the same events."""
    by_field: dict[str, list[Leaf]] = {}
    for child in alternatives:
        if isinstance(child, Leaf) and child.shape is not None and child.lowered:
            by_field.setdefault(child.field, []).append(child)
    result: list[Predicate] = []
    for child in alternatives:
        if not isinstance(child, Leaf) or child.shape is None or not child.lowered:
            assert child.compiled is not None
            result.append(child.compiled)
            continue
        group = by_field[child.field]
        if len(group) == 1:
            assert child.compiled is not None
            result.append(child.compiled)
        elif group[0] is child:  # the group runs where its first leaf stood
            result.append(_shape_predicate(child.field, [leaf.shape for leaf in group if leaf.shape]))
    return result


def _shape_predicate(name: str, shapes: list[tuple[str, tuple[str, ...]]]) -> Predicate:
    """Whether a lower-cased value of field ``name`` passes any of ``shapes``. With one kind of string
    operation the operation runs inline in the loop over values (one Python call per leaf, not two)."""
    needles = _needles(shapes)
    kinds = [kind for kind, values in needles.items() if values]
    if len(kinds) != 1:
        return _any_lowered(name, _shape_test(needles))
    if kinds[0] == "contains":
        return _contains_predicate(name, tuple(dict.fromkeys(needles["contains"])))
    if kinds[0] == "equals":
        equal = frozenset(needles["equals"])

        def equals(view: EventView) -> bool:
            values = view._low.get(name)
            for value in values if values is not None else view.lowered(name):  # noqa: SIM110
                if value in equal:
                    return True
            return False
        return equals
    affixes = tuple(needles[kinds[0]])
    if kinds[0] == "starts with":
        def starts(view: EventView) -> bool:
            values = view._low.get(name)
            for value in values if values is not None else view.lowered(name):  # noqa: SIM110
                if value.startswith(affixes):
                    return True
            return False
        return starts

    def ends(view: EventView) -> bool:
        values = view._low.get(name)
        for value in values if values is not None else view.lowered(name):  # noqa: SIM110
            if value.endswith(affixes):
                return True
        return False
    return ends


def _contains_predicate(name: str, inside: tuple[str, ...]) -> Predicate:
    if len(inside) == 1:
        only = inside[0]

        def contains(view: EventView) -> bool:
            values = view._low.get(name)
            for value in values if values is not None else view.lowered(name):  # noqa: SIM110
                if only in value:
                    return True
            return False
        return contains

    def contains_any(view: EventView) -> bool:
        values = view._low.get(name)
        for value in values if values is not None else view.lowered(name):
            for needle in inside:
                if needle in value:
                    return True
        return False
    return contains_any


def _needles(shapes: list[tuple[str, tuple[str, ...]]]) -> dict[str, list[str]]:
    needles: dict[str, list[str]] = {"equals": [], "starts with": [], "ends with": [], "contains": []}
    for operation, values in shapes:
        needles[operation].extend(values)
    return needles


def _shape_test(needles: dict[str, list[str]]) -> ValueTest:
    """One value test true when any needle passes its string operation."""
    equal = frozenset(needles["equals"])
    starts, ends = tuple(needles["starts with"]), tuple(needles["ends with"])
    inside = tuple(dict.fromkeys(needles["contains"]))
    tests: list[ValueTest] = []
    if equal:
        tests.append(equal.__contains__)
    if starts:
        tests.append(lambda value: value.startswith(starts))
    if ends:
        tests.append(lambda value: value.endswith(ends))
    if inside:
        def contains(value: str) -> bool:
            for needle in inside:  # noqa: SIM110
                if needle in value:
                    return True
            return False
        tests.append(contains)
    if len(tests) == 1:
        return tests[0]

    def any_test(value: str) -> bool:
        for test in tests:  # noqa: SIM110
            if test(value):
                return True
        return False
    return any_test


#: At most this many literal groups are kept per rule (the cheapest ones): enough to tell the steps of
#: one exploit chain apart, few enough to keep the per-event bookkeeping small.
MAX_GROUPS: Final = 3

Group = list[tuple[str, str]]


def requirement(tree: Tree) -> list[Group]:
    """Literal groups that must all be satisfied for ``tree`` to match, a group being satisfied when one
    of its (field, literal) pairs occurs in the request. Empty when nothing can be required (a rule that
    is only a negation, a regex without literal, ...): such rules are evaluated on every event."""
    if isinstance(tree, Leaf):
        # Only ASCII literals of fields found verbatim in the request: the prefilter scans the raw request
        # bytes lower-cased as ASCII (fields.scan_bytes), nothing else.
        if not tree.literals or not in_request_text(tree.field) or \
                not all(literal.isascii() for literal in tree.literals):
            return []
        return [[(tree.field, literal) for literal in tree.literals]]
    if tree.kind == "not":
        return []
    found = [requirement(child) for child in tree.children]
    if tree.kind == "or":
        # One group necessary for the 'or': every alternative's most selective group, united.
        if any(not groups for groups in found):
            return []
        return [[pair for groups in found for pair in min(groups, key=_cost)]]
    groups = sorted((group for groups in found for group in groups), key=_cost)
    unique: list[Group] = []
    for group in groups:
        # A group of common literals ('post', '/owa/') is satisfied by most requests: checking it costs
        # more than it saves, unless nothing better exists.
        if group not in unique and (not unique or _cost(group) < 0.5):
            unique.append(group)
    return unique[:MAX_GROUPS]


def _cost(pairs: list[tuple[str, str]]) -> float:
    """Expected share of requests containing one of ``pairs`` (a rough guess: longer is rarer)."""
    total = 0.0
    for name, literal in pairs:
        if name in ("http.request.method", "http.response.status_code"):
            total += 1.0
        elif literal in _COMMON:
            total += 0.5
        else:
            total += 2.0 ** -min(len(literal), 24)
    return total


def _fixed_witness(tree: Node) -> list[Leaf] | None:
    """``witness`` of ``tree`` when it is the same on every event (children compiled first), else None."""
    if tree.kind == "not":
        return []
    if tree.kind == "or":
        return None
    leaves: list[Leaf] = []
    for child in tree.children:
        fixed = [child] if isinstance(child, Leaf) else child.fixed
        if fixed is None:
            return None
        leaves.extend(fixed)
    return leaves


def witness(tree: Tree, view: EventView) -> list[Leaf]:
    """The leaves that made a matching ``tree`` true: every child of an ``and``, the first true child of
    an ``or``, nothing under a ``not`` (``predicate`` must have compiled the tree)."""
    if isinstance(tree, Leaf):
        return [tree]
    if tree.fixed is not None:
        return list(tree.fixed)
    if tree.kind == "not":
        return []
    if tree.kind == "and":
        return [leaf for child in tree.children for leaf in witness(child, view)]
    for child in tree.children:
        if child.compiled is not None and child.compiled(view):
            return witness(child, view)
    return []


def witness_values(tree: Tree, view: EventView) -> list[tuple[Leaf, str]]:
    """``witness`` with each leaf's ``matching_value``, in the same order, testing each leaf of an ``or``
    once (the value found is the answer to whether it holds)."""
    if isinstance(tree, Leaf):
        value = tree.matching_value(view)
        return [] if value is None else [(tree, value)]
    pairs: list[tuple[Leaf, str]] = []
    if tree.fixed is not None:
        for leaf in tree.fixed:
            value = leaf.matching_value(view)
            if value is not None:
                pairs.append((leaf, value))
        return pairs
    if tree.kind == "not":
        return []
    if tree.kind == "and":
        for child in tree.children:
            if isinstance(child, Leaf):  # inline: most children of an 'and' are leaves
                value = child.matching_value(view)
                if value is not None:
                    pairs.append((child, value))
            else:
                pairs.extend(witness_values(child, view))
        return pairs
    for child in tree.children:
        if isinstance(child, Leaf):
            value = child.matching_value(view)
            if value is not None:
                return [(child, value)]
        elif child.compiled is not None and child.compiled(view):
            return witness_values(child, view)
    return []


def unknown_fields(tree: Tree, known: Callable[[str], bool]) -> list[str]:
    """Field names in ``tree`` that ``known`` does not accept (in order, once each)."""
    if isinstance(tree, Leaf):
        return [] if known(tree.field) else [tree.field]
    seen: dict[str, None] = {}
    for child in tree.children:
        for name in unknown_fields(child, known):
            seen[name] = None
    return list(seen)
