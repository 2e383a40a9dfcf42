"""The one formatter of the gate: values, limits, reasons and the console summary.

Every view (console, CSV, reports, web UI) prints values and limits through these functions, so
a value reads the same everywhere, and a value is never printed so that it reads as meeting a
limit it does not meet (799.996 ms against ``p(95)<800`` prints ``799.996 ms``, not ``800.00 ms``).
"""

from __future__ import annotations

from slo.expressions import format_number
from slo.verdict import FAIL, NO_DATA, PASS, LostWorkerInfo, ThresholdResult, Verdict

__all__ = ["describe_lost", "failure_reason", "format_limit", "format_observed", "format_summary", "format_value",
           "state_word"]

_SCALE = {"ms": 1.0, "ratio": 100.0}
_SUFFIX = {"ms": " ms", "ratio": "%"}
_MARKS = {PASS: ("✓", "PASS"), FAIL: ("✗", "FAIL"), NO_DATA: ("∅", "NO DATA")}
_ASCII_MARKS = {PASS: "+", FAIL: "x", NO_DATA: "-"}


def state_word(state: str, *, ascii_only: bool = False) -> str:
    """``✓ PASS``, ``✗ FAIL``, ``∅ NO DATA`` (``+ PASS`` ... with ``ascii_only``)."""
    mark, word = _MARKS[state]
    return f"{_ASCII_MARKS[state] if ascii_only else mark} {word}"


def format_value(unit: str, value: float | None, limit: float | None = None) -> str:
    """A value in its unit: ``812.35 ms``, ``99.85%``, ``1500`` (requests), ``-`` for none.

    Two decimals, or more when fewer would print it equal to ``limit`` while it differs from it."""
    if value is None:
        return "-"
    if unit not in _SCALE:
        return format_number(value)
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
    else:
        value = format_number(result.limit)
    return f"{result.op} {value}"


def format_observed(result: ThresholdResult) -> str:
    return format_value(result.unit, result.observed, result.limit)


def failure_reason(result: ThresholdResult) -> str:
    """Why a threshold failed, with the exact counts it was decided on."""
    detail = f"{result.requests} requests"
    if result.rank is not None and result.beyond is not None:
        detail += (f"; {result.beyond} of {result.n} timed samples beyond the limit, "
                   f"at most {result.n - result.rank} may be")
    elif result.failures is not None:
        detail += f", {result.failures} failed"
    return (f"{result.row}: {result.expression} failed: observed {format_observed(result)} "
            f"(limit {format_limit(result)}, {detail})")


def format_summary(verdict: Verdict, *, ascii_only: bool = False) -> str:
    """A k6-like summary: one aligned line per threshold (state, row, expression, observed, limit,
    requests), the requests no row judged, notes, then the overall verdict with one reason a line."""
    lines = ["SLO thresholds:"]
    table = [(state_word(t.state, ascii_only=ascii_only), t.row, t.expression, format_observed(t), format_limit(t),
              str(t.requests)) for t in verdict.thresholds]
    if table:
        headers = ("", "row", "threshold", "observed", "limit", "requests")
        widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]

        def fmt(cells: tuple[str, ...]) -> str:
            left = "  ".join(map(str.ljust, cells[:3], widths[:3]))
            right = "  ".join(map(str.rjust, cells[3:], widths[3:]))
            return f"  {left}  {right}".rstrip()

        lines.append(fmt(headers))
        lines.extend(fmt(r) for r in table)
    else:
        lines.append("  (no thresholds)")
    if verdict.rows_left_out:
        lines.append(f"  not judged (rows this run does not exercise): {', '.join(verdict.rows_left_out)}")
    tally = verdict.tally
    for method, name, count in tally.unjudged:
        lines.append(f"  unjudged: {method} {name} ({count} requests): no SLO row names it")
    for note in verdict.notes:
        lines.append(f"  note: {note}")
    counts = f"{verdict.count(PASS)} passed, {verdict.count(FAIL)} failed, {verdict.count(NO_DATA)} no data"
    lines.append(f"SLO verdict: {verdict.state} ({counts}; {tally.judged} requests judged)")
    lines.extend(f"  reason: {reason}" for reason in verdict.reasons)
    if verdict.exceptions.count:
        lines.append(f"  {verdict.exceptions.count} unhandled exceptions in user code (first: "
                     f"{verdict.exceptions.first})")
    return "\n".join(lines)


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
