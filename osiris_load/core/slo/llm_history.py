"""The LLM measurements over the run, for report.html's TTFT and ITL charts over time and its chunks
per second: the measurements are no Locust entries (one streamed answer is one Locust request), so
Locust's ``_stats_history.csv`` has no row for them; the gate keeps their history itself.

Where the verdict is made (the master or a local runner) the gate's live loop calls
:meth:`LlmHistory.observe` at each evaluation (every ``--slo-eval-interval`` s) and once at the end;
each call appends, per LLM entry of the judged recorder (``"TTFT /v1/chat/completions @OpenAIChatUser"``,
method ``LLM``), its sample count and exact p50/p95/p99 **since the start** (or the last stats
reset). :meth:`LlmHistory.to_csv` writes them with the columns of Locust's history CSV
(``PREFIX_llm_history.csv``), so ``osiris_load.reports.load`` reads them as it reads Locust's, as
cumulative percentiles. Bounded: past :data:`MAX_TICKS` ticks every other tick is dropped. Pure.
"""

from __future__ import annotations

import csv
import io

from osiris_load.core.slo.k6_metrics import LLM_METHOD
from osiris_load.core.slo.recorder import RequestRecorder

__all__ = ["COLUMNS", "LlmHistory", "MAX_TICKS"]

#: Locust's history columns that the report reads (``osiris_load.reports.load.HISTORY_COLUMNS``).
COLUMNS = ("Timestamp", "User Count", "Type", "Name", "50%", "95%", "99%", "Total Request Count",
           "Total Failure Count")
MAX_TICKS = 2048

Row = tuple[float, str, int, float, float, float]  # time, name, count, p50, p95, p99


class LlmHistory:
    """Ticks of the LLM entries' cumulative figures (see the module docstring)."""

    def __init__(self) -> None:
        self.ticks: list[list[Row]] = []

    def reset(self) -> None:
        self.ticks = []

    def observe(self, now: float, recorder: RequestRecorder) -> None:
        """One tick at ``now`` (Unix seconds): every LLM entry's count and percentiles so far."""
        tick: list[Row] = []
        for (method, name), count in recorder.key_counts().items():
            if method != LLM_METHOD:
                continue
            stats = recorder.stats(method, name)
            if stats is None or not stats.timed:
                continue
            tick.append((now, name, count, stats.percentile(50), stats.percentile(95), stats.percentile(99)))
        if not tick:
            return
        self.ticks.append(tick)
        if len(self.ticks) > MAX_TICKS:  # keep the last tick: the run's final figures
            self.ticks = [*self.ticks[:-1:2], self.ticks[-1]]

    def to_csv(self) -> str:
        """The ticks as Locust's history CSV (Type ``LLM``; no user count: 0), empty text without any."""
        if not self.ticks:
            return ""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for tick in self.ticks:
            for now, name, count, p50, p95, p99 in tick:
                writer.writerow([round(now, 3), 0, LLM_METHOD, name, round(p50, 3), round(p95, 3), round(p99, 3),
                                 count, 0])
        return out.getvalue()
