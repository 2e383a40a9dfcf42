"""Judge a recorder against an SLO table: the verdict object (``osiris_load.core.slo.verdict``).

Rules (documented for users in ``docs/slo-file.md``):

* a row pools every recorded request it names (and its overflow pool past the key cap); a row
  none of whose requests ran gives NO_DATA for each latency and rate threshold; ``count`` of
  nothing is 0 and is judged, as in k6;
* **exact limits**: a percentile or median threshold is decided by counting the samples on either
  side of its limit (``p(q) < L`` iff at least ``ceil(q*n)`` samples are below ``L``), never by a
  histogram bucket; ``rate`` and ``fail_rate`` are compared as exact fractions;
* **confidence** (``confidence > 0``, ``osiris_load.core.slo.confidence``): each percentile, median, rate and
  ``avg`` threshold also gets an interval at that confidence, and its ``state`` is PASS or FAIL only
  when the whole interval is on one side of the limit, else INCONCLUSIVE; ``estimate`` keeps the
  point estimate's state. ``min``, ``max`` and ``count`` are facts of the run (no interval);
* the **exit policy** (``policy``, ``--slo-inconclusive``) says which failures count: ``estimate``
  the point estimate's (as k6), ``fail`` and ``pass`` only confident ones (an INCONCLUSIVE run
  then exits 98, resp. 0);
* the run fails if any threshold fails; NO_DATA fails it for a ``required`` row, in strict mode,
  and when a recorded request (whichever rows judged it) is close to one of the row's requests (a
  typo: "did you mean");
* the run fails if no row has any data at all, and when a row's requests had invalid (NaN or
  negative) response times;
* **unjudged requests**: recorded requests that no row names are listed in the verdict; requests
  left unrecorded (past the key cap, named by no row) are noted, and fail the run in strict mode.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction

from osiris_load.core.slo import confidence as conf
from osiris_load.core.slo.expressions import Threshold, exact_fraction
from osiris_load.core.slo.formatting import (
    GENERATOR_ADVICE,
    describe_lost,
    failure_reason,
    format_health,
    generator_bound_reason,
)
from osiris_load.core.slo.generator import CPU_SATURATED, worst_process
from osiris_load.core.slo.k6_metrics import LLM_METHOD, SCENARIO_MARK, is_request, is_reserved
from osiris_load.core.slo.recorder import EndpointStats, RecorderPlan, RequestRecorder, nearest_rank
from osiris_load.core.slo.table import SloRow, SloTable, ThresholdSpec, request_matchers
from osiris_load.core.slo.verdict import (
    FAIL,
    INCONCLUSIVE,
    NO_DATA,
    PASS,
    LostWorkerInfo,
    OpenModelSummary,
    ProcessHealth,
    RequestTally,
    ThresholdResult,
    UserExceptions,
    Verdict,
)

__all__ = ["POLICIES", "abort_triggers", "attach_generator", "attach_open_model", "conclude", "evaluate",
           "judge_threshold", "plan_for",
           "share_count"]

POLICIES = tuple(p.value for p in conf.InconclusivePolicy)
# (row, expression) -> cumulative (n, share_count) at each time-window boundary (see ``share_count``)
Marks = Mapping[tuple[str, str], Sequence[tuple[int, float]]]

_TYPO_CUTOFF = 0.88  # difflib ratio: one character off in "POST /generate" (0.97), not "GET /n" vs "GET /x" (0.83)
_NS = 1e-6  # one nanosecond in ms: how far a displayed estimate is moved to the decided side of a limit


def plan_for(table: SloTable) -> RecorderPlan:
    """What a recorder must count for ``table``: its latency limits and its rows' requests."""
    limits = tuple(sorted({limit for row in table.rows for limit in row.latency_limits}))
    # iteration and token rows route no request (their keys never overflow: ``RequestRecorder.record_iteration``)
    return RecorderPlan(limits=limits, rows=tuple((row.name, row.requests) for row in table.rows
                                                  if row.reserved_method is None),
                        split=table.needs_split)


def _unit(row: SloRow, threshold: Threshold) -> str:
    aggregation = threshold.aggregation
    kind = aggregation.kind
    if row.is_tokens:
        return "tokens/s" if kind == "throughput" else "tokens"
    if kind == "throughput":
        return "requests/s"
    if row.is_iteration and kind == "count":
        return "iterations"
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


