"""The one formatter of the gate: values, limits, reasons and the console summary.

Every view (console, CSV, reports, web UI) prints values and limits through these functions, so
a value reads the same everywhere, and a value is never printed so that it reads as meeting a
limit it does not meet (799.996 ms against ``p(95)<800`` prints ``799.996 ms``, not ``800.00 ms``).
"""

from __future__ import annotations

from collections.abc import Mapping

from osiris_load.core.slo.expressions import format_number
from osiris_load.core.slo.verdict import (
    FAIL,
    INCONCLUSIVE,
    NO_DATA,
    PASS,
    LostWorkerInfo,
    OpenModelSummary,
    ProcessHealth,
    ThresholdResult,
    Verdict,
)

__all__ = ["GENERATOR_ADVICE", "describe_lost", "failure_reason", "format_chargeable", "format_duration",
           "format_goodput",
           "format_health", "format_interval", "generator_bound_reason", "generator_line",
           "format_limit", "format_observed", "format_open_model", "format_rate", "format_settle", "format_summary",
           "format_uncorrected", "format_value", "Headline", "run_headline", "settle_lines", "state_word"]

_SCALE = {"ms": 1.0, "ratio": 100.0, "requests/s": 1.0, "tokens/s": 1.0}
_SUFFIX = {"ms": " ms", "ratio": "%", "requests/s": "/s", "tokens/s": " tokens/s", "tokens": " tokens"}
_MARKS = {PASS: ("✓", "PASS"), FAIL: ("✗", "FAIL"), INCONCLUSIVE: ("?", "INCONCLUSIVE"), NO_DATA: ("∅", "NO DATA")}
_ASCII_MARKS = {PASS: "+", FAIL: "x", INCONCLUSIVE: "?", NO_DATA: "-"}


def state_word(state: str, *, ascii_only: bool = False) -> str:
    """``✓ PASS``, ``✗ FAIL``, ``? INCONCLUSIVE``, ``∅ NO DATA`` (``+ PASS`` ... with ``ascii_only``)."""
    mark, word = _MARKS[state]
    return f"{_ASCII_MARKS[state] if ascii_only else mark} {word}"


def format_value(unit: str, value: float | None, limit: float | None = None) -> str:
    """A value in its unit: ``812.35 ms``, ``99.85%``, ``1500`` (requests), ``-`` for none.

    Two decimals, or more when fewer would print it equal to ``limit`` while it differs from it."""
    if value is None:
        return "-"
    if unit not in _SCALE:  # counts: whole numbers (tokens say so)
        return format_number(value) + _SUFFIX.get(unit, "")
    scale, digits = _SCALE[unit], 2
    text = f"{value * scale:.{digits}f}"
    if limit is not None and value != limit:
        while digits < 9 and text == f"{limit * scale:.{digits}f}":
            digits += 1
            text = f"{value * scale:.{digits}f}"
    return text + _SUFFIX[unit]


def format_limit(result: ThresholdResult) -> str:
    """The limit as written, in its unit: ``< 800 ms``, ``>= 99.9%``, ``> 100``."""
    if result.unit == "ratio":
        value = f"{format_number(round(result.limit * 100, 10))}%"
    elif result.unit == "ms":
        value = f"{format_number(result.limit)} ms"
    elif result.unit in _SUFFIX:
        value = f"{format_number(result.limit)}{_SUFFIX[result.unit]}"
    else:
        value = format_number(result.limit)
    return f"{result.op} {value}"


def format_observed(result: ThresholdResult) -> str:
    return format_value(result.unit, result.observed, result.limit)


def format_uncorrected(result: ThresholdResult) -> str:
    """The latency over the measured (uncorrected) times, open model only; ``-`` otherwise."""
    return format_value(result.unit, result.uncorrected_observed, result.limit)


def format_chargeable(result: ThresholdResult) -> str:
    """The latency over what the server can be charged with (each request's time less the generator's
    stalls that overlapped it); ``-`` without one."""
    return format_value(result.unit, result.chargeable_observed, result.limit)


def format_rate(rate: float) -> str:
    """Iterations per second: ``20.00/s``."""
    return f"{rate:.2f}/s"


def format_goodput(model: OpenModelSummary) -> str:
    """``97.30% (290 of 298 iterations)``, or ``-`` without iterations."""
    goodput = model.goodput
    if goodput.share is None:
        return "- (no iterations)"
    return f"{format_value('ratio', goodput.share)} ({goodput.good} of {goodput.iterations} iterations)"


def format_open_model(model: OpenModelSummary) -> str:
    """One line: the arrivals, target and achieved rates, due/started/late/dropped, goodput."""
    return (f"open model ({model.arrivals} arrivals, {format_duration_exact(model.window_s)}): target "
            f"{format_rate(model.target_rate)}, achieved {format_rate(model.achieved_rate)}; {model.due} due, "
            f"{model.started} started, {model.late} late (> {format_number(model.late_tolerance_ms)} ms), "
            f"{model.dropped} dropped; goodput {format_goodput(model)}; "
            f"latencies {'corrected for late starts (uncorrected beside)' if model.corrected else 'as measured'}")


