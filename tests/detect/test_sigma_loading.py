"""Loading rules: problems come back as path:line: message, a bad rule costs only itself, doubtful rules
load with a warning naming what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from honeyscope.detect import load_rules

WriteRule = Callable[..., Path]

GOOD = """
title: Good rule
id: 0a7d7a3e-9f4c-4b7e-8c1a-2d3e4f5a6b7c
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: '/evil'
    condition: selection
level: high
"""


def _only(problems: list[object]) -> str:
    assert len(problems) == 1, problems
    return str(problems[0])


def test_yaml_syntax_error_names_file_and_line_and_the_others_load(write_rule: WriteRule) -> None:
    good = write_rule(GOOD, "a/good.yml")
    bad = write_rule("""
        title: Broken
        logsource:
            category: webserver
        detection:
            selection:
                cs-uri-query|contains: ['/x'
            condition: selection
        """, "b/bad.yml")
    rules = load_rules([good.parent.parent])
    assert [rule.meta.title for rule in rules.rules] == ["Good rule"]
    message = _only(rules.errors)
    assert message.startswith(f"{bad}:7: invalid YAML")


def test_unknown_modifier_points_at_its_key(write_rule: WriteRule) -> None:
    path = write_rule("""
        title: Typo
        logsource:
            category: webserver
        detection:
            selection:
                cs-method: GET
                cs-uri-query|containz: '/x'
            condition: selection
        """)
    assert _only(load_rules([path]).errors) == f"{path}:7: Unknown modifier 'containz'"


def test_invalid_level_and_bad_condition(write_rule: WriteRule) -> None:
    level = write_rule(GOOD.replace("level: high", "level: severe"), "level.yml")
    assert _only(load_rules([level]).errors) == f"{level}:9: 'severe' is not a valid Sigma rule level"
    condition = write_rule(GOOD.replace("condition: selection", "condition: selection and filter"), "cond.yml")
    message = _only(load_rules([condition]).errors)
    assert message.startswith(f"{condition}:8: ") and "'filter' not defined" in message


def test_duplicate_key_is_reported_at_its_line(write_rule: WriteRule) -> None:
    path = write_rule(GOOD.replace("level: high", "level: high\nlevel: low"), "dup.yml")
    assert _only(load_rules([path]).errors) == f"{path}:10: invalid YAML: duplicate key 'level'"


def test_unknown_field_is_a_warning_naming_field_and_rule(write_rule: WriteRule) -> None:
    path = write_rule(GOOD.replace("cs-uri-query|contains: '/evil'", "cs-uri-query|contains: '/evil'\n"
                                   "        x-custom-field: 1"), "field.yml")
    rules = load_rules([path])
    assert rules.errors == [] and len(rules.rules) == 1
    assert _only(rules.warnings) == (
        f"{path}:8: warning: rule 'Good rule' uses field 'x-custom-field' that honeyscope's field mapping does "
        "not know: that part never matches (see docs/detection.md)")


def test_unsupported_modifier_is_refused_clearly(write_rule: WriteRule) -> None:
    path = write_rule(GOOD.replace("cs-uri-query|contains: '/evil'", "cs-uri-query|expand: '%evil%'"), "x.yml")
    message = _only(load_rules([path]).errors)
    assert message.startswith(f"{path}:7: placeholders (the 'expand' modifier) are not supported")


def test_regex_needing_backtracking_is_refused_with_its_line(write_rule: WriteRule) -> None:
    # pySigma's default (safe) policy validates every re value with RE2, as our matcher runs them.
    path = write_rule(GOOD.replace("cs-uri-query|contains: '/evil'", "cs-uri-query|re: '(?=x)(a+)+b'"), "re.yml")
    message = _only(load_rules([path]).errors)
    assert message.startswith(f"{path}:7: Regular expression '(?=x)(a+)+b' is invalid")


def test_missing_path_and_empty_file(tmp_path: Path, write_rule: WriteRule) -> None:
    empty = write_rule("# nothing\n", "empty.yml")
    rules = load_rules([tmp_path / "nope", empty])
    assert _only(rules.errors) == f"{tmp_path / 'nope'}:1: no such file or directory — check the rule path"
    assert _only(rules.warnings) == f"{empty}:1: warning: no rule in this file"


def test_rules_for_other_log_sources_are_skipped(write_rule: WriteRule) -> None:
    path = write_rule(GOOD.replace("category: webserver", "category: process_creation"), "proc.yml")
    rules = load_rules([path])
    assert rules.rules == [] and rules.errors == []
    assert "is for log source {category: process_creation}, not web requests: skipped" in _only(rules.warnings)


def test_stage_tags_and_level_reach_the_metadata(write_rule: WriteRule) -> None:
    path = write_rule(GOOD.replace("level: high", """level: critical
honeyscope_stage: proxylogon.sid_leak
tags:
    - attack.t1505.003
    - attack.initial-access
    - cve.2021.26855
    - cve.2021-27065"""), "meta.yml")
    meta = load_rules([path]).rules[0].meta
    assert (meta.severity, meta.stage, meta.cves, meta.techniques) == (
        "critical", "proxylogon.sid_leak", ["CVE-2021-26855", "CVE-2021-27065"], ["T1505.003"])
    assert meta.rule_id == "0a7d7a3e-9f4c-4b7e-8c1a-2d3e4f5a6b7c"


def test_bad_stage_is_a_warning(write_rule: WriteRule) -> None:
    path = write_rule(GOOD + "honeyscope_stage: Not A Stage\n", "stage.yml")
    rules = load_rules([path])
    assert rules.rules[0].meta.stage is None
    assert _only(rules.warnings).startswith(f"{path}:10: warning: honeyscope_stage must be dotted lower-case")


CORRELATION = """
title: Many hits
id: 1b7d7a3e-9f4c-4b7e-8c1a-2d3e4f5a6b7c
correlation:
    type: event_count
    rules:
        - {reference}
    group-by:
        - c-ip
    timespan: 1m
    condition:
        gte: 3
level: high
"""


def test_correlation_with_an_unknown_rule_is_an_error(write_rule: WriteRule) -> None:
    path = write_rule(CORRELATION.format(reference="no_such_rule"), "corr.yml")
    message = _only(load_rules([path]).errors)
    assert message.startswith(f"{path}:5: correlation 'Many hits' refers to rule 'no_such_rule'")


def test_correlation_across_files_and_unsupported_type(write_rule: WriteRule) -> None:
    base = write_rule(GOOD.replace("title: Good rule", "title: Good rule\nname: good_rule"), "r/base.yml")
    write_rule(CORRELATION.format(reference="good_rule"), "r/corr.yml")
    rules = load_rules([base.parent])
    assert rules.errors == [] and len(rules.correlations) == 1
    assert rules.rules[0].generate is False  # a correlation's input only (Sigma generate: false)
    sum_rule = write_rule(CORRELATION.format(reference="good_rule").replace("event_count", "value_sum")
                          .replace("gte: 3", "gte: 3\n        field: cs-bytes"), "s/corr.yml")
    rules = load_rules([base, sum_rule])
    assert "correlation type value_sum is not supported" in _only(rules.errors)
