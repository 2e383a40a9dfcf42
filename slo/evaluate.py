"""Judge a recorder against an SLO table: the verdict object (``slo.verdict``).

Rules (documented for users in ``docs/slo-file.md``):

* a row pools every recorded request it names (and its overflow pool past the key cap); a row
  none of whose requests ran gives NO_DATA for each latency and rate threshold; ``count`` of
  nothing is 0 and is judged, as in k6;
* **exact limits**: a percentile or median threshold is decided by counting the samples on either
  side of its limit (``p(q) < L`` iff at least ``ceil(q*n)`` samples are below ``L``), never by a
  histogram bucket; ``rate`` and ``fail_rate`` are compared as exact fractions;
* the run fails if any threshold fails; NO_DATA fails it for a ``required`` row, in strict mode,
  and when a request no row judged is close to one of the row's requests (a typo: "did you mean");
* the run fails if no row has any data at all, and when a row's requests had invalid (NaN or
  negative) response times;
* **unjudged requests**: recorded requests that no row names are listed in the verdict; requests
  left unrecorded (past the key cap, named by no row) are noted, and fail the run in strict mode.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from slo.expressions import Threshold
from slo.formatting import describe_lost, failure_reason
from slo.recorder import EndpointStats, RecorderPlan, RequestRecorder, nearest_rank
from slo.table import SloRow, SloTable, ThresholdSpec
from slo.verdict import (
    FAIL,
    NO_DATA,
    PASS,
    LostWorkerInfo,
    RequestTally,
    ThresholdResult,
    UserExceptions,
    Verdict,
)

__all__ = ["abort_triggers", "conclude", "evaluate", "judge_threshold", "plan_for"]

_TYPO_CUTOFF = 0.88  # difflib ratio: one character off in "POST /generate" (0.97), not "GET /n" vs "GET /x" (0.83)
_NS = 1e-6  # one nanosecond in ms: how far a displayed estimate is moved to the decided side of a limit


def plan_for(table: SloTable) -> RecorderPlan:
    """What a recorder must count for ``table``: its latency limits and its rows' requests."""
    limits = tuple(sorted({limit for row in table.rows for limit in row.latency_limits}))
    return RecorderPlan(limits=limits, rows=tuple((row.name, row.requests) for row in table.rows))


def _unit(threshold: Threshold) -> str:
    aggregation = threshold.aggregation
    return "ms" if aggregation.is_latency else "ratio" if aggregation.is_rate else "requests"


def _percentile_holds(op: str, below: int, at_or_below: int, rank: int) -> bool:
    """Whether the rank-th smallest sample X satisfies ``X op L``, from the exact counts below and
    at-or-below L."""
    if op == "<":
        return below >= rank
    if op == "<=":
        return at_or_below >= rank
    if op == ">":
        return at_or_below < rank
    if op == ">=":
        return below < rank
    equal = below < rank <= at_or_below
    return equal if op == "==" else not equal


def _beyond(op: str, n: int, below: int, at_or_below: int) -> int | None:
    """Samples on the failing side of the limit, for the ordered operators."""
    return {"<": n - below, "<=": n - at_or_below, ">": at_or_below, ">=": below}.get(op)


def _on_decided_side(estimate: float, bucket: tuple[float, float], limit: float, op: str, holds: bool,
                     below: int, rank: int) -> float:
    """The shown value: the histogram's estimate if it lies on the side of the limit that the exact
    counts decided, else the middle of the part of its bucket on that side, so the printed value
    never contradicts the state."""
    low, high = bucket
    if op in ("==", "!="):
        if holds == (op == "=="):
            return limit
        side = "<" if below >= rank else ">"
    else:
        value_is_low = holds == (op in ("<", "<="))  # where the sample lies relative to the limit
        strict = op in ("<", ">") if holds else op in ("<=", ">=")
        side = ("<" if strict else "<=") if value_is_low else (">" if strict else ">=")
    ok = {"<": estimate < limit, "<=": estimate <= limit, ">": estimate > limit, ">=": estimate >= limit}[side]
    if ok:
        return estimate
    if side in ("<", "<="):
        high = min(high, limit - _NS if side == "<" else limit)
        low = min(low, high)
    else:
        low = max(low, limit + _NS if side == ">" else limit)
        high = max(high, low)
    return (low + high) / 2


