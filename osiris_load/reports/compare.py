"""Compare a run against a baseline: latency, throughput and error rate per scenario and endpoint.

Rules (documented for users in ``docs/reports.md``):

* latency (p50, p95, p99, the gate's exact values) regresses when it rises by more than
  ``tolerance`` percent (and, with ``min_delta_ms``, by more than that many milliseconds, so
  sub-millisecond jitter on a fast endpoint is not a regression);
* throughput (requests per second) regresses when it falls by more than ``tolerance`` percent;
* the error rate is compared in absolute percentage points, not in percent: going from 0 % to
  0.1 % errors is an infinite relative change but a 0.1-point one, and 10 % of a 0.5 % error rate
  would be noise. It regresses when it rises by more than ``error_tolerance`` points;
* an endpoint or scenario present on only one side is listed (``new`` / ``gone``) and is not a
  regression: the comparison cannot judge what one side did not measure.

The comparison works on summary dicts (``summary.json``'s shape), so a baseline may be kept as a
summary file alone. ``compare`` and the renderers are pure; ``load_summary`` is the adapter.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osiris_load.core.report.model import ReportError
from osiris_load.reports.load import find_scenarios
from osiris_load.reports.summary_json import SCHEMA, summary_of

__all__ = ["METRICS", "Comparison", "Delta", "compare", "load_summary", "render_csv", "render_markdown"]

REGRESSION = "REGRESSION"
BETTER = "better"
OK = "ok"
NEW = "new"
GONE = "gone"

# (key in summary.json's metrics, label, kind)
METRICS: tuple[tuple[str, str, str], ...] = (
    ("p50_ms", "p50", "latency"),
    ("p95_ms", "p95", "latency"),
    ("p99_ms", "p99", "latency"),
    ("rps", "throughput", "throughput"),
    ("fail_rate", "error rate", "errors"),
)


@dataclass(frozen=True)
class Delta:
    """One metric of one endpoint on both sides. ``change`` is in percent for latency and
    throughput, in percentage points for the error rate; ``None`` when it cannot be computed."""

    scenario: str
    endpoint: str
    metric: str
    kind: str
    baseline: float | None
    current: float | None
    change: float | None
    status: str

    @property
    def regression(self) -> bool:
        return self.status == REGRESSION


@dataclass(frozen=True)
class Comparison:
    baseline: str
    current: str
    tolerance: float
    error_tolerance: float
    min_delta_ms: float
    deltas: tuple[Delta, ...]
    verdicts: tuple[tuple[str, str | None, str | None], ...]  # scenario, baseline verdict, current verdict

    @property
    def regressions(self) -> tuple[Delta, ...]:
        return tuple(d for d in self.deltas if d.regression)


def _judge(kind: str, b: float | None, c: float | None, tolerance: float, error_tolerance: float,
           min_delta_ms: float) -> tuple[float | None, str]:
    if b is None and c is None:
        return None, OK
    if b is None:
        return None, NEW
    if c is None:
        return None, GONE
    if kind == "errors":
        points = (c - b) * 100
        if points > error_tolerance:
            return points, REGRESSION
        return points, BETTER if points < -error_tolerance else OK
    change = (c - b) / b * 100 if b else None
    if kind == "latency":
        worse = c - b > min_delta_ms and (change is None or change > tolerance)
        better = change is not None and change < -tolerance
    else:  # throughput: lower is worse
        worse = change is not None and change < -tolerance
        better = change is not None and change > tolerance
    return change, REGRESSION if worse else BETTER if better else OK


def compare(baseline: dict[str, Any], current: dict[str, Any], *, tolerance: float = 10.0,
            error_tolerance: float = 1.0, min_delta_ms: float = 0.0, baseline_name: str = "baseline",
            current_name: str = "current") -> Comparison:
    """Compare two summaries (``summary.json``'s shape); see the module doc for the rules."""
    deltas: list[Delta] = []
    verdicts = []
    b_scen, c_scen = baseline.get("scenarios", {}), current.get("scenarios", {})
    names = list(c_scen) + [n for n in b_scen if n not in c_scen]
    for scenario in names:
        b_metrics = (b_scen.get(scenario) or {}).get("metrics", {})
        c_metrics = (c_scen.get(scenario) or {}).get("metrics", {})
        verdicts.append((scenario, (b_scen.get(scenario) or {}).get("verdict"),
                         (c_scen.get(scenario) or {}).get("verdict")))
        for endpoint in list(c_metrics) + [e for e in b_metrics if e not in c_metrics]:
            b, c = b_metrics.get(endpoint), c_metrics.get(endpoint)
            for key, label, kind in METRICS:
                bv = None if b is None else b.get(key)
                cv = None if c is None else c.get(key)
                change, status = _judge(kind, bv, cv, tolerance, error_tolerance, min_delta_ms)
                deltas.append(Delta(scenario, endpoint, label, kind, bv, cv, change, status))
    return Comparison(baseline=baseline_name, current=current_name, tolerance=tolerance,
                      error_tolerance=error_tolerance, min_delta_ms=min_delta_ms, deltas=tuple(deltas),
                      verdicts=tuple(verdicts))


def _value(kind: str, value: float | None) -> str:
    if value is None:
        return "-"
    if kind == "latency":
        return f"{value:.2f} ms"
    if kind == "errors":
        return f"{value * 100:.2f}%"
    return f"{value:.2f}/s"


def _change(d: Delta) -> str:
    if d.change is None:
        return "-"
    return f"{d.change:+.2f} pt" if d.kind == "errors" else f"{d.change:+.1f}%"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(c: Comparison) -> str:
    """A markdown report: the rules used, the verdict, then one line per endpoint and metric."""
    n = len(c.regressions)
    lines = [
        f"# Compare: {_md(c.baseline)} -> {_md(c.current)}",
        "",
        f"Tolerance: latency up or throughput down by more than {c.tolerance:g}%"
        + (f" (and latency by more than {c.min_delta_ms:g} ms)" if c.min_delta_ms else "")
        + f"; error rate up by more than {c.error_tolerance:g} percentage points (absolute).",
        "",
        f"**{n} regression{'s' if n != 1 else ''}**" if n else "**No regression.**",
        "",
    ]
    if c.verdicts:
        lines.append("SLO verdicts: " + ", ".join(f"{_md(s)}: {b or '-'} -> {cur or '-'}" for s, b, cur in c.verdicts))
        lines.append("")
    lines += ["| scenario | endpoint | metric | baseline | current | change | status |",
              "|---|---|---|---:|---:|---:|---|"]
    for d in c.deltas:
        status = f"**{d.status}**" if d.regression else d.status
        lines.append(f"| {_md(d.scenario)} | {_md(d.endpoint)} | {d.metric} | {_value(d.kind, d.baseline)} | "
                     f"{_value(d.kind, d.current)} | {_change(d)} | {status} |")
    return "\n".join(lines) + "\n"


def render_csv(c: Comparison) -> str:
    """The same table as CSV with raw numbers (ms, requests/s, ratio; change in % or points)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["scenario", "endpoint", "metric", "baseline", "current", "change", "change_unit", "status"])
    for d in c.deltas:
        writer.writerow([d.scenario, d.endpoint, d.metric, "" if d.baseline is None else d.baseline,
                         "" if d.current is None else d.current, "" if d.change is None else round(d.change, 4),
                         "points" if d.kind == "errors" else "percent", d.status])
    return out.getvalue()


def load_summary(path: Path) -> dict[str, Any]:
    """A summary from a run folder (built fresh from its CSVs, or its ``summary.json`` if it has no
    CSVs) or from a ``summary.json`` file. Raises ``ReportError`` for anything else."""
    path = Path(path)
    if path.is_dir():
        if find_scenarios(path):
            return summary_of(path)
        if (path / "summary.json").is_file():
            return _read_summary(path / "summary.json")
        raise ReportError(f"{path}: no Locust CSVs and no summary.json here")
    if not path.exists():
        raise ReportError(f"{path}: no such run folder or summary.json")
    return _read_summary(path)


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("scenarios"), dict):
        raise ReportError(f"{path}: not an osiris-load summary.json (expected \"schema\": \"{SCHEMA}\")")
    for name, scenario in data["scenarios"].items():
        if not isinstance(scenario, dict) or not isinstance(scenario.get("metrics"), dict):
            raise ReportError(f"{path}: scenario {name!r} has no \"metrics\" object")
        for endpoint, metrics in scenario["metrics"].items():
            for key, _, _ in METRICS:
                value = metrics.get(key) if isinstance(metrics, dict) else "?"
                if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                    raise ReportError(f"{path}: {name} {endpoint}: {key} is {value!r}, expected a number or null")
    return data
