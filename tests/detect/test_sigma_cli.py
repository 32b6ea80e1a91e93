"""``honeyscope rules lint`` and ``honeyscope rules test`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from honeyscope.cli.main import main
from honeyscope.detect import builtin_rule_paths


def test_lint_reports_file_line_message_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yml").write_text("title: Bad\nlogsource:\n    category: webserver\ndetection:\n"
                                      "    sel:\n        cs-uri-query|endswidth: x\n    condition: sel\n")
    (tmp_path / "warn.yml").write_text("title: Warn\nid: 3c0a1f7e-2b1d-4e5f-8a9b-0c1d2e3f4a5b\nlogsource:\n"
                                       "    category: webserver\ndetection:\n    sel:\n        nosuchfield: x\n"
                                       "    condition: sel\n")
    assert main(["rules", "lint", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert f"{tmp_path / 'bad.yml'}:6: Unknown modifier 'endswidth'" in lines
    assert any(line.startswith(f"{tmp_path / 'warn.yml'}:7: warning: rule 'Warn' uses field 'nosuchfield'")
               for line in lines)
    assert "1 error(s)" in err


def test_lint_of_the_builtin_pack_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "lint", *map(str, builtin_rule_paths())]) == 0
    assert capsys.readouterr().out == ""


def test_rules_test_passes_on_the_pack_and_fails_on_a_bad_sample(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    pack = builtin_rule_paths()[0] / "exchange" / "proxytoken"
    assert main(["rules", "test", str(pack)]) == 0
    out, _ = capsys.readouterr()
    assert sum(line.startswith("PASS ") for line in out.splitlines()) == 3
    rule = pack / "proxytoken_probe.yml"
    (tmp_path / rule.name).write_text(rule.read_text())
    samples = "match:\n  - {name: plain page, request: {target: /ecp/}}\n"
    (tmp_path / "proxytoken_probe.samples.yaml").write_text(samples)
    (tmp_path / "nosamples.yml").write_text("title: No samples\nlogsource:\n    category: webserver\ndetection:\n"
                                            "    sel:\n        cs-uri-stem: /x\n    condition: sel\n")
    assert main(["rules", "test", str(tmp_path)]) == 1
    out, _ = capsys.readouterr()
    assert f"FAIL {tmp_path / rule.name}" in out
    assert "plain page: expected a detection, got none" in out
    assert f"NOSAMPLES {tmp_path / 'nosamples.yml'}" in out
