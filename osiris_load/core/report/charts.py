"""Hand-made inline SVG line charts for the HTML report.

Why not matplotlib: the report must open offline as one file, and a few lines, axes and labels
are all it needs. Writing the SVG here keeps the project free of a plotting dependency (and of its
~1 s import per report), makes the output deterministic (tests can count charts and read their
``data-*`` attributes), and lets the charts carry ``<title>`` tooltips without any JavaScript.

Everything here is pure: numbers in, an SVG string out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Line", "Plot", "Rule", "axes", "format_seconds", "format_tick", "line_chart", "nice_ticks"]

Point = tuple[float, float | None]


@dataclass(frozen=True)
class Line:
    """A data series. ``None`` values are gaps (no data at that tick), not zeros."""

    label: str
    points: Sequence[Point]
    color: str
    width: float = 1.8
    dash: str | None = None
    step: bool = False  # a step function (user counts change in steps)


@dataclass(frozen=True)
class Rule:
    """A horizontal line across the chart: an SLO limit."""

    label: str
    y: float
    color: str
    dash: str = "6 4"


@dataclass(frozen=True)
class Band:
    """A horizontal band across the chart: a threshold's confidence interval (``low``/``high``,
    ``None`` where unbounded) around its point ``estimate``, in the colour of its state."""

    label: str
    low: float | None
    high: float | None
    estimate: float | None
    color: str


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^n steps) covering ``[lo, hi]``; the last tick is at
    or above ``hi``, so it can serve as the axis maximum."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude * 10
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (m * magnitude) <= count:
            step = m * magnitude
            break
    start = math.floor(lo / step) * step
    ticks = [start]
    while ticks[-1] < hi - step * 1e-9:
        ticks.append(start + step * len(ticks))
    return [round(t, 10) for t in ticks]


_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def _time_ticks(hi: float, count: int = 8) -> list[float]:
    """Ticks in seconds on steps people read as times (15 s, 1 min, 5 min...)."""
    hi = max(hi, 1.0)
    step = next((s for s in _TIME_STEPS if hi / s <= count), _TIME_STEPS[-1] * math.ceil(hi / _TIME_STEPS[-1] / count))
    ticks = [0.0]
    while ticks[-1] < hi - 1e-9:
        ticks.append(ticks[-1] + step)
    return ticks


def format_seconds(seconds: float) -> str:
    """``45s``, ``2m``, ``1m30s``, ``1h5m``: axis labels and durations."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        m, s = divmod(s, 60)
        return f"{m}m{s}s" if s else f"{m}m"
    h, rest = divmod(s, 3600)
    m = rest // 60
    return f"{h}h{m}m" if m else f"{h}h"


def format_tick(value: float) -> str:
    """A tick label without float noise (``0.25``, ``1200``, ``1.5k`` is not used: ms read better)."""
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _segments(points: Sequence[Point]) -> list[list[tuple[float, float]]]:
    """Split a series at its gaps."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None or not math.isfinite(y):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]


@dataclass(frozen=True)
class Plot:
    """Where the plot area sits in the SVG (pixels): its left/top corner, size, and the SVG's height."""

    left: float
    top: float
    width: float
    height: float
    svg_height: float


def axes(plot: Plot, x_ticks: Sequence[float], y_ticks: Sequence[float], px: Callable[[float], float],
         py: Callable[[float], float], *, unit: str, x_label: str,
         x_format: Callable[[float], str] = format_tick) -> list[str]:
    """The grid, the ticks and their labels, both axes and their names: the same for every chart."""
    left, top, plot_w, plot_h = plot.left, plot.top, plot.width, plot.height
    out = []
    for tick in y_ticks:
        y = py(tick)
        out.append(f'<line x1="{left}" y1="{y}" x2="{left + plot_w}" y2="{y}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4}" class="tick" text-anchor="end">{format_tick(tick)}</text>')
    for tick in x_ticks:
        x = px(tick)
        out.append(f'<line x1="{x}" y1="{top + plot_h}" x2="{x}" y2="{top + plot_h + 4}" class="axis"/>')
        out.append(f'<text x="{x}" y="{top + plot_h + 16}" class="tick" text-anchor="middle">{x_format(tick)}</text>')
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" class="axis"/>')
    out.append(f'<text x="14" y="{top + plot_h / 2}" class="tick" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + plot_h / 2})">{escape(unit)}</text>')
    out.append(f'<text x="{left + plot_w}" y="{plot.svg_height - 4}" class="tick" text-anchor="end">'
               f"{escape(x_label)}</text>")
    return out


