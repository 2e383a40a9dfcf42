"""The verdict for people (a k6-like end-of-test table) and for files (rows for ``_slo.csv``).

Each line carries the words PASS / FAIL / NO DATA next to the mark, so that the summary reads the
same without colour, in a CI log, or through a console that cannot print the marks
(``ascii_only=True``).
"""

from __future__ import annotations

from typing import Any

from slo.evaluate import FAIL, NO_DATA, PASS, ThresholdResult, Verdict
from slo.expressions import format_number

__all__ = ["VERDICT_ROW_FIELDS", "format_observed", "format_summary", "verdict_rows"]

VERDICT_ROW_FIELDS: tuple[str, ...] = ("row", "requests", "expression", "observed", "samples", "verdict")

_MARKS = {PASS: ("✓", "PASS"), FAIL: ("✗", "FAIL"), NO_DATA: ("∅", "NO DATA")}
_ASCII_MARKS = {PASS: "+", FAIL: "x", NO_DATA: "-"}


def _distinct(value: float, limit: float, scale: float, digits: int) -> str:
    """``value * scale`` with ``digits`` decimals, or more when fewer would print it equal to a
    limit it is not equal to (799.996 ms against ``p(95)<800`` must not read "800.00")."""
    text = f"{value * scale:.{digits}f}"
    if value != limit:
        for more in range(digits + 1, digits + 7):
            if text != f"{limit * scale:.{digits}f}":
                break
            text = f"{value * scale:.{more}f}"
            digits = more
    return text


def format_observed(result: ThresholdResult) -> str:
    """The observed value in the threshold's terms: ``812.35 ms``, ``99.95%``, ``1500``, or ``-``."""
    if result.observed is None:
        return "-"
    threshold = result.spec.threshold
    aggregation = threshold.aggregation
    if aggregation.is_latency:
        return f"{_distinct(result.observed, threshold.value, 1.0, 2)} ms"
    if aggregation.is_rate:
        return f"{_distinct(result.observed, threshold.value, 100.0, 2)}%"
    return format_number(result.observed)


def format_summary(verdict: Verdict, *, ascii_only: bool = False) -> str:
    """A k6-like summary: one aligned line per threshold (mark and word, row, expression, observed
    value, samples), then notes, then a final line with the overall verdict and its reasons."""
    lines = ["SLO thresholds:"]
    table: list[tuple[str, str, str, str, str]] = []
    for result in verdict.results:
        symbol, word = _MARKS[result.verdict]
        if ascii_only:
            symbol = _ASCII_MARKS[result.verdict]
        table.append((f"{symbol} {word}", result.row, result.expression, format_observed(result),
                      str(result.samples)))
    if table:
        headers = ("", "row", "threshold", "observed", "samples")
        widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]

        def fmt(cells: tuple[str, ...]) -> str:
            left = "  ".join(c.ljust(w) for c, w in zip(cells[:3], widths[:3], strict=True))
            right = "  ".join(c.rjust(w) for c, w in zip(cells[3:], widths[3:], strict=True))
            return f"  {left}  {right}".rstrip()

        lines.append(fmt(headers))
        lines.extend(fmt(r) for r in table)
    else:
        lines.append("  (no thresholds)")
    for note in verdict.notes:
        lines.append(f"  note: {note}")
    counts = {v: sum(1 for r in verdict.results if r.verdict == v) for v in (PASS, FAIL, NO_DATA)}
    tally = f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[NO_DATA]} no data"
    if verdict.passed:
        lines.append(f"SLO verdict: PASS ({tally})")
    else:
        lines.append(f"SLO verdict: FAIL ({tally}): {'; '.join(verdict.reasons)}")
    return "\n".join(lines)


def verdict_rows(verdict: Verdict) -> list[dict[str, Any]]:
    """One dict per threshold with the keys of :data:`VERDICT_ROW_FIELDS`, for ``_slo.csv``.

    ``requests`` is joined with ``;``; ``observed`` is the raw float (ms for latency, a ratio for
    rates, a number for count) or ``None`` for no data; ``verdict`` is pass / fail / no data.
    """
    return [
        {
            "row": r.row,
            "requests": ";".join(r.requests),
            "expression": r.expression,
            "observed": r.observed,
            "samples": r.samples,
            "verdict": r.verdict,
        }
        for r in verdict.results
    ]
