"""The daily table: dense days × keys, zeros filled, exposure and outages."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from honeyscope.analysis.trends import build_table, exposure_from_sensors

D1, D2, D3, D4 = (date(2021, 3, day) for day in (1, 2, 3, 4))


def test_missing_days_and_keys_count_zero_and_duplicates_add_up() -> None:
    rows = [(D1, ("CN",), 5), (D3, ("CN",), 7), (D3, ("CN",), 1), (D2, ("US",), 2)]
    table = build_table(["country"], rows, {D1: 2, D2: 2, D3: 1})
    assert table.days == (D1, D2, D3)
    assert table.keys == (("CN",), ("US",))
    assert table.counts.tolist() == [[5, 0, 8], [0, 2, 0]]
    assert table.exposure.tolist() == [2, 2, 1]


def test_days_without_exposure_are_outages() -> None:
    table = build_table(["country"], [(D1, ("CN",), 3)], {D1: 1, D3: 2}, last=D4)
    assert table.days == (D1, D2, D3, D4)
    assert table.outages() == [D2, D4]
    assert table.observed.tolist() == [True, False, True, False]


def test_bounds_drop_rows_outside_and_their_keys() -> None:
    rows = [(D1, ("CN",), 3), (D3, ("US",), 4)]
    table = build_table(["country"], rows, {D1: 1, D2: 1, D3: 1}, first=D2, last=D3)
    assert table.keys == (("US",),)
    assert table.counts.tolist() == [[0, 4]]


def test_empty_input_gives_an_empty_table() -> None:
    table = build_table(["country", "cve"], [], {})
    assert table.days == ()
    assert table.keys == ()
    assert table.counts.shape == (0, 0)


def test_key_width_must_match_the_dimensions() -> None:
    with pytest.raises(ValueError, match="dimensions"):
        build_table(["country", "cve"], [(D1, ("CN",), 1)], {D1: 1})


def test_exposure_counts_sensors_with_events() -> None:
    rows = [(D1, "s1", 10), (D1, "s2", 3), (D2, "s1", 4), (D2, "s2", 0), (D3, "s3", 1)]
    assert exposure_from_sensors(rows) == {D1: 2, D2: 1, D3: 1}
    assert np.array_equal(build_table(["country"], [], exposure_from_sensors(rows)).exposure, [2, 1, 1])