def format_duration_exact(seconds: float) -> str:
    """``15.0 s``: a run's window, to a tenth of a second."""
    return f"{seconds:.1f} s"


def format_interval(result: ThresholdResult) -> str:
    """The interval in the threshold's unit: ``412.10 .. 830.55 ms``, ``99.70 .. 100.00%``; an
    unbounded end reads ``<= 830.55 ms`` / ``>= 412.10 ms`` (beyond the largest or smallest sample);
    ``-`` without an interval (off, or a fact of the run: min, max, count)."""
    if result.interval is None:
        return "-"
    low, high = result.interval
    if low is None and high is None:
        return "unbounded"
    if low is None:
        return f"<= {format_value(result.unit, high, result.limit)}"
    if high is None:
        return f">= {format_value(result.unit, low, result.limit)}"
    text_low = format_value(result.unit, low, result.limit)
    text_high = format_value(result.unit, high, result.limit)
    suffix = _SUFFIX.get(result.unit, "")
    if suffix and text_low.endswith(suffix):
        text_low = text_low[: -len(suffix)]
    return f"{text_low} .. {text_high}"


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.2 h``: how long a run would still need."""
    if seconds < 120:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_settle(result: ThresholdResult) -> str:
    """What would settle an INCONCLUSIVE threshold: ``~2 950 more requests (~6 min at this rate)``,
    or that it would not settle (the estimate sits on the limit); empty when settled."""
    if result.state != INCONCLUSIVE:
        return ""
    if result.generator_bound:
        return f"generator-bound: more requests would not settle it; {GENERATOR_ADVICE}"
    if result.requests_needed is None:
        return "would not settle at the observed share (it sits on the limit)"
    more = max(result.requests_needed - result.n, 1)
    text = f"~{more} more requests"
    if result.seconds_needed is not None:
        text += f" (~{format_duration(result.seconds_needed)} at this rate)"
    return text


def failure_reason(result: ThresholdResult) -> str:
    """Why a threshold failed, with the exact counts it was decided on (and its interval, and
    whether only the point estimate fails it)."""
    detail = f"{result.requests} requests"
    if result.rank is not None and result.beyond is not None:
        detail += (f"; {result.beyond} of {result.n} timed samples beyond the limit, "
                   f"at most {result.n - result.rank} may be")
    elif result.failures is not None:
        detail += f", {result.failures} failed"
    if result.interval is not None:
        confidence = format_number(round(result.confidence * 100, 6))
        settled = "" if result.state == FAIL else "; not settled: the interval straddles the limit"
        detail += f"; {confidence}% interval {format_interval(result)}{settled}"
    what = "failed" if result.state == FAIL else "failed on its point estimate"
    return (f"{result.row}: {result.expression} {what}: observed {format_observed(result)} "
            f"(limit {format_limit(result)}, {detail})")


GENERATOR_ADVICE = ("run fewer users per process (--processes N, or more workers), or make the locustfile's "
                    "checks lighter")


def format_health(health: ProcessHealth) -> str:
    """One process's generator health: ``local: CPU p50 45 % p95 99 % max 100 % (12 s saturated), loop
    lag p50 0.1 ms p99 152 ms max 160 ms, 80 stalls (12.3 s), 5 users, 95.0 requests/s``."""
    return (f"{health.process}: CPU p50 {health.cpu_p50:.0f} % p95 {health.cpu_p95:.0f} % max "
            f"{health.cpu_max:.0f} % ({health.saturated_s:.0f} s saturated), loop lag p50 {health.lag_p50_ms:.1f} ms "
            f"p99 {health.lag_p99_ms:.1f} ms max {health.lag_max_ms:.1f} ms, {health.stalls} stalls "
            f"({health.stall_s:.1f} s), {health.users} users, {health.requests_per_s:.1f} requests/s")


def generator_line(cpu: float, lag_ms: float) -> str:
    """The progress line of a generator that is itself late (its last second's CPU and worst wake)."""
    return (f"generator: CPU {cpu:.0f} %, loop lag up to {lag_ms:.0f} ms in the last second: latencies include the "
            "client's own delay")


def generator_bound_reason(result: ThresholdResult, chargeable: ThresholdResult, worst: ProcessHealth) -> str:
    """Why a threshold is INCONCLUSIVE (generator-bound): its measured and chargeable judgements
    disagree, naming the process whose own delays could change the outcome, and what to do."""
    charged = (f"{format_value(chargeable.unit, chargeable.observed, chargeable.limit)} on what the server can be "
               "charged with")
    if result.is_latency:
        what = "after removing the load generator's own stalls"
    else:
        what = "counting failures without an HTTP answer during the generator's stalls as possibly its own"
    return (f"{result.row}: {result.expression} generator-bound: {result.estimate or result.state} on the measured "
            f"times ({format_observed(result)}) but {chargeable.estimate} at {charged} ({what}); the load generator "
            f"may be what is slow: process {worst.process} had loop lag p99 {worst.lag_p99_ms:.0f} ms (max "
            f"{worst.lag_max_ms:.0f} ms), CPU p95 {worst.cpu_p95:.0f} %; {GENERATOR_ADVICE}")


def _widened(result: ThresholdResult) -> str:
    """`` (D 1.84)``: the interval was widened for dependence between requests (design effect)."""
    return f" (D {result.design_effect:.2f})" if result.interval is not None and result.design_effect > 1 else ""


def settle_lines(verdict: Verdict) -> list[str]:
    """One line per threshold with an interval: settled (and how), or what would settle it."""
    lines = []
    for t in verdict.thresholds:
        if t.interval is None:
            continue
        if t.generator_bound:
            lines.append(f"{t.row}: {t.expression} not settled: generator-bound (the load generator's own delays "
                         "could decide it)")
        elif t.state == INCONCLUSIVE:
            lines.append(f"{t.row}: {t.expression} not settled ({t.n} samples, interval {format_interval(t)}"
                         f"{_widened(t)}): needs {format_settle(t)}")
        else:
            lines.append(f"{t.row}: {t.expression} settled {t.state} on {t.n} samples "
                         f"(interval {format_interval(t)}{_widened(t)})")
    return lines


def format_summary(verdict: Verdict, *, ascii_only: bool = False) -> str:
    """A k6-like summary: one aligned line per threshold (state, row, expression, observed, limit,
    requests), the requests no row judged, notes, then the overall verdict with one reason a line."""
    with_intervals = verdict.confidence > 0
    title = "SLO thresholds:"
    if with_intervals:
        level = format_number(round(verdict.confidence * 100, 6))
        title = f"SLO thresholds ({level}% intervals{f', look {verdict.looks}' if verdict.looks else ''}):"
    lines = [title]
    model = verdict.open_model
    table = [(state_word(t.state, ascii_only=ascii_only), t.row, t.expression, format_observed(t),
              *((format_uncorrected(t) if t.is_latency else "",) if model is not None else ()),
              *((format_interval(t) + _widened(t),) if with_intervals else ()), format_limit(t), str(t.requests))
             for t in verdict.thresholds]
    if table:
        headers = ("", "row", "threshold", "corrected" if model is not None else "observed",
                   *(("uncorrected",) if model is not None else ()), *(("interval",) if with_intervals else ()),
                   "limit", "requests")
        widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]

        def fmt(cells: tuple[str, ...]) -> str:
            left = "  ".join(map(str.ljust, cells[:3], widths[:3]))
            right = "  ".join(map(str.rjust, cells[3:], widths[3:]))
            return f"  {left}  {right}".rstrip()

        lines.append(fmt(headers))
        lines.extend(fmt(r) for r in table)
    else:
        lines.append("  (no thresholds)")
    if model is not None:
        lines.append(f"  {format_open_model(model)}")
    if verdict.rows_left_out:
        lines.append(f"  not judged (rows this run does not exercise): {', '.join(verdict.rows_left_out)}")
    tally = verdict.tally
    for method, name, count in tally.unjudged:
        lines.append(f"  unjudged: {method} {name} ({count} requests): no SLO row names it")
    for health in verdict.generator:
        lines.append(f"  generator {format_health(health)}")
    for note in verdict.notes:
        lines.append(f"  note: {note}")
    for t in verdict.thresholds:
        if t.generator_bound:
            lines.append(f"  inconclusive: {t.row}: {t.expression} is generator-bound: observed "
                         f"{format_observed(t)}, chargeable to the server "
                         f"{format_chargeable(t) if t.is_latency else '-'}; "
                         f"{GENERATOR_ADVICE}")
        elif t.state == INCONCLUSIVE:
            lines.append(f"  inconclusive: {t.row}: {t.expression} needs {format_settle(t)}")
    inconclusive = f"{verdict.count(INCONCLUSIVE)} inconclusive, " if with_intervals else ""
    counts = (f"{verdict.count(PASS)} passed, {verdict.count(FAIL)} failed, {inconclusive}"
              f"{verdict.count(NO_DATA)} no data")
    lines.append(f"SLO verdict: {verdict.state} ({counts}; {tally.judged} requests judged)")
    lines.extend(f"  reason: {reason}" for reason in verdict.reasons)
    if verdict.exceptions.count:
        lines.append(f"  {verdict.exceptions.count} unhandled exceptions in user code (first: "
                     f"{verdict.exceptions.first})")
    return "\n".join(lines)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _headline_parts(verdicts: Mapping[str, Verdict | None]) -> tuple[str, str]:
    """The run's headline as (word, detail): ``PASS``, ``FAIL``, ``ERROR`` or ``NOT JUDGED``, and
    why in a few words ("" when there is nothing to add). ``verdicts`` maps each scenario of the
    run to its verdict object (``None``: it wrote none). The word follows the exit-code policy
    (``Verdict.passed``: INCONCLUSIVE passes by estimate unless ``--slo-inconclusive fail``); the
    detail says what the states add, so that a PASS with unsettled thresholds reads as such."""
    if not verdicts:
        return "NOT JUDGED", "no scenario ran"
    judged = {name: v for name, v in verdicts.items() if v is not None}

    def where(names: list[str]) -> str:  # which scenarios, when the run has several
        return f" in {', '.join(names)}" if len(verdicts) > 1 else ""

    failed = [name for name, v in judged.items() if not v.passed]
    if failed:
        count = sum(judged[name].count(FAIL) for name in failed)
        if count:
            return "FAIL", f"{_plural(count, 'threshold')} failed with confidence{where(failed)}"
        reasons = judged[failed[0]].reasons
        return "FAIL", f"{reasons[0] if reasons else 'the gate failed'}{where(failed[:1])}"
    missing = [name for name, v in verdicts.items() if v is None]
    if missing:
        return "NOT JUDGED", f"no SLO verdict{where(missing)}"
    errors = [(name, v.exit_code) for name, v in judged.items() if v.exit_code not in (None, 0)]
    if errors:
        return "ERROR", f"exit code {errors[0][1]}{where([errors[0][0]])}"
    inconclusive = [(name, t) for name, v in judged.items() for t in v.thresholds if t.state == INCONCLUSIVE]
    if not inconclusive:
        return "PASS", ""
    # A generator-bound threshold is not short of samples: more time would not settle it, a lighter
    # load generator would (docs/verdicts.md). It is said apart from those that time would settle.
    bound = [t for _, t in inconclusive if t.generator_bound]
    unsettled = [(name, t) for name, t in inconclusive if not t.generator_bound]
    parts = []
    if bound:
        parts.append(f"{_plural(len(bound), 'threshold')} generator-bound: the load generator's own delays "
                     "could change the outcome")
    if unsettled:
        needs: dict[str, float] = {}  # per scenario, the longest a threshold still needs: the runs add up
        never = False
        for name, t in unsettled:
            if t.seconds_needed is None:
                never = True
            else:
                needs[name] = max(needs.get(name, 0.0), t.seconds_needed)
        more = ""
        if needs:
            more = (f": ~{format_duration(sum(needs.values()))} more would settle "
                    f"{'it' if len(unsettled) == 1 else 'them'}")
            if never:
                more += " (some sit on their limit and would not settle)"
        elif never:
            more = ": they sit on their limit and would not settle"
        parts.append(f"{_plural(len(unsettled), 'threshold')} not yet settled{more}")
    return "PASS", "by estimate; " + "; ".join(parts)


