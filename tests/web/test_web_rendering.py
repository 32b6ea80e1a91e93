"""What the views show of hostile bytes and text, the SVG charts, and the bundled world map."""

from __future__ import annotations

from datetime import date, timedelta

from honeyscope.web import charts, mapbuild
from honeyscope.web.present import cell, csv_safe, hex_dump, looks_textual, payload, visible


def test_controls_ansi_and_bidi_characters_are_made_visible():
    assert visible("a\x1b[31mb\x00c\u202ed\u200b") == "a\\x1b[31mb\\x00c\\u202ed\\u200b"
    assert visible("tab\tand\nnewline stay") == "tab\tand\nnewline stay"
    assert cell("GET /\r\nX: y") == "GET /\\r\\nX: y"
    assert cell("A" * 1000, 10) == "A" * 9 + "…"


def test_binary_bodies_become_a_hex_dump_and_text_stays_text():
    assert looks_textual(b"POST / HTTP/1.1\r\n\r\n<xml/>") and not looks_textual(bytes(range(64)))
    shown = payload("body", bytes(range(256)) * 64)
    assert shown.kind == "hex" and shown.hidden == 256 * 64 - 8192
    assert shown.lines[0] == "00000000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  |................|"
    assert hex_dump(b"AB\xff") == ["00000000  41 42 ff" + " " * 39 + "  |AB.|"]
    text = payload("head", b"GET /\xff\xfe HTTP/1.1\r\nUA: \x1b[2J\r\n\r\n")
    assert text.kind == "text" and text.lines[:2] == ["GET /\\xff\\xfe HTTP/1.1", "UA: \\x1b[2J"]


def test_csv_cells_that_a_spreadsheet_would_run_start_with_a_quote():
    for formula in ("=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1"):
        assert csv_safe(formula).startswith("'")
    assert csv_safe("GET /owa") == "GET /owa" and csv_safe(None) == "" and csv_safe(404) == "404"


def test_chart_labels_and_links_are_escaped():
    bar = charts.bar_chart([charts.Bar("<script>x</script>", 5, '/s?c="><x>')], label="<b>")
    assert "<script>" not in bar and "&lt;script&gt;" in bar and 'href="/s?c=&#34;&gt;&lt;x&gt;"' in bar
    days = [date(2021, 3, 1) + timedelta(days=i) for i in range(10)]
    line = charts.time_series(days, [charts.Line("<img src=x>", list(range(10)))], label="t", marker=days[4])
    assert "<img" not in line and line.count("<polyline") == 1 and 'stroke-dasharray' in line
    assert "style=" not in bar + line  # the CSP forbids inline styles: colours are presentation attributes
    assert "No data" in charts.bar_chart([], label="x")


def test_the_world_map_shades_countries_and_names_them():
    svg = charts.world_map({"CN": 100, "DE": 1}, label="map", href="/sessions?country={code}")
    assert svg.count("<path") == len(charts.world_shapes()["countries"]) > 170
    assert "China (CN): 100 events" in svg and 'href="/sessions?country=CN"' in svg
    assert 'href="/sessions?country=FR"' not in svg  # countries without events are not links
    assert charts.country_name("HK") == "Hong Kong" and charts.country_name("ZZ") == "ZZ"


def test_map_rings_crossing_the_antimeridian_are_split_not_smeared():
    ring = [(170.0, 60.0), (-170.0, 60.0), (-170.0, 70.0), (170.0, 70.0)]
    pieces = mapbuild.split_antimeridian(ring)
    assert len(pieces) == 2
    for piece in pieces:
        longitudes = [x for x, _ in piece]
        assert max(longitudes) - min(longitudes) <= 10.0 + 1e-9
    assert mapbuild.split_antimeridian([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]) == [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]]
    x, y = mapbuild.equal_earth(0.0, 0.0)
    assert (x, y) == (0.0, 0.0) and mapbuild.equal_earth(180.0, 0.0)[0] > 2.7
