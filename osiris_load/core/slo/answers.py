"""One streamed answer's measurements into the gate's recorders: TTFT, every inter-token gap, TPOT
and E2EL, each a sample (method ``LLM``) of the answer's one request.

Pure (no Locust), so the rules are tested without a run; ``osiris_load.adapter.gate.recording``
calls it with the recorders of its process. The rules are those of a request (``Recording.on_request``):

* closed model: each value as measured, into the judged recorder;
* open model (``iteration``): TTFT and E2EL judged at their time plus the iteration's lateness (the
  user waited for the late start), the measured time in ``uncorrected``; the gaps and TPOT as
  measured in both (a late start delays no gap); each sample beyond its rows' limits makes the
  iteration not good (goodput), as a request beyond its limit does;
* once the generator stalled (``chargeable``): each sample at its judged time less ``bound_ms``, the
  stalls that overlapped the answer (a bound on what the generator added to any one of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from osiris_load.core.slo.k6_metrics import LLM_METHOD
from osiris_load.core.slo.recorder import RequestRecorder

__all__ = ["record_answer"]


class IterationLike(Protocol):
    """The open model's running iteration (``osiris_load.core.openmodel.counts.Iteration``)."""

    lateness_ms: float
    good: bool


class GoodputLike(Protocol):
    """``osiris_load.core.openmodel.counts.GoodputPlan``: whether one sample meets its rows' limits."""

    def meets(self, method: str, name: str, latency_ms: float) -> bool: ...


def record_answer(recorder: RequestRecorder, names: tuple[str, str, str, str], ttft_ms: float,
                  gaps_ms: Sequence[float], tpot_ms: float | None, e2e_ms: float, *,
                  iteration: IterationLike | None = None, uncorrected: RequestRecorder | None = None,
                  goodput: GoodputLike | None = None, chargeable: RequestRecorder | None = None,
                  bound_ms: float = 0.0) -> None:
    """Record one whole answer (``names``: the recorder names of its TTFT, ITL, TPOT and E2EL), by
    the rules of the module docstring; ``uncorrected`` and ``goodput`` are needed with ``iteration``."""
    ttft, itl, tpot, e2el = names
    lateness = iteration.lateness_ms if iteration is not None else 0.0
    for name, values, late in ((ttft, (ttft_ms,), lateness), (e2el, (e2e_ms,), lateness), (itl, gaps_ms, 0.0),
                               (tpot, (tpot_ms,) if tpot_ms is not None else (), 0.0)):
        if not values:
            continue
        judged = [v + late for v in values] if late else values
        recorder.record_values(LLM_METHOD, name, judged)
        if iteration is not None:
            assert uncorrected is not None and goodput is not None
            uncorrected.record_values(LLM_METHOD, name, values)
            if iteration.good and not goodput.meets(LLM_METHOD, name, max(judged)):
                iteration.good = False
        if chargeable is not None:
            chargeable.record_values(LLM_METHOD, name, [max(0.0, v - bound_ms) for v in judged] if bound_ms else judged)