def judge_threshold(row: SloRow, spec: ThresholdSpec, stats: EndpointStats, *, confidence: float = 0.0,
                    marks: Sequence[tuple[int, float]] = (), elapsed_s: float | None = None) -> ThresholdResult:
    """One threshold over one row's pooled statistics, with the counts it was decided on and, with
    a ``confidence``, its interval (widened by the design effect of the time windows that
    ``marks`` delimit: this threshold's cumulative ``(n, share_count)`` at each window boundary, see
    :func:`share_count`) and what would settle it at the row's rate over ``elapsed_s``."""
    point = _point_judgement(row, spec, stats, elapsed_s)
    if point.state == NO_DATA or not confidence:
        return _finish(point)
    judgement = _judgement(point, stats, confidence, _windows(point, marks))
    if judgement is None:
        return _finish(point)
    state = {conf.State.PASS: PASS, conf.State.FAIL: FAIL}.get(judgement.state, INCONCLUSIVE)
    values = judgement.values
    interval = None if values is None else (values.low, values.high)
    needed = seconds = None
    if state == INCONCLUSIVE:
        needed = conf.requests_to_settle(judgement)
        population = stats.timed if point.is_latency else stats.count
        if needed is not None and elapsed_s and population:
            seconds = conf.seconds_to_settle(judgement, population / elapsed_s)
    return _finish(replace(point, state=state, interval=interval, confidence=confidence,
                           design_effect=judgement.design_effect, requests_needed=needed, seconds_needed=seconds))


def share_count(result: ThresholdResult) -> float | None:
    """What a time window of this threshold counts for the design effect: the samples at or
    beyond a percentile's limit, the failures of a rate, the latency sum of ``avg``; ``None`` for
    the kinds without an interval."""
    if result.kind in ("p", "med") and result.below is not None:
        return float(result.n - result.below)
    if result.kind in ("rate", "fail_rate") and result.failures is not None:
        return float(result.failures)
    if result.kind == "avg" and result.observed is not None:
        return result.observed * result.n
    return None


