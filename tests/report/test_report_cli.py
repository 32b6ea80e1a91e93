"""``honeyscope report`` from the command line: HTML and PDF (real headless Chromium) of a simulated store,
the indicator CSV, and one clear error line (exit 2) for every kind of bad input."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from honeyscope.cli.main import main
from honeyscope.report.pdf import PdfError, find_chromium

CHROMIUM = "/usr/bin/chromium"


def report(simulated, *extra: str) -> list[str]:
    return ["report", "--data", str(simulated.data), "--from", str(simulated.first), "--to", str(simulated.last),
            *extra]


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("honeyscope: error: ")
    return err[0]


def test_html_and_indicator_csv(simulated, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html, table = tmp_path / "r.html", tmp_path / "i.csv"
    assert main(report(simulated, "--tlp", "green", "--output", str(html), "--indicators-csv", str(table))) == 0
    out = capsys.readouterr().out
    assert f"wrote {html} (TLP:GREEN, {simulated.first} to {simulated.last}" in out
    text = html.read_text(encoding="utf-8")
    assert text.count("<span>TLP:GREEN</span>") == 2 and "#33FF00" in text
    assert "HAFNIUM" in text and table.read_text(encoding="utf-8").startswith("type,value,")


def test_pdf_printed_by_chromium(simulated, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    pdf = tmp_path / "r.pdf"
    assert main(report(simulated, "--format", "pdf", "--chromium", CHROMIUM, "--output", str(pdf))) == 0
    body = pdf.read_bytes()
    assert body.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", body))
    assert pages >= 3
    print(f"\nreport PDF: {pages} pages, {len(body):,} bytes")
    if shutil.which("pdftotext") is None:
        return  # the text check needs poppler-utils
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode()
    assert text.count("TLP:AMBER") >= 2 * pages  # header and footer of every page
    flat = " ".join(text.split())
    assert "Executive summary" in flat and "Source geography is not attribution" in flat
    finding = next(f for s in simulated.report.trends for f in s.findings)
    assert finding.sentence in flat


def test_missing_chromium_is_one_line_naming_the_fix(simulated, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("HONEYSCOPE_CHROMIUM", raising=False)
    assert main(report(simulated, "--format", "pdf", "--output", str(tmp_path / "r.pdf"))) == 2
    line = one_error(capsys)
    assert "apt-get install chromium" in line and "--format html" in line
    assert not (tmp_path / "r.pdf").exists()
    with pytest.raises(PdfError, match="HONEYSCOPE_CHROMIUM /nope"):
        find_chromium(environ={"HONEYSCOPE_CHROMIUM": "/nope"})


@pytest.mark.parametrize(("arguments", "expected"), [
    (["--from", "2021-03-10", "--to", "2021-03-01"], "before --from"),
    (["--from", "2021-13-01"], "not a date"),
    (["--to", "yesterday"], "not a date"),
    (["--tlp", "orange"], "not TLP 2.0"),
])
def test_bad_input_is_one_clear_line(simulated, arguments: list[str], expected: str,
                                     capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["report", "--data", str(simulated.data), "--output", str(tmp_path / "r.html"), *arguments])
    assert code == 2
    assert expected in one_error(capsys)
    assert not (tmp_path / "r.html").exists()


def test_no_store_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--data", str(tmp_path)]) == 2
    assert "no store at" in one_error(capsys)


def test_store_held_by_another_process_is_one_clear_line(simulated, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\nc = duckdb.connect(sys.argv[1])\nprint('ready', flush=True)"
         "\ntime.sleep(60)", str(simulated.data / "honeyscope.duckdb")],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        began = time.monotonic()
        assert main(report(simulated, "--output", str(tmp_path / "r.html"))) == 2
        line = one_error(capsys)
        assert "honeyscope up" in line or "lock" in line.lower(), line
        assert time.monotonic() - began < 30
    finally:
        holder.kill()
        holder.communicate(timeout=10)  # reaps it and closes its pipe
