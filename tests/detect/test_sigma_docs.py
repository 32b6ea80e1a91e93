"""docs/detection.md documents every field name the mapping knows."""

from __future__ import annotations

from pathlib import Path

from honeyscope.detect.fields import COOKIE_PREFIX, FIELDS, HEADER_PREFIX, TAXONOMY

DOC = Path(__file__).resolve().parents[2] / "docs" / "detection.md"


def test_every_taxonomy_name_and_canonical_field_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = [*TAXONOMY, *TAXONOMY.values(), *FIELDS, f"{HEADER_PREFIX}<name>", f"{COOKIE_PREFIX}<name>"]
    missing = sorted({name for name in names if f"`{name}`" not in text})
    assert missing == []
