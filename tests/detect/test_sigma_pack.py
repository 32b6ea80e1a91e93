"""The built-in rule pack: loads cleanly, every rule is tagged and staged, and every rule file's samples
(positive and negative, replayed through the Exchange persona) pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from honeyscope.detect import RuleSet, load_rules
from honeyscope.detect.samples import load_samples, run_samples, samples_path


def test_pack_loads_without_problems(pack: RuleSet) -> None:
    assert [str(p) for p in pack.errors + pack.warnings] == []
    assert len(pack.rules) >= 55 and len(pack.correlations) == 3


def test_every_rule_has_techniques_a_stage_and_chain_rules_a_cve(pack: RuleSet) -> None:
    for item in [*pack.rules, *pack.correlations]:
        meta = item.meta
        assert meta.techniques, meta.title
        assert meta.stage, meta.title
        chain = meta.stage.split(".")[0]
        if chain in ("proxylogon", "proxyshell", "proxynotshell", "owassrf", "proxytoken", "cve_2020_0688"):
            assert meta.cves, meta.title


def test_every_rule_file_has_positive_and_negative_samples(pack: RuleSet) -> None:
    for rule_file in pack.files:
        path = samples_path(rule_file)
        assert path.is_file(), f"{rule_file} has no {path.name}"
        samples = load_samples(path).samples
        assert any(s.expect_match for s in samples) and any(not s.expect_match for s in samples), path


@pytest.mark.parametrize("family", ["proxylogon", "proxyshell", "proxynotshell", "owassrf", "cve_2020_0688",
                                    "proxytoken", "webshell", "hafnium", "recon", "credentials", "web"])
def test_samples_pass(pack: RuleSet, family: str) -> None:
    files = [f for f in pack.files if f"/{family}/" in str(f) or (family == "web" and f.parent.name == "web")]
    assert files
    failures = [failure for result in run_samples(pack, files) for failure in result.failures]
    assert failures == []


def test_a_failing_sample_is_reported(tmp_path: Path, pack: RuleSet) -> None:
    rule_file = next(f for f in pack.files if f.name == "cve_2020_0688_viewstate.yml")
    copy = tmp_path / rule_file.name
    copy.write_text(rule_file.read_text(), encoding="utf-8")
    (tmp_path / "cve_2020_0688_viewstate.samples.yaml").write_text(
        "match:\n  - {name: not an exploit, request: {target: /ecp/}}\n"
        "no_match:\n  - {name: the exploit, tool: msf_viewstate_exploit, args: [AAAA, B97B4E27, x=y]}\n")
    [result] = run_samples(load_rules([copy]))
    assert not result.ok and len(result.failures) == 2
    assert result.failures[0].endswith("not an exploit: expected a detection, got none (detections: none; "
                                       "stages: None)")
    assert "the exploit: expected no detection, but the rule fired (evidence: url.path: /ecp/default.aspx)" \
        in result.failures[1]