def line_chart(lines: Sequence[Line], *, title: str, unit: str, rules: Sequence[Rule] = (),
               attrs: Mapping[str, str] | None = None, width: int = 760, height: int = 250,
               rule_headroom: float = 3.0, bands: Sequence[Band] = ()) -> str:
    """An SVG line chart over time (x in seconds since the start).

    The y axis starts at 0 and fits the data. A rule (SLO limit) is drawn inside the chart when it
    is at most ``rule_headroom`` times the data's maximum, so that a limit of 800 ms does not
    squash a 5 ms series into the bottom pixel row; a limit further up is named in the legend as
    "above the chart" with its value, so the reader still sees it and the headroom.
    ``attrs`` become ``data-*`` attributes of the ``<svg>`` (tests and scripts find charts by them).
    ``bands`` (confidence intervals of the whole run) are drawn as translucent horizontal bands with
    a line at their estimate, under the limits and the data; an unbounded end reaches the chart's edge.
    """
    left, right, bottom = 58, 16, 34
    xs = [x for line in lines for x, _ in line.points]
    ys = [y for line in lines for _, y in line.points if y is not None and math.isfinite(y)]
    x_max = max(xs, default=0.0)
    data_max = max(ys, default=0.0)
    shown_rules = [r for r in rules if data_max <= 0 or r.y <= data_max * rule_headroom]
    hidden_rules = [r for r in rules if r not in shown_rules]
    # legend: the series, then the limits (those above the chart with their value), wrapped
    items = [(line.label, line.color, line.dash) for line in lines]
    items += [(f"{r.label} (above the chart)", r.color, r.dash) for r in hidden_rules]
    legend: list[tuple[float, float, str, str, str | None]] = []
    lx, ly = float(left), 28.0
    for label, color, dash in items:
        item_w = 30 + 6.2 * len(label)
        if lx > left and lx + item_w > width - right:
            lx, ly = float(left), ly + 16
        legend.append((lx, ly, label, color, dash))
        lx += item_w
    top = int(ly) + 12
    height += top - 40  # extra legend rows add height instead of shrinking the plot
    plot_w, plot_h = width - left - right, height - top - bottom
    band_tops = [v for b in bands for v in (b.high, b.estimate) if v is not None
                 and (data_max <= 0 or v <= data_max * rule_headroom)]
    y_top = max([data_max, *(r.y for r in shown_rules), *band_tops], default=0.0) * 1.08
    y_ticks = nice_ticks(0.0, y_top if y_top > 0 else 1.0)
    y_max = y_ticks[-1]
    x_ticks = _time_ticks(x_max)
    x_span = x_ticks[-1] or 1.0

    def px(x: float) -> float:
        return round(left + x / x_span * plot_w, 2)

    def py(y: float) -> float:
        return round(top + plot_h - (y / y_max) * plot_h, 2)

    data_attrs = "".join(f' data-{escape(k)}="{escape(v)}"' for k, v in (attrs or {}).items())
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"{data_attrs}>',
           f"<title>{escape(title)}</title>",
           f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>']
    out += axes(Plot(left, top, plot_w, plot_h, height), x_ticks, y_ticks, px, py, unit=unit,
                x_label="time since start", x_format=format_seconds)
    # confidence bands under everything else
    for band in bands:
        y_high = top if band.high is None else max(py(min(band.high, y_max)), top)
        y_low = py(0.0 if band.low is None else min(band.low, y_max))
        low_text = "-" if band.low is None else format_tick(round(band.low, 2))
        high_text = "-" if band.high is None else format_tick(round(band.high, 2))
        out.append(f'<rect x="{left}" y="{y_high}" width="{plot_w}" height="{round(max(y_low - y_high, 1.0), 2)}" '
                   f'fill="{band.color}" fill-opacity="0.14" class="band" data-low="{low_text}" '
                   f'data-high="{high_text}"><title>{escape(band.label)}: {low_text} .. {high_text} '
                   f"{escape(unit)}</title></rect>")
        if band.estimate is not None and band.estimate <= y_max:
            y = py(band.estimate)
            out.append(f'<line x1="{left}" y1="{y}" x2="{left + plot_w}" y2="{y}" stroke="{band.color}" '
                       f'stroke-opacity="0.5" stroke-width="1" class="band-estimate"/>')
    # SLO limits under the data, so the data stays readable where they cross
    for rule in shown_rules:
        y = py(rule.y)
        out.append(f'<line x1="{left}" y1="{y}" x2="{left + plot_w}" y2="{y}" stroke="{rule.color}" '
                   f'stroke-width="1.5" stroke-dasharray="{rule.dash}" class="limit" data-limit="{rule.y:g}">'
                   f"<title>{escape(rule.label)}</title></line>")
        out.append(f'<text x="{left + plot_w - 4}" y="{y - 4}" class="limit-label" text-anchor="end" '
                   f'fill="{rule.color}">{escape(rule.label)}</text>')
    # data
    markers = sum(len(line.points) for line in lines) <= 240
    for line in lines:
        dash = f' stroke-dasharray="{line.dash}"' if line.dash else ""
        for run in _segments(line.points):
            coords: list[str] = []
            for i, (x, y) in enumerate(run):
                if line.step and i:
                    coords.append(f"{px(x)},{py(run[i - 1][1])}")
                coords.append(f"{px(x)},{py(y)}")
            if len(run) == 1:
                x, y = run[0]
                out.append(f'<circle cx="{px(x)}" cy="{py(y)}" r="3" fill="{line.color}"/>')
            else:
                out.append(f'<polyline points="{" ".join(coords)}" fill="none" stroke="{line.color}" '
                           f'stroke-width="{line.width}" stroke-linejoin="round"{dash}>'
                           f"<title>{escape(line.label)}</title></polyline>")
            if markers:
                for x, y in run:
                    out.append(f'<circle cx="{px(x)}" cy="{py(y)}" r="2" fill="{line.color}">'
                               f"<title>{escape(line.label)} at {format_seconds(x)}: {format_tick(round(y, 2))} "
                               f"{escape(unit)}</title></circle>")
    for x, y, label, color, dash in legend:
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x}" y1="{y}" x2="{x + 18}" y2="{y}" stroke="{color}" stroke-width="2.5"{dash_attr}/>')
        out.append(f'<text x="{x + 22}" y="{y + 4}" class="legend">{escape(label)}</text>')
    if not ys:
        out.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" class="tick" text-anchor="middle">'
                   "no data</text>")
    out.append("</svg>")
    return "\n".join(out)
