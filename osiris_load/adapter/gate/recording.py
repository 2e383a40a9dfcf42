"""Recording: the gate's recorders of one process, and where users run (a local runner or a worker)
the ``request`` listener that fills them: the per-request hot path.

* Every request goes into the judged recorder (``osiris_load.core.slo.recorder``), which counts
  exactly at every latency limit of the table.
* **Open model**: a request whose event ``context`` carries its iteration
  (``osiris_load.core.openmodel.counts.ITERATION_KEY``) is recorded at ``latency + the iteration's
  lateness`` in the judged recorder, and as measured in ``uncorrected``; each request also decides
  whether its iteration is good (goodput, ``GoodputPlan``: one dict lookup and two compares).
* **Generator health** (``osiris_load.adapter.generator_monitor``): once the event loop first
  stalled, each request also goes into ``chargeable`` at its judged time less the stalls that
  overlapped it (failures without an HTTP answer during a stall excused). Before any stall it would
  equal the judged recorder, so it is not kept (a clone of the judged one starts it).
* **Iterations** (k6's ``iteration_duration``): ``OsirisUser`` times each run of a task and calls
  :meth:`Recording.record_iteration`: no Locust request event, a reserved recorder key.
* **Streamed answers** (``LlmUser``): the answer is one Locust request (its event comes here as any);
  its TTFT, every inter-token gap, TPOT and E2EL come through :meth:`Recording.record_answer` and
  its tokens through :meth:`Recording.record_tokens`, straight into the recorders (no Locust event),
  so a worker ships them with the rest of its report.

On the master no user runs: the same recorders hold the workers' reports, merged
(``osiris_load.adapter.gate.distributed``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from osiris_load.adapter.generator_monitor import GeneratorMonitor
from osiris_load.core.openmodel.counts import ITERATION_KEY, GoodputPlan, Iteration
from osiris_load.core.slo.answers import record_answer
from osiris_load.core.slo.recorder import RecorderPlan, RequestRecorder


class Recording:
    """The recorders of one process (judged, uncorrected, chargeable), the goodput plan and, where
    users run, this process's own health monitor."""

    def __init__(self, plan: RecorderPlan | None = None) -> None:
        self.recorder = RequestRecorder(plan)
        self.uncorrected = RequestRecorder(plan)  # open model: the measured latencies
        # what the server can be charged with (judged time less the generator's stalls); None until a stall
        self.chargeable: RequestRecorder | None = None
        self.goodput = GoodputPlan()
        self.monitor: GeneratorMonitor | None = None  # where users run: this process's own health

    def reset(self, plan: RecorderPlan | None, *, chargeable: bool) -> None:
        """Empty recorders on ``plan`` (a new test); ``chargeable``: keep one from the start (the master)."""
        self.recorder = RequestRecorder(plan)
        self.uncorrected = RequestRecorder(plan)
        self.chargeable = RequestRecorder(plan) if chargeable else None

    def reset_stats(self, *, chargeable: bool) -> None:
        """Locust's statistics were reset: so are the counts (the plan stays)."""
        self.recorder.reset()
        self.uncorrected.reset()
        if self.chargeable is not None:
            self.chargeable = RequestRecorder(self.recorder.plan) if chargeable else None

    def start_monitor(self, process: str, user_count: Callable[[], int],
                      say: Callable[[float, float], None] | None) -> None:
        """This process runs users: measure its own health from now (a new test starts over)."""
        if self.monitor is None:
            self.monitor = GeneratorMonitor(process, user_count, say)
        self.monitor.start()

    # -- the per-request hot path: the recorder only (open model: both recorders and goodput) --
    def on_request(self, request_type: str, name: str, response_time: float | None, exception: Any = None,
                   response: Any = None, context: Any = None, **_: Any) -> None:
        failed = exception is not None
        # the table filters by status or outcome (k6's {status:...}, expected_response): keys carry the code
        status = (getattr(response, "status_code", 0) or 0) if self.recorder.split else None
        iteration = context.get(ITERATION_KEY) if context else None
        judged = response_time
        if iteration is not None:
            self.uncorrected.record(request_type, name, response_time, failed, status)
            if response_time is None:
                if failed:
                    iteration.good = False
            else:
                judged = response_time + iteration.lateness_ms
                if iteration.good and (failed or not self.goodput.meets(request_type, name, judged)):
                    iteration.good = False
        monitor = self.monitor
        bound = monitor.health.bound_ms(judged) if monitor is not None else 0.0
        if bound or self.chargeable is not None:
            self._record_chargeable(request_type, name, judged, failed, status, bound, response)
        self.recorder.record(request_type, name, judged, failed, status)

    def _record_chargeable(self, request_type: str, name: str, judged: float | None, failed: bool,
                           status: int | None, bound: float, response: Any) -> None:
        """The request at what the server can be charged with: its judged time less ``bound`` (the
        generator's stalls that overlapped it); a failure without an HTTP answer (connection error,
        client timeout) during a stall is excused. The first stall starts the recorder as a copy
        of the judged one (before this request), which it equalled until then."""
        charged = judged if judged is None or not bound else max(0.0, judged - bound)
        excused = failed and bound > 0 and not (getattr(response, "status_code", 0) or 0)
        self._chargeable().record(request_type, name, charged, failed and not excused, status)

    def _chargeable(self) -> RequestRecorder:
        """The chargeable recorder, started at the first stall as a copy of the judged one."""
        chargeable = self.chargeable
        if chargeable is None:
            chargeable = self.chargeable = RequestRecorder(self.recorder.plan, self.recorder.max_keys)
            chargeable.merge_encoded(self.recorder.encode())
        return chargeable

    def record_answer(self, names: tuple[str, str, str, str], ttft_ms: float, gaps_ms: Sequence[float],
                      tpot_ms: float | None, e2e_ms: float, iteration: Iteration | None) -> None:
        """One whole streamed answer's TTFT, inter-token gaps, TPOT and E2EL (``names``: their recorder
        names, method ``LLM``), from ``LlmUser`` after the answer's own request event: samples of that
        one request, every gap one sample, corrected under the open model (``iteration``) and bounded
        for the generator's stalls as ``osiris_load.core.slo.answers.record_answer`` says."""
        monitor = self.monitor
        bound = (monitor.health.share_ms(e2e_ms + (iteration.lateness_ms if iteration is not None else 0.0))
                 if monitor is not None else 0.0)
        record_answer(self.recorder, names, ttft_ms, gaps_ms, tpot_ms, e2e_ms, iteration=iteration,
                      uncorrected=self.uncorrected, goodput=self.goodput,
                      chargeable=self._chargeable() if bound or self.chargeable is not None else None, bound_ms=bound)

    def record_iteration(self, scenario: str, duration_ms: float, open_model: bool) -> None:
        """One iteration's wall time (k6's ``iteration_duration``), from ``OsirisUser``: measured,
        never corrected, so under the open model it goes as is into both recorders. No Locust
        request event: it is in no request figure (``RequestRecorder.record_iteration``)."""
        self.recorder.record_iteration(scenario, duration_ms)
        if open_model:
            self.uncorrected.record_iteration(scenario, duration_ms)
        if self.chargeable is not None:  # as measured: the generator's share of an iteration is not bounded
            self.chargeable.record_iteration(scenario, duration_ms)

    def record_tokens(self, output_name: str, output: int, input_name: str, input_tokens: int | None,
                      open_model: bool) -> None:
        """One whole answer's tokens (``llm_output_tokens``, ``llm_input_tokens``), from ``LlmUser``:
        counts, never corrected, so as is into every recorder, as :meth:`record_iteration`."""
        for recorder in (self.recorder, self.uncorrected if open_model else None, self.chargeable):
            if recorder is not None:
                recorder.record_tokens(output_name, output)
                if input_tokens is not None:
                    recorder.record_tokens(input_name, input_tokens)
