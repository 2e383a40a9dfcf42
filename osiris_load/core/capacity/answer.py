"""The capacity search's answer in words: one headline and one line per threshold's settlement.

Pure (reads a :class:`~osiris_load.core.capacity.model.CapacityReport`, judges nothing again), so that the console
(``osiris_load.jobs.capacity.finish``) and ``capacity.html``'s banner say the same words.
"""

from __future__ import annotations

import math

from osiris_load.core.capacity.model import CapacityReport
from osiris_load.core.slo.formatting import format_duration

__all__ = ["CAPACITY_GENERATOR_ADVICE", "generator_note", "headline", "settlement_lines"]

CAPACITY_GENERATOR_ADVICE = ("to measure it, give the load generator room: --workers N (Locust processes per "
                             "probe), more worker machines, fewer users per process (--max-vus), or lighter checks "
                             "in the locustfile")


def _unsettled(report: CapacityReport) -> list[str]:
    return [f"{s.row} {s.expression}" for s in report.settlement if s.probe is None]


def generator_note(report: CapacityReport) -> str:
    """Where the load generator was the bottleneck (outcome ``generator_bound``), which process, and
    what to add; empty otherwise."""
    rate = report.generator_bound_rate
    if report.outcome != "generator_bound" or rate is None:
        return ""
    probe = next((p for p in report.probes if p.rate == rate and p.counted_as == "generator"), None)
    who = ""
    if probe is not None and probe.generator is not None:
        g = probe.generator
        who = (f" (process {g.process}: CPU p95 {g.cpu_p95:.0f} %, {g.saturated_s:.0f} s saturated, loop lag p99 "
               f"{g.lag_p99_ms:.0f} ms, max {g.lag_max_ms:.0f} ms)")
    bound = f"; generator-bound: {', '.join(probe.generator_bound)}" if probe is not None else ""
    return (f"at {rate:.4g}/s the load generator was the bottleneck{who}: that rate says nothing about the server, "
            f"for or against{bound}; {CAPACITY_GENERATOR_ADVICE}")


def headline(report: CapacityReport) -> str:
    """The answer in one line: the rate, and whether every threshold PASSED with confidence at it
    (``confirmed``) or only those a bracketing probe can settle (the latency-bounded rate, with
    what would settle the rest)."""
    low, high = report.bracket
    if report.outcome == "interrupted":
        done = sum(p.counted_as is not None for p in report.probes)
        bracket = f"[{'-' if low is None else f'{low:.4g}'}, {'-' if high is None else f'{high:.4g}'}]/s"
        return (f"interrupted by {report.interrupted_by}: no answer; {done} rate(s) probed to a verdict, bracket "
                f"{bracket}" + (f" (passes at {low:.4g}/s so far)" if low is not None else ""))
    if report.outcome == "generator_bound" and report.max_rate is None:
        return f"none known: {generator_note(report)} (stopped because: {report.stopped_because})"
    if report.max_rate is None:
        unsettled = report.limiting_threshold is not None and report.limiting_threshold.state == "INCONCLUSIVE"
        return (f"none: the SLO is not {'shown to be ' if unsettled else ''}met even at --min-rate "
                f"{report.min_rate:g}/s" + (" (INCONCLUSIVE up to --max-probe-duration: more samples settle it, "
                                            "e.g. a higher --min-rate or longer probes)" if unsettled else ""))
    rate = f"{report.max_rate:.4g} iterations/s"
    if report.outcome == "generator_bound":
        fails = f" (fails at {high:.4g}/s)" if high is not None else ""
        where = f"A LOWER BOUND{fails} limited by the load generator: {generator_note(report)}"
    elif report.outcome == "capacity_found":
        where = f"not at {high:.4g}/s"
    else:
        where = "the capacity is above it: every rate probed passed"
    if report.confirmed is False:
        unsettled = _unsettled(report)
        more = "" if report.to_settle_s is None else (
            f": ~{format_duration(math.ceil(report.to_settle_s))} more budget would settle "
            f"{'it' if len(unsettled) == 1 else 'them'} (--budget "
            f"{format_duration(math.ceil(report.budget_s + report.to_settle_s))})")
        return (f"{rate} by the thresholds a probe could settle, {where}; NOT CONFIRMED: {len(unsettled)} "
                f"threshold{'s' if len(unsettled) != 1 else ''} not settled ({', '.join(unsettled)}){more} "
                f"(stopped because: {report.stopped_because})")
    return f"{rate}: every threshold PASSED with confidence at it, {where} (stopped because: {report.stopped_because})"


def settlement_lines(report: CapacityReport) -> list[str]:
    """One line per threshold at the answer: PASSED by which probe (bracketing or confirmation), or
    not settled."""
    lines = []
    for s in report.settlement:
        needed = f", needs {s.requests_needed} requests" if s.requests_needed is not None else ""
        if s.probe is None:
            lines.append(f"{s.row} {s.expression}: not settled at {s.rate:.4g}/s ({s.state}{needed})")
        else:
            kind = "confirmation" if s.role == "confirm" else "bracketing"
            lines.append(f"{s.row} {s.expression}: {s.state} at {s.rate:.4g}/s in probe {s.probe} ({kind}{needed})")
    return lines
