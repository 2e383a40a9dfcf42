"""``capacity.html``: the answer, the chart of every judged percentile against the rate, every probe.

One self-contained page (inline CSS and SVG, no script), rendered by Jinja2 from the
:class:`~osiris_load.core.capacity.model.CapacityReport` alone: nothing is judged again here.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from osiris_load.core.capacity.answer import headline, settlement_lines
from osiris_load.core.capacity.model import CapacityReport, ProbeResult
from osiris_load.core.slo.formatting import format_duration, format_observed, format_value
from osiris_load.reports.capacity_chart import Crossing, Marker, Series, rate_chart

__all__ = ["render_capacity_html", "write_capacity_html"]

PALETTE = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
HEADLINES = {"capacity_found": "Capacity found", "fails_at_min_rate": "Fails even at the lowest rate",
             "passes_at_highest_rate": "Meets the SLO at every rate probed",
             "generator_bound": "Limited by the load generator: a lower bound",
             "interrupted": "Interrupted: no answer"}
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                         autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def counted(report: CapacityReport) -> list[ProbeResult]:
    """The probe that decided each rate (its last attempt), in rate order."""
    return sorted((p for p in report.probes if p.counted_as is not None), key=lambda p: p.rate)


def _series(report: CapacityReport) -> list[Series]:
    keys: list[tuple[str, str]] = []
    for probe in report.probes:
        keys += [(t.row, t.expression) for t in probe.thresholds
                 if t.unit == "ms" and (t.row, t.expression) not in keys]
    decided = counted(report)
    series = []
    for i, (row, expression) in enumerate(keys):
        color = PALETTE[i % len(PALETTE)]
        found = [(p, t) for p in decided for t in p.thresholds if (t.row, t.expression) == (row, expression)]
        limit = found[0][1].limit if found else None
        series.append(Series(f"{row} {expression}", [(p.rate, t.observed, t.state) for p, t in found], color, limit))
        if any(t.uncorrected_observed is not None for _, t in found):
            series.append(Series(f"{row} {expression} uncorrected",
                                 [(p.rate, t.uncorrected_observed, t.state) for p, t in found], color, dash="3 3"))
    return series


def chart(report: CapacityReport) -> str:
    markers = []
    if report.max_rate is not None:
        markers.append(Marker(f"capacity {report.max_rate:.3g}/s", report.max_rate, "#2e7d32", label_left=True))
    if report.bracket[1] is not None:
        markers.append(Marker(f"fails at {report.bracket[1]:.3g}/s", report.bracket[1], "#c62828", "4 3"))
    if report.generator_bound_rate is not None:
        markers.append(Marker(f"generator-bound at {report.generator_bound_rate:.3g}/s", report.generator_bound_rate,
                              "#6d4c41", "2 2"))
    colors = {s.label: s.color for s in _series(report)}
    crossings = [Crossing(f"estimate ~{e.rate:.3g}/s (not confident)", e.rate, e.limit,
                          colors.get(f"{e.row} {e.expression}", "#555"))
                 for e in report.estimates if e.rate is not None and e.unit == "ms"]
    return rate_chart(_series(report), title=f"{report.scenario}: judged percentiles against the arrival rate",
                      markers=markers, crossings=crossings)


def render_capacity_html(report: CapacityReport) -> str:
    thresholds: list[tuple[str, str]] = []
    for probe in report.probes:
        thresholds += [(t.row, t.expression) for t in probe.thresholds if (t.row, t.expression) not in thresholds]
    return _TEMPLATES.get_template("capacity.html.j2").render(
        report=report, title=HEADLINES[report.outcome], headline=headline(report), settlement=settlement_lines(report),
        chart=chart(report), thresholds=thresholds,
        value=format_value, observed=format_observed, duration=format_duration)


def write_capacity_html(report: CapacityReport, path: Path) -> Path:
    path.write_text(render_capacity_html(report), encoding="utf-8")
    return path
