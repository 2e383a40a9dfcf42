"""Progress lines for a headless Locust run: a Locust plugin the main job loads beside the scenario.

``osiris-load run`` passes ``-f SCENARIO.py,.../progress_plugin.py --progress-every N``; on the
master (or the local runner) this prints one line every N seconds instead of silence
(``--only-summary``): elapsed of planned time, users, requests/s, in an open-model run the
iterations started per second against the plan's and the late and dropped ones, and the state of
each SLO row from the gate's latest live evaluation. In an LLM run (``locustfiles/openai_chat.py``)
requests/s counts the answers (not the ``LLM`` measurement entries, one per inter-token gap), and
the line adds the last ~10 s's TTFT p95, ITL p99 and streamed chunks per second (one token each
where the server sends one per chunk: the sidecar, vLLM). A thin view: it reads what Locust and the gate already
computed, judges nothing itself, and runs off the request path (one greenlet, every N seconds).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import gevent
from locust import events
from locust.runners import WorkerRunner

from osiris_load.adapter.context import context_of
from osiris_load.core.slo.formatting import format_rate
from osiris_load.core.slo.k6_metrics import LLM_METHOD, LLM_TRENDS
from osiris_load.core.slo.verdict import NO_DATA, ThresholdResult, Verdict

ROW_LIMIT = 6
"""Rows named on a line; the rest are counted, so a line stays readable in a CI log."""


@events.init_command_line_parser.add_listener
def _add_option(parser: Any, **_: Any) -> None:
    parser.add_argument("--progress-every", type=float, default=0.0, env_var="OSIRIS_PROGRESS_EVERY",
                        include_in_web_ui=False,
                        help="print a progress line every N seconds (0: never)")


def format_clock(seconds: float) -> str:
    """``75`` -> ``1:15``; ``3725`` -> ``1:02:05``."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def planned_seconds(environment: Any) -> float | None:
    """The run's planned length: the stages shape's total, else ``-t``; None when open-ended."""
    planned: float | None = None
    shape = environment.shape_class
    if shape is not None and hasattr(shape, "planned_duration"):
        try:
            planned = shape.planned_duration()
        except ValueError:
            planned = None
    run_time = getattr(environment.parsed_options, "run_time", None)
    if run_time:
        planned = min(planned, float(run_time)) if planned else float(run_time)
    return planned


def describe_state(result: ThresholdResult) -> str:
    """The point estimate (what k6 would say), and the confident state beside it while they differ."""
    if result.estimate is None or result.estimate == result.state:
        return result.state
    return f"{result.estimate} ({result.state.lower()})"


def _latest_verdict(environment: Any) -> Verdict | None:
    """The gate's latest live verdict (None without a gate, or before its first evaluation)."""
    gate = context_of(environment).gate
    return gate.verdict if gate is not None else None


def slo_states(environment: Any) -> str:
    """Each SLO row's state in the gate's latest live evaluation (empty before the first one)."""
    verdict = _latest_verdict(environment)
    results = verdict.thresholds if verdict is not None else ()
    if not results:
        return ""
    judged = [r for r in results if r.state != NO_DATA]
    waiting = len(results) - len(judged)
    parts = [f"{r.row} {r.expression} {describe_state(r)}" for r in judged[:ROW_LIMIT]]
    if len(judged) > ROW_LIMIT:
        parts.append(f"+{len(judged) - ROW_LIMIT} more")
    if waiting:
        parts.append(f"{waiting} rows no data yet")
    return "SLO: " + "; ".join(parts)


def _current_percentile(entry: Any, fraction: float) -> float | None:
    """The last ~10 s's percentile where Locust keeps that window, else since the start."""
    if not entry.num_requests:
        return None
    if entry.use_response_times_cache:
        return entry.get_current_response_time_percentile(fraction)
    return entry.get_response_time_percentile(fraction)


def llm_figures(stats: Any) -> tuple[float, str]:
    """The requests/s of the ``LLM`` measurement entries (to leave out of requests/s) and, when there
    are any, ``LLM: TTFT p95 212 ms, ITL p99 41 ms, 310.0 chunks/s`` (each the busiest path's)."""
    llm = [e for (_, method), e in stats.entries.items() if method == LLM_METHOD]
    if not llm:
        return 0.0, ""

    def busiest(key: str) -> Any:
        prefix = LLM_TRENDS[key] + " "
        found = [e for e in llm if e.name.startswith(prefix)]
        return max(found, key=lambda e: e.num_requests) if found else None

    parts = []
    for key, label, fraction in (("llm_ttft", "TTFT p95", 0.95), ("llm_itl", "ITL p99", 0.99)):
        entry = busiest(key)
        value = _current_percentile(entry, fraction) if entry is not None else None
        if value is not None:
            parts.append(f"{label} {value:.0f} ms")
    chunk_entries = [e for e in llm if e.name.startswith((LLM_TRENDS["llm_ttft"] + " ", LLM_TRENDS["llm_itl"] + " "))]
    parts.append(f"{sum(e.current_rps for e in chunk_entries):.1f} chunks/s")
    return sum(e.current_rps for e in llm), "LLM: " + ", ".join(parts)


def progress_line(environment: Any, elapsed_s: float) -> str:
    runner = environment.runner
    planned = planned_seconds(environment)
    clock = format_clock(elapsed_s) + (f"/{format_clock(planned)}" if planned else "")
    llm_rps, llm = llm_figures(runner.stats) if runner is not None else (0.0, "")
    rps = max(0.0, runner.stats.total.current_rps - llm_rps) if runner is not None else 0.0
    users = runner.user_count if runner is not None else 0
    line = f"[progress] {clock} | {users} users | {rps:.1f} req/s" + (f" | {llm}" if llm else "")
    verdict = _latest_verdict(environment)
    model = verdict.open_model if verdict is not None else None
    if model is not None:  # the open model: iterations started against the plan, and what fell behind
        line += (f" | iterations {format_rate(model.achieved_rate)} of {format_rate(model.target_rate)}, "
                 f"{model.late} late, {model.dropped} dropped")
    states = slo_states(environment)
    return f"{line} | {states}" if states else line


class _Progress:
    def __init__(self, environment: Any, every_s: float) -> None:
        self.environment = environment
        self.every_s = every_s
        self.greenlet: gevent.Greenlet | None = None
        self.started = time.monotonic()

    def start(self, **_: Any) -> None:
        self.started = time.monotonic()
        if self.greenlet is None:
            self.greenlet = gevent.spawn(self._loop)

    def stop(self, **_: Any) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
            self.greenlet = None

    def _loop(self) -> None:
        while True:
            gevent.sleep(self.every_s)
            try:
                line = progress_line(self.environment, time.monotonic() - self.started)
            except Exception as exc:  # a view must never end a run
                line = f"[progress] unavailable: {exc}"
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    options = environment.parsed_options
    every = float(getattr(options, "progress_every", 0.0) or 0.0) if options is not None else 0.0
    if every <= 0 or isinstance(runner or environment.runner, WorkerRunner):
        return
    progress = _Progress(environment, every)
    environment.events.test_start.add_listener(progress.start)
    environment.events.test_stop.add_listener(progress.stop)
    environment.events.quitting.add_listener(progress.stop)
