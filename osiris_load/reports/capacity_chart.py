"""The capacity chart: each judged percentile against the arrival rate, as inline SVG.

The report's charts (``osiris_load.core.report.charts``) run over time; this one runs over the rate, with one series
per latency threshold (corrected, as the gate judged it, solid; uncorrected, dashed), each
threshold's limit as a horizontal line in its series' colour, every probe's point coloured by its
state, the answer (``max_rate``) and the lowest failing rate as vertical lines, and each
percentile's estimated crossing of its limit (``osiris_load.core.capacity.estimate``) as a small diamond on the limit
line labelled as an estimate, never a line like the answer's. Pure: numbers
in, an SVG string out, with ``data-*`` attributes that tests and scripts read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from osiris_load.core.report.charts import Plot, axes, nice_ticks

__all__ = ["Crossing", "Marker", "Series", "rate_chart"]

STATE_COLORS = {"PASS": "#2ca02c", "FAIL": "#d62728", "INCONCLUSIVE": "#e0a800", "NO_DATA": "#7f7f7f"}


@dataclass(frozen=True)
class Series:
    """One threshold's values against the rate: ``points`` are (rate, value, state)."""

    label: str
    points: Sequence[tuple[float, float | None, str]]
    color: str
    limit: float | None = None
    dash: str | None = None


@dataclass(frozen=True)
class Marker:
    """A vertical line at a rate: the answer, or the lowest failing rate."""

    label: str
    x: float
    color: str
    dash: str = ""
    label_left: bool = False  # the label left of the line (the answer), so that it never covers the other


@dataclass(frozen=True)
class Crossing:
    """An estimated crossing of a limit (``osiris_load.core.capacity.estimate``): a small hollow diamond on the limit
    line at the estimated rate, labelled as the estimate it is (no line across the chart: it is not
    an answer)."""

    label: str
    x: float
    y: float
    color: str


def rate_chart(series: Sequence[Series], *, title: str, unit: str = "ms", markers: Sequence[Marker] = (),
               crossings: Sequence[Crossing] = (), width: int = 1040, height: int = 400) -> str:
    left, right, top, bottom = 62, 20, 52, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for s in series for x, _, _ in s.points] + [m.x for m in markers]
    ys = [y for s in series for _, y, _ in s.points if y is not None and math.isfinite(y)]
    ys += [s.limit for s in series if s.limit is not None]
    x_ticks = nice_ticks(0.0, max(xs, default=1.0) * 1.05 or 1.0, 8)
    y_ticks = nice_ticks(0.0, max(ys, default=1.0) * 1.08 or 1.0, 6)
    x_max, y_max = x_ticks[-1] or 1.0, y_ticks[-1] or 1.0

    def px(x: float) -> float:
        return round(left + x / x_max * plot_w, 2)

    def py(y: float) -> float:
        return round(top + plot_h - min(y, y_max) / y_max * plot_h, 2)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" data-chart="capacity">',
           f"<title>{escape(title)}</title>",
           f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>']
    out += axes(Plot(left, top, plot_w, plot_h, height), x_ticks, y_ticks, px, py, unit=unit,
                x_label="arrival rate (iterations/s)")
    for s in series:  # limits under the data
        if s.limit is not None and not s.dash:
            y = py(s.limit)
            out.append(f'<line x1="{left}" y1="{y}" x2="{left + plot_w}" y2="{y}" stroke="{s.color}" '
                       f'stroke-width="1.5" stroke-dasharray="6 4" class="limit" data-limit="{s.limit:g}">'
                       f"<title>{escape(s.label)} limit {s.limit:g} {escape(unit)}</title></line>")
            out.append(f'<text x="{left + plot_w - 4}" y="{y - 4}" class="limit-label" text-anchor="end" '
                       f'fill="{s.color}">limit {s.limit:g} {escape(unit)}</text>')
    for m in markers:
        x = px(m.x)
        dash = f' stroke-dasharray="{m.dash}"' if m.dash else ""
        out.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{top + plot_h}" stroke="{m.color}" stroke-width="2"{dash} '
                   f'class="marker" data-rate="{m.x:g}"><title>{escape(m.label)}</title></line>')
        anchor, tx = ("end", x - 4) if m.label_left else ("start", x + 4)
        out.append(f'<text x="{tx}" y="{top + 12}" class="limit-label" text-anchor="{anchor}" fill="{m.color}">'
                   f"{escape(m.label)}</text>")
    for s in sorted(series, key=lambda s: s.dash is None):  # uncorrected (dashed) under the judged values
        pts = sorted((x, y, st) for x, y, st in s.points if y is not None and math.isfinite(y))
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        if len(pts) > 1:
            coords = " ".join(f"{px(x)},{py(y)}" for x, y, _ in pts)
            out.append(f'<polyline points="{coords}" fill="none" stroke="{s.color}" stroke-width="1.8"{dash} '
                       f'class="series" data-series="{escape(s.label)}"><title>{escape(s.label)}</title></polyline>')
        for x, y, state in pts:
            fill = "#fff" if s.dash else STATE_COLORS.get(state, "#7f7f7f")
            out.append(f'<circle cx="{px(x)}" cy="{py(y)}" r="{2.5 if s.dash else 4}" fill="{fill}" stroke="{s.color}" '
                       f'stroke-width="1.5" class="point" data-rate="{x:g}" data-state="{escape(state)}">'
                       f"<title>{escape(s.label)} at {x:.3g}/s: {y:.1f} {escape(unit)} ({escape(state)})"
                       "</title></circle>")
    for c in crossings:  # over the data: small, so it hides at most one point's edge
        x, y, r = px(c.x), py(c.y), 6
        out.append(f'<polygon points="{x},{y - r} {x + r},{y} {x},{y + r} {x - r},{y}" fill="#fff" stroke="{c.color}" '
                   f'stroke-width="2" class="estimate-marker" data-rate="{c.x:g}">'
                   f"<title>{escape(c.label)}</title></polygon>")
        # under the limit line (its own label sits above it), on the side with more room
        anchor, tx = ("end", x - r - 3) if x > left + plot_w * 0.6 else ("start", x + r + 3)
        out.append(f'<text x="{tx}" y="{y + r + 12}" class="limit-label" text-anchor="{anchor}" fill="{c.color}">'
                   f"{escape(c.label)}</text>")
    lx = float(left)
    for s in series:
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        out.append(f'<line x1="{lx}" y1="32" x2="{lx + 18}" y2="32" stroke="{s.color}" stroke-width="2.5"{dash}/>')
        out.append(f'<text x="{lx + 22}" y="36" class="legend">{escape(s.label)}</text>')
        lx += 30 + 6.2 * len(s.label)
    if not ys:
        out.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" class="tick" text-anchor="middle">no latency '
                   "threshold judged</text>")
    out.append("</svg>")
    return "\n".join(out)
