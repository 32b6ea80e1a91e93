"""Confidence 0–100 in the words of the STIX 2.1 confidence scales.

STIX Version 2.1 (OASIS Standard, 2021-06-10), Appendix A "Confidence Scales" — the same tables
``stix2.confidence.scales`` implements:

- A.1 None / Low / Med / High: 0 → None, 1–29 → Low, 30–69 → Med, 70–100 → High.
- A.5 DNI scale (the estimative words of ICD 203): 0–9 Almost No Chance / Remote, 10–19 Very Unlikely /
  Highly Improbable, 20–39 Unlikely / Improbable, 40–59 Roughly Even Chance / Roughly Even Odds, 60–79
  Likely / Probable, 80–89 Very Likely / Highly Probable, 90–100 Almost Certain / Nearly Certain.
"""

from __future__ import annotations

from typing import Final

_LEVELS: Final = ((0, "None"), (29, "Low"), (69, "Med"), (100, "High"))
_DNI: Final = ((9, "Almost No Chance / Remote"), (19, "Very Unlikely / Highly Improbable"),
               (39, "Unlikely / Improbable"), (59, "Roughly Even Chance / Roughly Even Odds"),
               (79, "Likely / Probable"), (89, "Very Likely / Highly Probable"),
               (100, "Almost Certain / Nearly Certain"))


def stix_level(confidence: int) -> str:
    """STIX 2.1 A.1: ``None``, ``Low``, ``Med`` or ``High``."""
    return _lookup(_LEVELS, confidence)


def dni_words(confidence: int) -> str:
    """STIX 2.1 A.5 (DNI / ICD 203) words, e.g. ``Likely / Probable``."""
    return _lookup(_DNI, confidence)


def _lookup(table: tuple[tuple[int, str], ...], confidence: int) -> str:
    if not 0 <= confidence <= 100:
        raise ValueError(f"confidence must be 0..100, got {confidence}")
    return next(word for upper, word in table if confidence <= upper)
