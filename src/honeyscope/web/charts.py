"""Server-rendered SVG charts: horizontal bars, daily time series, a world choropleth.

Written by hand (a few dozen lines each) so the dashboard ships no JavaScript chart library and loads
nothing from elsewhere. Every label is attacker-influenced (paths, country names from data files, CVE
ids from rules) and goes through ``escape``; links are built by the caller from our own routes and are
escaped too. Colours are SVG presentation attributes, not ``style`` attributes, so the strict
Content-Security-Policy (no inline styles) holds.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from typing import Any, Final

from markupsafe import Markup, escape

#: Categorical colours (Okabe–Ito, distinguishable with colour-vision deficiencies).
PALETTE: Final = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999")
#: Sequential blues for the map, lightest first; index 0 is "no events".
_MAP_SCALE: Final = ("#e9edf1", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c", "#08306b")
#: Longest label drawn in a chart (longer ones are cut with an ellipsis).
MAX_LABEL: Final = 28


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label, value, and an optional link (one of our own URLs)."""

    label: str
    value: int
    href: str | None = None
    title: str | None = None


def cut(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` at most ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:g}"


def _svg(width: float, height: float, body: str, label: str, css: str) -> Markup:
    # Every piece of ``body`` was escaped where it was built; this is the one place it becomes Markup.
    svg = (f'<svg class="chart {css}" viewBox="0 0 {width:g} {height:g}" role="img" aria-label="{escape(label)}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>{body}</svg>')
    return Markup(svg)  # noqa: S704


def _link(href: str | None, inner: str) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def bar_chart(bars: Sequence[Bar], *, label: str, width: int = 420, row: int = 22,
              color: str = PALETTE[0]) -> Markup:
    """Horizontal bars, largest value full width; labels on the left, values on the right."""
    if not bars:
        return Markup('<p class="empty">No data for this period.</p>')
    label_w, value_w = 150, 60
    span = width - label_w - value_w
    top = max(bar.value for bar in bars) or 1
    parts: list[str] = []
    for index, bar in enumerate(bars):
        y = index * row
        length = max(1.0, span * bar.value / top)
        hover = escape(bar.title or f"{bar.label}: {bar.value:,}")
        inner = (f'<g class="bar"><title>{hover}</title>'
                 f'<text x="{label_w - 6}" y="{y + row * 0.68:.1f}" text-anchor="end">{escape(cut(bar.label, 22))}'
                 f'</text><rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row - 6}" fill="{color}"/>'
                 f'<text x="{label_w + length + 4:.1f}" y="{y + row * 0.68:.1f}">{escape(_number(bar.value))}</text>'
                 "</g>")
        parts.append(_link(bar.href, inner))
    return _svg(width, len(bars) * row, "".join(parts), label, "bars")


@dataclass(frozen=True, slots=True)
class Line:
    """One series of a time chart: a name and one count per day."""

    name: str
    counts: Sequence[int]
    href: str | None = None


def time_series(days: Sequence[date], lines: Sequence[Line], *, label: str, width: int = 640, height: int = 220,
                marker: date | None = None, marker_label: str = "") -> Markup:
    """Daily counts as lines over a shared time axis, with a legend; ``marker`` draws a dashed day line."""
    if not days or not lines:
        return Markup('<p class="empty">No data for this period.</p>')
    left, right, top, bottom = 48, 12, 10, 46 + 16 * math.ceil(len(lines) / 3)
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(line.counts, default=0) for line in lines), default=0)
    ceiling = _nice_ceiling(peak)

    def x(index: float) -> float:
        return left + (plot_w * index / (len(days) - 1) if len(days) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / ceiling

    parts = [_axes(days, ceiling, x, y, left, width - right)]
    if marker is not None and days[0] <= marker <= days[-1]:
        mx = x((marker - days[0]).days)
        parts.append(f'<g class="marker"><title>{escape(marker_label or str(marker))}</title>'
                     f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#D55E00" '
                     f'stroke-dasharray="4 3"/></g>')
    for index, line in enumerate(lines):
        color = PALETTE[index % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(line.counts))
        total = sum(line.counts)
        parts.append(f'<g class="series"><title>{escape(line.name)}: {total:,} events</title>'
                     f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/></g>')
        lx, ly = left + (index % 3) * (plot_w / 3), height - bottom + 34 + 16 * (index // 3)
        legend = (f'<g class="legend"><rect x="{lx:.1f}" y="{ly - 9}" width="10" height="10" fill="{color}"/>'
                  f'<text x="{lx + 14:.1f}" y="{ly}">{escape(cut(line.name, 24))} ({total:,})</text></g>')
        parts.append(_link(line.href, legend))
    return _svg(width, height, "".join(parts), label, "series")


def _nice_ceiling(peak: float) -> float:
    """The axis top: 1, 2 or 5 × a power of ten at or above ``peak``."""
    if peak <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(peak))
    return float(next(step * power for step in (1, 2, 5, 10) if step * power >= peak))


def _axes(days: Sequence[date], ceiling: float, x: Any, y: Any, x0: float, x1: float) -> str:
    parts: list[str] = []
    for fraction in (0.0, 0.5, 1.0):
        value = ceiling * fraction
        parts.append(f'<line class="grid" x1="{x0}" x2="{x1}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     f'stroke="#ccd" stroke-width="1"/>'
                     f'<text class="tick" x="{x0 - 4}" y="{y(value) + 4:.1f}" text-anchor="end">'
                     f"{escape(_number(value))}</text>")
    ticks = sorted({0, len(days) - 1, *range(0, len(days), max(1, len(days) // 5))})
    for index in ticks:
        if index < len(days) and (index == len(days) - 1 or len(days) - 1 - index >= max(1, len(days) // 10)):
            parts.append(f'<text class="tick" x="{x(index):.1f}" y="{y(0) + 16:.1f}" text-anchor="middle">'
                         f"{escape(days[index].strftime('%m-%d'))}</text>")
    return "".join(parts)


@functools.cache
def world_shapes() -> dict[str, Any]:
    """The bundled country outlines (``data/world.json``, see ``mapbuild``), loaded once."""
    data: dict[str, Any] = json.loads(files("honeyscope.web").joinpath("data", "world.json").read_text("utf-8"))
    return data


def country_name(code: str) -> str:
    """English short name of an ISO 3166-1 alpha-2 code, or the code itself when the map lacks it."""
    shapes = world_shapes()
    entry = shapes["countries"].get(code.upper())
    return str(entry["name"]) if entry else str(shapes.get("names", {}).get(code.upper(), code))


def world_map(counts: Mapping[str, int], *, label: str, href: str | None = None) -> Markup:
    """Countries shaded by events (log scale); each country's tooltip gives its name and count.

    ``href`` is a format string with ``{code}`` (e.g. ``/sessions?country={code}``) linking each shaded
    country; it comes from our routes and the code from the map file, both escaped."""
    shapes = world_shapes()
    peak = max(counts.values(), default=0)
    parts: list[str] = []
    for code, shape in shapes["countries"].items():
        value = counts.get(code, 0)
        level = 0 if value <= 0 else 1 + min(5, int(5 * math.log1p(value) / math.log1p(peak))) if peak else 0
        title = f"{shape['name']} ({code}): {value:,} events"
        path = (f'<path d="{escape(shape["d"])}" fill="{_MAP_SCALE[level]}" stroke="#fff" stroke-width=".4">'
                f"<title>{escape(title)}</title></path>")
        parts.append(_link(href.format(code=code) if href and value else None, path))
    legend = _map_legend(peak, shapes["height"])
    return _svg(shapes["width"], shapes["height"] + 24, "".join(parts) + legend, label, "map")


def _map_legend(peak: int, y: float) -> str:
    parts = []
    for index, color in enumerate(_MAP_SCALE):
        parts.append(f'<rect x="{10 + index * 34}" y="{y + 8:.1f}" width="34" height="10" fill="{color}"/>')
    text = f"0 … {peak:,} events (log scale)" if peak else "no events"
    parts.append(f'<text class="tick" x="{10 + len(_MAP_SCALE) * 34 + 8}" y="{y + 18:.1f}">{escape(text)}</text>')
    return "".join(parts)


def sparkline(counts: Sequence[int], *, label: str, width: int = 120, height: int = 24) -> Markup:
    """A small unlabelled line of daily counts (sensor health)."""
    if not counts:
        return Markup("")
    peak = max(counts) or 1
    step = width / max(1, len(counts) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (height - 4) * v / peak:.1f}" for i, v in enumerate(counts))
    return _svg(width, height, f'<polyline points="{points}" fill="none" stroke="{PALETTE[0]}" stroke-width="1.5"/>',
                label, "spark")