def judge_threshold(row: SloRow, spec: ThresholdSpec, stats: EndpointStats) -> ThresholdResult:
    """One threshold over one row's pooled statistics, with the counts it was decided on."""
    threshold = spec.threshold
    aggregation = threshold.aggregation
    kind, op, limit = aggregation.kind, threshold.op, threshold.value
    base = {"row": row.name, "patterns": row.requests, "expression": threshold.source, "kind": kind,
            "arg": aggregation.arg, "op": op, "limit": limit, "unit": _unit(threshold), "requests": stats.count,
            "abort_on_fail": spec.abort_on_fail, "delay_abort_eval_s": spec.delay_abort_eval_s}
    if kind in ("p", "med"):
        n = stats.timed
        if n == 0:
            return ThresholdResult(**base, state=NO_DATA, observed=None, n=0)
        q = 50.0 if kind == "med" else aggregation.arg
        assert q is not None
        rank = nearest_rank(q, n)
        estimate = stats.value_at_rank(rank)
        counts = stats.limit_counts(limit)  # KeyError: a recorder not planned for this table (plan_for)
        holds = _percentile_holds(op, counts.below, counts.at_or_below, rank)
        observed = _on_decided_side(estimate, stats.bucket_at_rank(rank), limit, op, holds, counts.below, rank)
        return _finish(ThresholdResult(**base, state=PASS if holds else FAIL, observed=observed, n=n, rank=rank,
                                       below=counts.below, at=counts.at,
                                       beyond=_beyond(op, n, counts.below, counts.at_or_below)))
    if kind in ("rate", "fail_rate"):
        n = stats.count
        if n == 0:
            return ThresholdResult(**base, state=NO_DATA, observed=None, n=0)
        failures, successes = stats.failures, n - stats.failures
        share = Fraction(successes if kind == "rate" else failures, n)
        holds = threshold.compare(share, Fraction(Decimal(repr(limit))))
        return _finish(ThresholdResult(**base, state=PASS if holds else FAIL, observed=float(share), n=n,
                                       failures=failures, successes=successes, beyond=failures))
    if kind == "count":
        holds = threshold.holds(float(stats.count))
        return _finish(ThresholdResult(**base, state=PASS if holds else FAIL, observed=float(stats.count),
                                       n=stats.count))
    observed = stats.value(aggregation)  # avg, min, max: exact
    if observed is None:
        return ThresholdResult(**base, state=NO_DATA, observed=None, n=0)
    return _finish(ThresholdResult(**base, state=PASS if threshold.holds(observed) else FAIL, observed=observed,
                                   n=stats.timed))


def _finish(result: ThresholdResult) -> ThresholdResult:
    return replace(result, reason=failure_reason(result)) if result.state == FAIL else result


def _close_match(row: SloRow, unjudged: list[str]) -> str | None:
    for pattern in row.requests:
        close = difflib.get_close_matches(pattern, unjudged, n=1, cutoff=_TYPO_CUTOFF)
        if close:
            return close[0]
    return None