def _windows(point: ThresholdResult, marks: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Per-window ``(n, share_count)``: the differences between successive marks, and the window
    still open (from the last mark to now). A mark beyond the present (stats were reset) is ignored."""
    now = share_count(point)
    if now is None:
        return []
    windows, previous = [], (0, 0.0)
    for mark in [*marks, (point.n, now)]:
        if mark[0] < previous[0]:
            return []
        windows.append((mark[0] - previous[0], mark[1] - previous[1]))
        previous = mark
    return [w for w in windows if w[0] > 0]


def _judgement(point: ThresholdResult, stats: EndpointStats, confidence: float,
               windows: Sequence[tuple[int, float]]) -> conf.Judgement | None:
    """The interval behind ``point`` (``osiris_load.core.slo.confidence``); ``None`` for facts (min, max, count)."""
    kind, op, limit, n = point.kind, point.op, point.limit, point.n
    if kind in ("p", "med"):
        assert point.below is not None and point.at is not None  # counted exactly (the plan has every limit)
        deff = conf.design_effect(windows, confidence)
        return conf.judge_percentile(50.0 if kind == "med" else float(point.arg or 0), op, limit, n,
                                     at_or_above=n - point.below, above=n - point.below - point.at,
                                     confidence=confidence, design_effect=deff, value_at_rank=stats.value_at_rank)
    if kind in ("rate", "fail_rate"):
        assert point.failures is not None
        deff = conf.design_effect([(n_i, k_i) for n_i, k_i in windows], confidence)
        return conf.judge_rate(kind, op, limit, n, point.failures, confidence=confidence, design_effect=deff)
    if kind == "avg" and point.observed is not None:
        stddev = _stddev_ms(stats)
        deff = conf.mean_design_effect(windows, stddev, confidence)
        return conf.judge_avg(op, limit, n, point.observed, stddev, confidence=confidence, design_effect=deff)
    return None


def _stddev_ms(stats: EndpointStats) -> float:
    """The sample standard deviation of the timed samples, from the histogram (within its 0.1 %)."""
    hist = stats.histogram
    if hist is None or stats.timed < 2:
        return 0.0
    population = hist.get_stddev() / 1e6
    return float(population * math.sqrt(stats.timed / (stats.timed - 1)))


def _point_judgement(row: SloRow, spec: ThresholdSpec, stats: EndpointStats,
                     elapsed_s: float | None = None) -> ThresholdResult:
    """The threshold judged on its point estimate, exactly (no reason yet). ``throughput`` (k6's
    ``http_reqs`` rate) is the row's requests over ``elapsed_s``: NO DATA without a duration."""
    threshold = spec.threshold
    aggregation = threshold.aggregation
    kind, op, limit = aggregation.kind, threshold.op, threshold.value
    base = {"row": row.name, "patterns": row.requests, "expression": threshold.source, "kind": kind,
            "arg": aggregation.arg, "op": op, "limit": limit, "requests": stats.count,
            "unit": _unit(row, threshold),
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
        return ThresholdResult(**base, state=_state(holds), estimate=_state(holds), observed=observed, n=n,
                               rank=rank, below=counts.below, at=counts.at,
                               beyond=_beyond(op, n, counts.below, counts.at_or_below))
    if kind in ("rate", "fail_rate"):
        n = stats.count
        if n == 0:
            return ThresholdResult(**base, state=NO_DATA, observed=None, n=0)
        failures, successes = stats.failures, n - stats.failures
        share = Fraction(successes if kind == "rate" else failures, n)
        state = _state(threshold.compare(share, exact_fraction(limit)))
        return ThresholdResult(**base, state=state, estimate=state, observed=float(share), n=n,
                               failures=failures, successes=successes, beyond=failures)
    # a token row's count is its answers' tokens (each answer one sample valued at its tokens)
    total = stats.sum_ms if row.is_tokens else float(stats.count)
    if kind == "throughput":
        if not elapsed_s or elapsed_s <= 0:
            return ThresholdResult(**base, state=NO_DATA, observed=None, n=0)
        observed = total / elapsed_s
        state = _state(threshold.holds(observed))
        return ThresholdResult(**base, state=state, estimate=state, observed=observed, n=stats.count)
    if kind == "count":
        state = _state(threshold.holds(total))
        return ThresholdResult(**base, state=state, estimate=state, observed=total, n=stats.count)
    observed = stats.value(aggregation)  # avg, min, max: exact
    if observed is None:
        return ThresholdResult(**base, state=NO_DATA, observed=None, n=0)
    state = _state(threshold.holds(observed))
    return ThresholdResult(**base, state=state, estimate=state, observed=observed, n=stats.timed)


def _state(holds: bool) -> str:
    return PASS if holds else FAIL


def _finish(result: ThresholdResult) -> ThresholdResult:
    """The reason, when the point estimate or the interval fails the threshold."""
    failing = result.state == FAIL or result.estimate == FAIL
    return replace(result, reason=failure_reason(result)) if failing else result


def _counts_against(result: ThresholdResult, policy: str) -> bool:
    """Whether a threshold's failure fails the exit code under ``policy``."""
    if policy == conf.InconclusivePolicy.ESTIMATE:
        return result.estimate == FAIL
    return result.state == FAIL


def _close_match(row: SloRow, recorded: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The recorded request (``(method, name)``) one of ``row``'s requests is a typo of, if any.

    Every recorded request is a candidate, whichever rows judged it: a row ``GET /helth`` is a
    typo of ``GET /health`` just as much when a catch-all row pooled ``/health``. Only the row's own
    requests are not (a row with a status or outcome filter can lack data with its name right).
    A k6 key's method is ``*``: its name is compared with the recorded names alone; an ``llm_*``
    key's ``{scenario:...}`` (``"LLM TTFT * @Chat"``) with the user classes of the recorded LLM samples."""
    others = [(m, n) for m, n in recorded if not row.matches(m, n)]
    for pattern in row.requests:
        method, _, name = pattern.partition(" ")
        entry, _, scenario = name.rpartition(SCENARIO_MARK) if method == LLM_METHOD else ("", "", "*")
        if scenario != "*":  # the same measurement and path of another user class
            same = request_matchers([f"{LLM_METHOD} {entry}{SCENARIO_MARK}*"])
            by_text = {n.rpartition(SCENARIO_MARK)[2]: (m, n) for m, n in others if same(m, n)}
            close = difflib.get_close_matches(scenario, list(by_text), n=1, cutoff=_TYPO_CUTOFF)
        elif method == "*":
            by_text = {n: (m, n) for m, n in others}
            close = difflib.get_close_matches(name.strip(), list(by_text), n=1, cutoff=_TYPO_CUTOFF)
        else:
            by_text = {f"{m} {n}": (m, n) for m, n in others}
            close = difflib.get_close_matches(pattern, list(by_text), n=1, cutoff=_TYPO_CUTOFF)
        if close:
            return by_text[close[0]]
    return None


def evaluate(table: SloTable, recorder: RequestRecorder, *, strict: bool = False,
             rows_left_out: tuple[str, ...] = (), confidence: float = 0.0, policy: str = "estimate",
             marks: Marks | None = None, elapsed_s: float | None = None, looks: int = 0) -> Verdict:
    """Judge everything ``recorder`` holds against ``table`` (its selected rows).

    ``strict`` makes NO_DATA fail for every row and makes unrecorded requests fail the run.
    ``confidence`` (0: off) gives each threshold an interval and a confident state; ``policy``
    which failures the exit code counts; ``marks`` per (row, expression) the time-window boundaries
    whose counts widen intervals for dependence; ``elapsed_s`` the run's length so far (for the time to
    settle); ``looks`` the sequential look this verdict is (0: none).
    """
    conf.check_confidence(confidence)
    policy = conf.InconclusivePolicy(policy).value
    marks = marks or {}
    counts = recorder.raw_key_counts()
    judged_keys: set[tuple] = set()
    pooled: list[tuple[SloRow, EndpointStats]] = []
    judges: dict[tuple[str, str], list[str]] = {}  # request -> the rows that pooled it (for the typo reason)
    for row in table.rows:
        keys = [k for k in counts if row.matches_key(k)]
        judged_keys.update(keys)
        for request in dict.fromkeys((k[0], k[1]) for k in keys):
            judges.setdefault(request, []).append(row.name)
        pooled.append((row, recorder.pooled(keys, row=None if row.needs_split or row.reserved_method else row.name)))
    unjudged_counts: dict[tuple[str, str], int] = {}
    for k, c in counts.items():
        if k not in judged_keys and is_request(k[0]):  # iterations, tokens, LLM measurements: no requests
            unjudged_counts[(k[0], k[1])] = unjudged_counts.get((k[0], k[1]), 0) + c
    unjudged = [(m, n, c) for (m, n), c in unjudged_counts.items()]
    recorded = list(dict.fromkeys([(k[0], k[1]) for k in counts if not is_reserved(k[0])]
                                  + list(recorder.unrecorded_keys)))
    results: list[ThresholdResult] = []
    reasons: list[str] = []
    notes: list[str] = list(table.notes)
    any_data = False
    invalid = 0
    for row, stats in pooled:
        if stats.count:
            any_data = True
        else:
            requests = ", ".join(row.requests)
            close = _close_match(row, recorded)
            if close is not None:
                rows = judges.get(close, [])
                by = (f"judged by row{'s' if len(rows) > 1 else ''} {', '.join(map(repr, rows))}" if rows
                      else "and no row judges it")
                reasons.append(f"{row.name}: no data: none of {requests} ran; did you mean {' '.join(close)!r}? "
                               f"(it was requested, {by})")
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
            result = judge_threshold(row, spec, stats, confidence=confidence, elapsed_s=elapsed_s,
                                     marks=marks.get((row.name, spec.threshold.source), ()))
            if result.reason is not None and _counts_against(result, policy):
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
                   tally=tally, rows_left_out=rows_left_out, strict=strict, confidence=confidence, policy=policy,
                   looks=looks)


def _judged_once(recorder: RequestRecorder, pooled: list[tuple[SloRow, EndpointStats]],
                 judged_keys: set[tuple]) -> int:
    """Requests judged by at least one row, each counted once (rows may share requests; iterations
    are no requests)."""
    counts = recorder.raw_key_counts()
    rows = {row.name for row, _ in pooled}
    in_pools = sum(recorder.pool_count(p) for p in recorder.pool_rows() if rows.intersection(p))
    return sum(counts[k] for k in judged_keys if is_request(k[0])) + in_pools


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


def attach_open_model(verdict: Verdict, uncorrected: Verdict, summary: OpenModelSummary) -> Verdict:
    """An open-model verdict: ``verdict`` judged the corrected latencies; ``uncorrected`` is the same
    table over the measured ones (both from :func:`evaluate`, so their thresholds are in the same
    order), whose latency values go beside (``uncorrected_observed``); plus the run's counts, and a
    note when iterations were dropped (they are in no latency figure)."""
    if len(uncorrected.thresholds) != len(verdict.thresholds):
        raise ValueError("the uncorrected verdict judged another table")
    thresholds = tuple(replace(t, uncorrected_observed=u.observed) if t.is_latency else t
                       for t, u in zip(verdict.thresholds, uncorrected.thresholds, strict=True))
    notes = list(verdict.notes)
    if summary.dropped:
        notes.append(f"open model: {summary.dropped} of {summary.due} due iterations were dropped (all "
                     f"--max-vus {summary.max_vus} users busy and the backlog full, or the run ended): they are "
                     "in no latency figure; raise --max-vus, or read it as overload")
    return replace(verdict, thresholds=thresholds, notes=tuple(notes), open_model=summary)


def _decided(result: ThresholdResult) -> bool:
    return result.state in (PASS, FAIL)


def attach_generator(verdict: Verdict, chargeable: Verdict, health: Sequence[ProcessHealth]) -> Verdict:
    """The load generator's own delays, accounted for (docs/verdicts.md, "The generator's own delays").

    ``verdict`` judged the measured times, ``chargeable`` the same table (same thresholds, same
    order, both from :func:`evaluate`) over what the server can be charged with: each request's
    time less the generator's stalls that overlapped it, and failures without an HTTP answer during
    a stall excused. The true server lies between the two. Where they agree the state stands (so a
    PASS of an upper limit stays PASS: removing client delay only lowers times, and a FAIL that
    still fails on the chargeable times is the server's). Where they disagree the threshold is
    INCONCLUSIVE, ``generator_bound``, its point estimate does not count against the run, and its
    reason names the process whose loop lag was worst and what to do. ``health`` is shown as the
    verdict's ``generator`` section."""
    if len(chargeable.thresholds) != len(verdict.thresholds):
        raise ValueError("the chargeable verdict judged another table")
    health = tuple(health)
    worst = worst_process(health)
    thresholds, dropped, bound = [], [], []
    for m, c in zip(verdict.thresholds, chargeable.thresholds, strict=True):
        t = replace(m, chargeable_observed=c.observed) if m.is_latency else m
        state_differs = _decided(m) and c.state != m.state
        estimate_differs = m.estimate is not None and c.estimate is not None and c.estimate != m.estimate
        if worst is not None and (state_differs or estimate_differs):
            if m.reason is not None:
                dropped.append(m.reason)
            t = replace(t, state=INCONCLUSIVE if state_differs else m.state,
                        estimate=PASS if estimate_differs else m.estimate, generator_bound=True,
                        reason=generator_bound_reason(m, c, worst))
            bound.append(t)
        thresholds.append(t)
    reasons = list(verdict.reasons)
    for reason in dropped:
        if reason in reasons:
            reasons.remove(reason)
    notes = list(verdict.notes)
    if bound and worst is not None:
        names = ", ".join(f"{t.row}: {t.expression}" for t in bound)
        notes.append(f"generator-bound: the load generator's own delays could change the outcome of {names}; "
                     f"worst process {format_health(worst)}; {GENERATOR_ADVICE}")
    for h in health:
        if h.cpu_p95 >= CPU_SATURATED and not bound:
            notes.append(f"generator saturated: {format_health(h)}: latencies include the client's own delay (the "
                         "verdict charges the server only with what remains without it)")
    return replace(verdict, thresholds=tuple(thresholds), reasons=tuple(reasons), notes=tuple(notes),
                   generator=health)


def abort_triggers(verdict: Verdict, elapsed_s: float) -> list[ThresholdResult]:
    """The failed results that should stop the test now: ``abort_on_fail`` thresholds whose
    ``delay_abort_eval`` has elapsed (k6's ``abortOnFail`` / ``delayAbortEval``). With a
    confidence, only a confident FAIL (the whole interval violates the limit) aborts."""
    return [r for r in verdict.thresholds
            if r.state == FAIL and r.abort_on_fail and elapsed_s >= r.delay_abort_eval_s]
