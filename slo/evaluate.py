"""Judge a recorder against an SLO table: one result per threshold and an overall verdict.

Rules (documented for users in ``docs/slo-file.md``):

* a row pools every recorded request it matches; a row none of whose requests ran gives
  "no data" for each of its thresholds;
* the run fails if any threshold fails; "no data" fails it only for a ``required`` row or in
  strict mode;
* the run fails if no row has any data at all: a gate that judged nothing must not pass (a
  renamed endpoint or a wrong SLO file would otherwise pass silently);
* requests lost to the recorder's key cap are reported, and fail the run in strict mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from slo.expressions import format_number
from slo.recorder import RequestRecorder
from slo.table import SloTable, ThresholdSpec

__all__ = ["FAIL", "NO_DATA", "PASS", "ThresholdResult", "Verdict", "abort_triggers", "describe_value",
           "evaluate"]

PASS = "pass"
FAIL = "fail"
NO_DATA = "no data"


def describe_value(spec: ThresholdSpec, value: float) -> str:
    """A value in the threshold's own terms: ``812.35 ms``, ``99.85%``, ``1500``."""
    aggregation = spec.threshold.aggregation
    if aggregation.is_latency:
        return f"{value:.2f} ms"
    if aggregation.is_rate:
        return f"{format_number(round(value * 100, 4))}%"
    return format_number(value)


@dataclass(frozen=True)
class ThresholdResult:
    """One threshold of one row, judged. ``observed`` is ``None`` exactly when ``verdict`` is
    "no data"; ``samples`` is the number of requests the row pooled."""

    row: str
    requests: tuple[str, ...]
    spec: ThresholdSpec
    observed: float | None
    samples: int
    verdict: str  # PASS | FAIL | NO_DATA

    @property
    def expression(self) -> str:
        """The expression as the user wrote it."""
        return self.spec.threshold.source

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    @property
    def failed(self) -> bool:
        return self.verdict == FAIL


@dataclass(frozen=True)
class Verdict:
    """The gate's answer. ``reasons`` says why it failed (empty when it passed); ``notes`` holds
    what a reader should know even when it passed (rows without data, lost requests)."""

    results: tuple[ThresholdResult, ...]
    passed: bool
    reasons: tuple[str, ...]
    notes: tuple[str, ...] = ()
    strict: bool = False


def evaluate(table: SloTable, recorder: RequestRecorder, *, strict: bool = False) -> Verdict:
    """Judge everything ``recorder`` holds against ``table``.

    ``strict`` makes "no data" fail for every row (not only ``required`` ones) and makes requests
    lost to the recorder's key cap fail the run.
    """
    keys = recorder.keys()
    results: list[ThresholdResult] = []
    reasons: list[str] = []
    notes: list[str] = []
    any_data = False
    for row in table.rows:
        stats = recorder.pooled(k for k in keys if row.matches(*k))
        if stats.count:
            any_data = True
        else:
            requests = ", ".join(row.requests)
            if row.required or strict:
                why = "a required row" if row.required else "strict mode"
                reasons.append(f"{row.name}: no data: none of {requests} ran ({why})")
            else:
                notes.append(f"{row.name}: no data: none of {requests} ran")
        for spec in row.thresholds:
            observed = stats.value(spec.threshold.aggregation)
            if observed is None:
                verdict = NO_DATA
            elif spec.threshold.holds(observed):
                verdict = PASS
            else:
                verdict = FAIL
                limit = describe_value(spec, spec.threshold.value)
                reasons.append(f"{row.name}: {spec.threshold.source} failed: observed "
                               f"{describe_value(spec, observed)} (limit {spec.threshold.op} {limit}, "
                               f"{stats.count} requests)")
            results.append(ThresholdResult(row=row.name, requests=row.requests, spec=spec,
                                           observed=observed, samples=stats.count, verdict=verdict))
    if not any_data:
        recorded = recorder.keys()
        seen = ", ".join(f"{m} {n}" for m, n in recorded[:5]) + (" ..." if len(recorded) > 5 else "")
        detail = f" (recorded: {seen})" if recorded else " (nothing was recorded)"
        reasons.append(f"no request matched any SLO row{detail}")
    if recorder.overflow:
        sample = ", ".join(f"{m} {n}" for m, n in recorder.overflow_keys)
        lost = (f"{recorder.overflow} requests were not recorded: more than {recorder.max_keys} "
                f"distinct request names (e.g. {sample}); give such requests a name= in the locustfile")
        (reasons if strict else notes).append(lost)
    return Verdict(results=tuple(results), passed=not reasons, reasons=tuple(reasons), notes=tuple(notes),
                   strict=strict)


def abort_triggers(verdict: Verdict, elapsed_s: float) -> list[ThresholdResult]:
    """The failed results that should stop the test now: ``abort_on_fail`` thresholds whose
    ``delay_abort_eval`` has elapsed (k6's ``abortOnFail`` / ``delayAbortEval``)."""
    return [r for r in verdict.results
            if r.verdict == FAIL and r.spec.abort_on_fail and elapsed_s >= r.spec.delay_abort_eval_s]