def evaluate(table: SloTable, recorder: RequestRecorder, *, strict: bool = False,
             rows_left_out: tuple[str, ...] = ()) -> Verdict:
    """Judge everything ``recorder`` holds against ``table`` (its selected rows).

    ``strict`` makes NO_DATA fail for every row and makes unrecorded requests fail the run.
    """
    counts = recorder.key_counts()
    judged_keys: set[tuple[str, str]] = set()
    pooled: list[tuple[SloRow, EndpointStats]] = []
    for row in table.rows:
        keys = [k for k in counts if row.matches(*k)]
        judged_keys.update(keys)
        pooled.append((row, recorder.pooled(keys, row=row.name)))
    unjudged = [(m, n, c) for (m, n), c in counts.items() if (m, n) not in judged_keys]
    unjudged_names = [f"{m} {n}" for m, n, _ in unjudged] + [f"{m} {n}" for m, n in recorder.unrecorded_keys]
    results: list[ThresholdResult] = []
    reasons: list[str] = []
    notes: list[str] = []
    any_data = False
    invalid = 0
    for row, stats in pooled:
        if stats.count:
            any_data = True
        else:
            requests = ", ".join(row.requests)
            close = _close_match(row, unjudged_names)
            if close is not None:
                reasons.append(f"{row.name}: no data: none of {requests} ran; did you mean {close!r}? "
                               "(it was requested, and no row judges it)")
            elif row.required or strict:
                why = "a required row" if row.required else "strict mode"
                reasons.append(f"{row.name}: no data: none of {requests} ran ({why})")
            else:
                notes.append(f"{row.name}: no data: none of {requests} ran")
        if stats.invalid:
            invalid += stats.invalid
            reasons.append(f"{row.name}: {stats.invalid} requests had an invalid response time (NaN or negative): "
                           "the locustfile reported them; they are in no latency figure")
        if stats.beyond_range:
            notes.append(f"{row.name}: {stats.beyond_range} response times above 1 h are shown at 1 h in "
                         "percentiles (every decision uses the exact values)")
        for spec in row.thresholds:
            result = judge_threshold(row, spec, stats)
            if result.reason is not None:
                reasons.append(result.reason)
            results.append(result)
    if not any_data:
        recorded = recorder.keys()
        seen = ", ".join(f"{m} {n}" for m, n in recorded[:5]) + (" ..." if len(recorded) > 5 else "")
        detail = f" (recorded: {seen})" if recorded else " (nothing was recorded)"
        reasons.append(f"no request matched any SLO row{detail}")
    if recorder.unrecorded:
        sample = ", ".join(f"{m} {n}" for m, n in recorder.unrecorded_keys)
        lost = (f"{recorder.unrecorded} requests were not recorded: more than {recorder.max_keys} distinct request "
                f"names and no SLO row names them (e.g. {sample}); give such requests a name= in the locustfile")
        (reasons if strict else notes).append(lost)
    judged = _judged_once(recorder, pooled, judged_keys)
    tally = RequestTally(recorded=recorder.total_requests, judged=judged, unjudged=tuple(unjudged),
                         unrecorded=recorder.unrecorded, unrecorded_keys=tuple(recorder.unrecorded_keys),
                         invalid=invalid)
    return Verdict(table=table.source, thresholds=tuple(results), reasons=tuple(reasons), notes=tuple(notes),
                   tally=tally, rows_left_out=rows_left_out, strict=strict)


def _judged_once(recorder: RequestRecorder, pooled: list[tuple[SloRow, EndpointStats]],
                 judged_keys: set[tuple[str, str]]) -> int:
    """Requests judged by at least one row, each counted once (rows may share requests)."""
    counts = recorder.key_counts()
    rows = {row.name for row, _ in pooled}
    in_pools = sum(recorder.pool_count(p) for p in recorder.pool_rows() if rows.intersection(p))
    return sum(counts[k] for k in judged_keys) + in_pools


def conclude(verdict: Verdict, *, lost_workers: tuple[LostWorkerInfo, ...] = (), allow_lost: bool = False,
             aborted_by: tuple[str, ...] = (), bad_reports: int = 0,
             exceptions: UserExceptions | None = None) -> Verdict:
    """The run-level facts a table cannot see, added to a verdict: a threshold that aborted the
    run, worker reports that could not be merged, lost workers (a failure unless ``allow_lost``),
    and exceptions in user code (shown; they set Locust's exit code, not the verdict)."""
    reasons = list(verdict.reasons) + [f"aborted by {a}" for a in aborted_by]
    notes = list(verdict.notes)
    if bad_reports:
        reasons.append(f"{bad_reports} worker reports could not be merged")
    for lost in lost_workers:
        (notes if allow_lost else reasons).append(f"lost worker {describe_lost(lost)}")
    return replace(verdict, reasons=tuple(reasons), notes=tuple(notes), lost_workers=lost_workers,
                   aborted_by=aborted_by, exceptions=exceptions or UserExceptions())


def abort_triggers(verdict: Verdict, elapsed_s: float) -> list[ThresholdResult]:
    """The failed results that should stop the test now: ``abort_on_fail`` thresholds whose
    ``delay_abort_eval`` has elapsed (k6's ``abortOnFail`` / ``delayAbortEval``)."""
    return [r for r in verdict.thresholds
            if r.state == FAIL and r.abort_on_fail and elapsed_s >= r.delay_abort_eval_s]