class Headline(str):
    """The run's headline text (``PASS (by estimate; ...)``), which also carries its two parts for a
    view that sets them apart (report.html's banner: the word big, the detail beside): ``word``
    (``PASS``, ``FAIL``, ``ERROR``, ``NOT JUDGED``) and ``detail`` ("" when there is nothing to add)."""

    word: str
    detail: str

    def __new__(cls, word: str, detail: str = "") -> Headline:
        text = super().__new__(cls, f"{word} ({detail})" if detail else word)
        text.word, text.detail = word, detail
        return text


def run_headline(verdicts: Mapping[str, Verdict | None]) -> Headline:
    """The one headline of a run, e.g. ``PASS (by estimate; 6 thresholds not yet settled: ~12 min
    more would settle them)``: the console's last line, report.html's banner, summary.json, JUnit
    and the GitHub step summary all print this (``verdicts``: each scenario's verdict object, ``None``
    where it wrote none; the word and the detail are in :class:`Headline`)."""
    return Headline(*_headline_parts(verdicts))


def describe_lost(lost: LostWorkerInfo) -> str:
    """One line about a lost worker."""
    if lost.reported:
        more = "an unknown number" if lost.missing_estimate is None else f"about {lost.missing_estimate}"
        return (f"{lost.worker_id} ({lost.why}): {lost.requests_received} of its requests were received; "
                f"{more} more may be missing")
    if lost.missing_estimate is None:
        return f"{lost.worker_id} ({lost.why}): it never reported; all its requests (count unknown) are missing"
    return (f"{lost.worker_id} ({lost.why}): it never reported; at its peers' rate about {lost.missing_estimate} "
            "more may be missing (all of its requests)")
