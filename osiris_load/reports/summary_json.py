"""``summary.json``: the run for machines, in the spirit of k6's ``--summary-export``.

Every metric per endpoint (counts, rates, exact latencies), every threshold with its observed
value, limit and verdict, and the verdict per scenario and for the run. It is also what
``osiris-load compare`` reads, so a baseline can be kept as one small file instead of a
whole run folder. The format is versioned by ``schema``; values are plain JSON numbers (ms,
ratios, requests per second) or ``null`` for "no value", never NaN, so any JSON parser reads it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from osiris_load.core.report.model import (
    FAIL,
    INCONCLUSIVE,
    NO_DATA,
    PASS,
    PERCENTILES,
    Endpoint,
    Run,
    Scenario,
    verdict_word,
)
from osiris_load.core.slo.formatting import format_interval, format_limit, format_observed, run_headline
from osiris_load.core.slo.verdict import health_to_dict
from osiris_load.reports.load import load_run

__all__ = ["SCHEMA", "metric_dict", "render_json", "summarize", "summary_of"]

SCHEMA = "osiris-load/summary/1"


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def metric_dict(e: Endpoint) -> dict[str, Any]:
    """One endpoint's metrics; ``exact`` says whether latencies are the gate's exact values."""
    return {
        "method": e.method,
        "name": e.name,
        "count": e.count,
        "failures": e.failures,
        "fail_rate": round(e.fail_rate, 6),
        "rps": _r(e.rps, 4),
        "failures_per_s": _r(e.failures_per_s, 4),
        "avg_ms": _r(e.avg_ms),
        "min_ms": _r(e.min_ms),
        "max_ms": _r(e.max_ms),
        **{f"{p}_ms": _r(e.percentiles.get(p)) for p in PERCENTILES},
        "exact": e.exact,
    }


def _scenario(s: Scenario) -> dict[str, Any]:
    thresholds = [] if s.gate is None else [
        {
            "row": t.row,
            "requests": list(t.patterns),
            "expression": t.expression,
            "aggregation": t.kind,
            "op": t.op,
            "limit": t.limit,
            "observed": t.observed,
            "samples": t.requests,
            "verdict": verdict_word(t.state),
            "state": t.state,
            "estimate": t.estimate,
            "interval": list(t.interval) if t.interval is not None else None,
            "interval_text": format_interval(t),
            "confidence": t.confidence,
            "design_effect": t.design_effect,
            "requests_needed": t.requests_needed,
            "seconds_needed": t.seconds_needed,
            "n": t.n,
            "beyond": t.beyond,
            "observed_text": format_observed(t),
            "uncorrected_observed": t.uncorrected_observed,
            "chargeable_observed": t.chargeable_observed,
            "generator_bound": t.generator_bound,
            "limit_text": format_limit(t),
        }
        for t in s.gate.thresholds
    ]
    return {
        "verdict": s.verdict,
        "state": s.gate.verdict.state if s.gate else None,
        "confidence": s.gate.verdict.confidence if s.gate else None,
        "policy": s.gate.verdict.policy if s.gate else None,
        "exit_code": s.gate.verdict.exit_code if s.gate else None,
        "reasons": list(s.gate.reasons) if s.gate else [],
        "requests_judged": s.gate.verdict.tally.judged if s.gate else None,
        "unjudged": ([{"method": m, "name": n, "count": c} for m, n, c in s.gate.verdict.tally.unjudged]
                     if s.gate else []),
        "rows_left_out": list(s.gate.verdict.rows_left_out) if s.gate else [],
        "open_model": (asdict(s.gate.verdict.open_model)
                       if s.gate and s.gate.verdict.open_model is not None else None),
        "generator": [health_to_dict(h) for h in s.gate.verdict.generator] if s.gate else [],
        "notes": list(s.notes),
        "started_at": s.started_at.isoformat() if s.started_at else None,
        "duration_s": s.duration_s,
        "max_users": s.max_users,
        "total": metric_dict(s.total) if s.total else None,
        "metrics": {e.key: metric_dict(e) for e in s.endpoints},
        "thresholds": thresholds,
        "failures": [{"method": f.method, "name": f.name, "error": f.error, "message": f.message,
                      "occurrences": f.occurrences} for f in s.failures],
        "exceptions": sum(e.count for e in s.exceptions),
    }


def summarize(run: Run) -> dict[str, Any]:
    """The summary as plain data (what ``summary.json`` holds)."""
    results = [verdict_word(t.state) for s in run.scenarios if s.gate for t in s.gate.thresholds]
    return {
        "schema": SCHEMA,
        "run": run.name,
        "verdict": run.verdict,
        "headline": run_headline(run.verdicts),
        "thresholds": {v: results.count(v) for v in (PASS, FAIL, INCONCLUSIVE, NO_DATA)},
        "scenarios": {s.name: _scenario(s) for s in run.scenarios},
    }


def render_json(run: Run) -> str:
    """``summary.json``'s text; ``allow_nan=False`` guarantees strict JSON."""
    return json.dumps(summarize(run), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def summary_of(run_dir: Path) -> dict[str, Any]:
    """The summary of a run folder, from its CSVs (raises ``ReportError`` for bad input)."""
    return summarize(load_run(run_dir))
