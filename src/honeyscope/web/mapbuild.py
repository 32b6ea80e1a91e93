"""Build the dashboard's world map (``web/data/world.json``) from world-atlas TopoJSON, once, at build time.

    npm pack world-atlas && tar xzf world-atlas-2.0.2.tgz
    python -m honeyscope.web.mapbuild package/countries-110m.json \\
        iso-numeric.json world.json iso-names.json

world-atlas (ISC licence, Mike Bostock) packages Natural Earth's 1:110m admin-0 countries (public
domain). Its countries carry ISO 3166-1 *numeric* ids; the second file maps them to alpha-2 codes, the
optional fourth names the countries too small to draw (both taken from the ``iso3166`` PyPI package, MIT).
The output holds one SVG path per country in the Equal Earth projection (Šavrič, Patterson & Jenny
2018, equal-area: a country's area on the map is its true area), split at the antimeridian, rounded to
0.1 unit, without Antarctica. Written here rather than with d3 and topojson-client because it is ~150
lines and keeps Node out of the build.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

#: Equal Earth constants.
_A1, _A2, _A3, _A4 = 1.340264, -0.081106, 0.000893, 0.003796
_M: Final = math.sqrt(3) / 2
#: Map width in SVG units; the height follows from the projection's aspect ratio.
WIDTH: Final = 960.0
#: Natural Earth names world-atlas gives without an id, and the codes geolocation data uses for them.
_UNNUMBERED: Final = {"Kosovo": "XK", "Somaliland": "SO", "N. Cyprus": "CY"}
_SKIP: Final = {"010"}  # Antarctica: no attack sources, a fifth of the map's height

Point = tuple[float, float]


def equal_earth(longitude: float, latitude: float) -> Point:
    """Project degrees to Equal Earth's unit plane (x in about ±2.71, y in about ±1.32)."""
    lam, phi = math.radians(longitude), math.radians(latitude)
    theta = math.asin(_M * math.sin(phi))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = lam * math.cos(theta) / (_M * (_A1 + 3 * _A2 * t2 + t6 * (7 * _A3 + 9 * _A4 * t2)))
    y = theta * (_A1 + _A2 * t2 + t6 * (_A3 + _A4 * t2))
    return x, y


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """TopoJSON's quantised, delta-encoded arcs → lists of (longitude, latitude)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs: list[list[Point]] = []
    for arc in topology["arcs"]:
        x = y = 0
        points: list[Point] = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def _ring(indexes: Sequence[int], arcs: list[list[Point]]) -> list[Point]:
    """A ring from arc indexes (a negative index ``~i`` means arc ``i`` reversed); shared ends joined once."""
    points: list[Point] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc[1:] if points else arc)
    return points


def unwrap(ring: list[Point]) -> list[Point]:
    """Make longitudes continuous along a ring (a ring crossing the antimeridian jumps by ~360°)."""
    out: list[Point] = []
    for longitude, latitude in ring:
        if out:
            previous = out[-1][0]
            while longitude - previous > 180:
                longitude -= 360
            while longitude - previous < -180:
                longitude += 360
        out.append((longitude, latitude))
    return out


def _clip(ring: list[Point], bound: float, keep_below: bool) -> list[Point]:
    """Sutherland–Hodgman: the part of a ring on one side of the meridian ``bound``."""
    def inside(point: Point) -> bool:
        return point[0] <= bound if keep_below else point[0] >= bound

    out: list[Point] = []
    for index, current in enumerate(ring):
        previous = ring[index - 1]
        if inside(current) != inside(previous):
            t = (bound - previous[0]) / (current[0] - previous[0])
            out.append((bound, previous[1] + t * (current[1] - previous[1])))
        if inside(current):
            out.append(current)
    return out


def split_antimeridian(ring: list[Point]) -> list[list[Point]]:
    """A ring as pieces inside [-180°, 180°]: unwrapped, then clipped in each 360° copy it reaches."""
    ring = unwrap(ring)
    low, high = min(p[0] for p in ring), max(p[0] for p in ring)
    if low >= -180 and high <= 180:
        return [ring]
    pieces = []
    for shift in (-360.0, 0.0, 360.0):
        moved = [(x + shift, y) for x, y in ring]
        piece = _clip(_clip(moved, 180.0, keep_below=True), -180.0, keep_below=False)
        if len(piece) >= 3:
            pieces.append(piece)
    return pieces


def _path(rings: list[list[Point]], scale: float, x0: float, y0: float) -> str:
    """SVG path data: each ring as one absolute move then relative lines between the points rounded to
    0.1 unit (differences of rounded values, so no rounding error accumulates)."""
    parts: list[str] = []
    for ring in rings:
        grid: list[tuple[int, int]] = []
        for longitude, latitude in ring:
            x, y = equal_earth(longitude, latitude)
            point = (round((x - x0) * scale * 10), round((y0 - y) * scale * 10))
            if not grid or point != grid[-1]:  # rounding merges neighbours: drop the repeats
                grid.append(point)
        if len(grid) < 3:
            continue
        steps = [f"{_signed(b[0] - a[0])}{_signed(b[1] - a[1])}" for a, b in itertools.pairwise(grid)]
        parts.append(f"M{_tenths(grid[0][0])}{_signed(grid[0][1])}l" + "".join(steps).lstrip() + "z")
    return "".join(parts)


def _tenths(value: int) -> str:
    """An integer count of tenths as the shortest SVG number: 12 → ``1.2``, -5 → ``-.5``, 30 → ``3``."""
    sign = "-" if value < 0 else ""
    whole, tenth = divmod(abs(value), 10)
    if tenth == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole if whole else ''}.{tenth}"


def _signed(value: int) -> str:
    """The second number of a pair: a minus sign separates it by itself, otherwise a space is needed."""
    text = _tenths(value)
    return text if text.startswith("-") else " " + text


def build(topology: dict[str, Any], numeric_to_alpha2: dict[str, str],
          names: dict[str, str] | None = None) -> dict[str, Any]:
    """The map file: ``{"width", "height", "source", "countries": {alpha2: {"name", "d"}}, "names"}`` —
    ``names`` (alpha-2 → short name) covers the codes too small to draw at this scale (HK, SG, MT...)."""
    arcs = decode_arcs(topology)
    x_max, _ = equal_earth(180.0, 0.0)
    _, y_top = equal_earth(0.0, 85.0)
    _, y_bottom = equal_earth(0.0, -58.0)  # the southern tip of South America; Antarctica is left out
    scale = WIDTH / (2 * x_max)
    countries: dict[str, dict[str, str]] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry["properties"]["name"]
        number = geometry.get("id")
        if number in _SKIP:
            continue
        code = numeric_to_alpha2.get(number or "") or _UNNUMBERED.get(name)
        if code is None:
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        rings = [piece for polygon in polygons for ring in polygon for piece in split_antimeridian(_ring(ring, arcs))]
        d = _path(rings, scale, -x_max, y_top)
        entry = countries.setdefault(code, {"name": name, "d": ""})
        entry["d"] += d
    return {
        "width": WIDTH, "height": round((y_top - y_bottom) * scale, 1),
        "source": "Natural Earth 1:110m admin-0 countries (public domain) via world-atlas 2.0.2 (ISC), Equal Earth",
        "countries": dict(sorted(countries.items())),
        "names": {code: name for code, name in sorted((names or {}).items()) if code not in countries},
    }


def main(argv: Sequence[str]) -> int:
    if len(argv) not in (3, 4):
        print("usage: python -m honeyscope.web.mapbuild countries-110m.json iso-numeric.json world.json "
              "[iso-names.json]", file=sys.stderr)
        return 2
    topology = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    codes = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    names = json.loads(Path(argv[3]).read_text(encoding="utf-8")) if len(argv) == 4 else None
    result = build(topology, codes, names)
    Path(argv[2]).write_text(json.dumps(result, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    print(f"{len(result['countries'])} countries, {Path(argv[2]).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
