"""The SigmaHQ webserver rules load unchanged and all of them are accepted by the matcher."""

from __future__ import annotations

from pathlib import Path

from honeyscope.detect import load_rules


def test_all_86_webserver_rules_load_without_a_refusal(sigmahq_web_files: list[Path]) -> None:
    files = sigmahq_web_files
    assert len(files) == 86
    rules = load_rules(files)
    refused = [str(problem) for problem in rules.errors]
    assert refused == [], "refused rules:\n" + "\n".join(refused)
    assert [str(problem) for problem in rules.warnings] == []
    assert len(rules.rules) == 86
    assert {rule.meta.path for rule in rules.rules} == {str(path) for path in files}


def test_non_web_rules_of_the_snapshot_are_skipped_with_a_warning(sigmahq_dir: Path) -> None:
    rules = load_rules([sigmahq_dir])
    assert rules.errors == []
    assert len(rules.rules) == 86
    skipped = [p for p in rules.warnings if "not web requests: skipped" in p.message]
    assert skipped and all(p.path.endswith(".yml") and p.line >= 1 for p in skipped)


def test_sigmahq_tags_become_cves_and_techniques(sigmahq_web_files: list[Path]) -> None:
    rules = {rule.meta.title: rule.meta for rule in load_rules(sigmahq_web_files).rules}
    viewstate = rules["CVE-2020-0688 Exploitation Attempt"]
    assert viewstate.techniques == ["T1190"] and viewstate.cves == ["CVE-2020-0688"]
    log4j = rules["Log4j RCE CVE-2021-44228 Generic"]
    assert log4j.cves == ["CVE-2021-44228"] and log4j.severity == "high"
