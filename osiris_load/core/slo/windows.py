"""Time windows of each threshold's counts, for the design effect (``osiris_load.core.slo.confidence.design_effect``).

Requests of a load test are not independent draws: a stall slows or fails its neighbours together,
so a binomial interval on all of them is too narrow (``docs/verdicts.md`` shows how much). The
gate therefore notes, at every window boundary (at least ``window_s`` apart, default 5 s), each
threshold's cumulative ``(n, share_count)`` from the verdict it just took (``evaluate.share_count``:
samples at or beyond a percentile's limit, a rate's failures, ``avg``'s latency sum). The
differences are per-window counts: their spread (batch means) widens the interval. Marks come from
verdicts, so a master marks what it has merged from its workers, with the same rule as one process.
"""

from __future__ import annotations

from osiris_load.core.slo.evaluate import Marks, share_count
from osiris_load.core.slo.verdict import Verdict

__all__ = ["DEFAULT_WINDOW_S", "WindowMarks"]

DEFAULT_WINDOW_S = 5.0


class WindowMarks:
    """Window boundaries per (row, expression); ``window_s == 0`` keeps none (no widening)."""

    def __init__(self, window_s: float = DEFAULT_WINDOW_S) -> None:
        if not window_s == 0 and not window_s >= 1:
            raise ValueError(f"a time window is 0 (off) or at least 1 s, got {window_s!r}")
        self.window_s = float(window_s)
        self._marks: dict[tuple[str, str], list[tuple[int, float]]] = {}
        self._last: float | None = None

    def reset(self, now: float) -> None:
        """Forget every mark (a new test, or the stats were reset); windows start at ``now``."""
        self._marks = {}
        self._last = now

    def observe(self, verdict: Verdict, now: float) -> None:
        """Mark a boundary with ``verdict``'s counts when a window has passed since the last one."""
        if not self.window_s:
            return
        if self._last is None:
            self._last = now
        if now - self._last < self.window_s:
            return
        self._last = now
        for t in verdict.thresholds:
            count = share_count(t)
            if count is not None:
                self._marks.setdefault((t.row, t.expression), []).append((t.n, count))

    @property
    def marks(self) -> Marks:
        return self._marks
