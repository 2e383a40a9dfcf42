"""Progress lines for a headless Locust run: a Locust plugin the main job loads beside the scenario.

``osiris-load run`` passes ``-f SCENARIO.py,.../progress_plugin.py --progress-every N``; on the
master (or the local runner) this prints one line every N seconds instead of silence
(``--only-summary``): elapsed of planned time, users, requests/s, in an open-model run the
iterations started per second against the plan's and the late and dropped ones, and the state of
each SLO row from the gate's latest live evaluation. In an LLM run (``locustfiles/openai_chat.py``)
requests/s counts the answers (each streamed answer is one Locust request), and the line adds the
gate's TTFT p95, ITL p99 and streamed chunks per second since the start (one token each where the
server sends one per chunk: the sidecar, vLLM). A thin view: it reads what Locust and the gate already
computed, judges nothing itself, and runs off the request path (one greenlet, every N seconds).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import gevent
from locust import events
from locust.runners import WorkerRunner

from osiris_load.adapter.context import context_of
from osiris_load.core.slo.formatting import format_rate
from osiris_load.core.slo.k6_metrics import LLM_METHOD, LLM_TRENDS
from osiris_load.core.slo.verdict import NO_DATA, ThresholdResult, Verdict

if TYPE_CHECKING:  # pragma: no cover - the type only
    from osiris_load.adapter.gate.core import Gate

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


def llm_figures(gate: Gate | None) -> str:
    """``LLM: TTFT p95 212 ms, ITL p99 41 ms, 310.0 chunks/s`` from the gate's recorder (the LLM
    measurements are no Locust entries): since the start (or the last stats reset), each percentile
    the busiest entry's (path and user class), chunks = first chunks + gaps. Empty without them."""
    if gate is None:
        return ""
    recorder = gate.recorder
    counts = {name: n for (method, name), n in recorder.key_counts().items() if method == LLM_METHOD}
    if not counts:
        return ""
    parts = []
    chunks = 0
    for key, label, p in (("llm_ttft", "TTFT p95", 95.0), ("llm_itl", "ITL p99", 99.0)):
        found = [name for name in counts if name.startswith(LLM_TRENDS[key] + " ")]
        chunks += sum(counts[name] for name in found)
        stats = recorder.stats(LLM_METHOD, max(found, key=counts.__getitem__)) if found else None
        if stats is not None and stats.timed:
            parts.append(f"{label} {stats.percentile(p):.0f} ms")
    elapsed = gate.elapsed_s()
    parts.append(f"{chunks / elapsed if elapsed > 0 else 0.0:.1f} chunks/s")
    return "LLM: " + ", ".join(parts)


def progress_line(environment: Any, elapsed_s: float) -> str:
    runner = environment.runner
    planned = planned_seconds(environment)
    clock = format_clock(elapsed_s) + (f"/{format_clock(planned)}" if planned else "")
    llm = llm_figures(context_of(environment).gate)
    rps = runner.stats.total.current_rps if runner is not None else 0.0
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
