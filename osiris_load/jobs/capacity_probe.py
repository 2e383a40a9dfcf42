"""One probe of the capacity search: a real headless Locust run of the scenario in open mode.

The run writes its verdict (``PREFIX_slo.json``) into the search's folder; the probe reads it back
with :func:`osiris_load.core.slo.verdict.from_json` and copies what the gate decided into a
:class:`~osiris_load.core.capacity.model.ProbeResult`: nothing is judged again, no expression is parsed. The child
runs in its own process group (``osiris_load.jobs.supervisor``) and is registered with the job, so a stop
signal stops it with everything else; its output goes to ``PREFIX.log``, not to the console.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from osiris_load.core.capacity.model import GeneratorProcess, ProbeResult, ProbeThreshold
from osiris_load.core.exit_codes import EXIT_BAD_INPUT
from osiris_load.core.slo.gate_options import ENV_VAR
from osiris_load.core.slo.generator import worst_process
from osiris_load.core.slo.verdict import Verdict, VerdictFormatError, from_json
from osiris_load.jobs.supervisor import free_port

__all__ = ["STOP_TIMEOUT_S", "LocustProbe", "ProbeError", "ProbeSettings", "probe_environment", "probe_result"]

STOP_TIMEOUT_S = 30.0
"""A probe's default ``--stop-timeout``, k6's default ``gracefulStop``: see :attr:`ProbeSettings.stop_timeout_s`."""

_TAIL_LINES = 12


class ProbeError(RuntimeError):
    """A probe's run ended without a verdict; ``code`` is its exit code, the message its log's tail."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ProbeSettings:
    locustfile: Path
    url: str
    out: Path
    arrivals: str = "poisson"
    max_vus: int | None = None
    workers: int | None = None
    slo_file: Path | None = None
    confidence: str | None = None
    window: str | None = None
    stop_timeout_s: float = STOP_TIMEOUT_S
    """Locust's ``--stop-timeout`` for each probe: the iterations running at its end finish and are
    judged, and the target has served what the probe sent before the next probe starts (cut at
    once, an overloaded probe left its queue to the next one: the confirmation after three probes
    above the capacity began 70 requests behind and FAILed at 95 % of the capacity)."""


def probe_result(verdict: Verdict, *, rate: float, duration_s: float, elapsed_s: float, attempt: int,
                 files: str | None, exit_code: int | None) -> ProbeResult:
    """The search's view of one verdict (its ``open_model`` block gives the arrivals and goodput;
    ``None`` there when the run was not in open mode; its ``generator`` section the worst process, and
    which thresholds the gate found generator-bound)."""
    model = verdict.open_model
    worst = worst_process(verdict.generator)
    generator = None if worst is None else GeneratorProcess.of(worst)
    return ProbeResult(rate=rate, duration_s=duration_s, elapsed_s=elapsed_s, state=verdict.state, attempt=attempt,
                       thresholds=tuple(ProbeThreshold.of(t) for t in verdict.thresholds),
                       achieved_rate=None if model is None else model.achieved_rate,
                       late=None if model is None else model.late, dropped=None if model is None else model.dropped,
                       goodput=None if model is None else model.goodput, exit_code=exit_code,
                       dispatch_late_max_ms=None if model is None else model.dispatch_late_max_ms,
                       confidence=verdict.confidence, files=files,
                       generator_bound=tuple(f"{t.row} {t.expression}" for t in verdict.thresholds
                                             if t.generator_bound),
                       generator=generator)


class LocustProbe:
    """``probe(rate, duration_s, attempt)`` for :func:`osiris_load.core.capacity.search.search`.

    ``run_child(command, env, log)`` runs one child to its end and returns its exit code (the job's,
    so that a stop signal reaches it); ``on_result`` is told each result (the console line)."""

    def __init__(self, settings: ProbeSettings, run_child: Callable[[list[str], dict[str, str], Path], int],
                 on_result: Callable[[int, ProbeResult], None] | None = None) -> None:
        self.settings = settings
        self.run_child = run_child
        self.on_result = on_result
        self.count = 0

    def command(self, rate: float, seconds: int, prefix: Path) -> list[str]:
        s = self.settings
        command = [sys.executable, "-m", "locust", "-f", str(s.locustfile), "--headless", "--host", s.url,
                   "--csv", str(prefix), "--only-summary", "-t", f"{seconds}s", "--arrival-rate", f"{rate:.6g}",
                   "--arrivals", s.arrivals]
        if s.max_vus:
            command += ["--max-vus", str(s.max_vus)]
        if s.stop_timeout_s:
            command += ["--stop-timeout", str(math.ceil(s.stop_timeout_s))]  # Locust takes whole seconds
        if s.workers:
            # Locust's master would bind every interface on its fixed default port (5557): two probes
            # with workers at once (other searches, other tools) would collide, and it would listen
            # beyond loopback. A free loopback port per probe, for the master and its forked workers.
            port = str(free_port())
            command += ["--processes", str(s.workers), "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                        "--master-host", "127.0.0.1", "--master-port", port]
        if s.slo_file:
            command += ["--slo-file", str(s.slo_file)]
        return command

    def __call__(self, rate: float, duration_s: float, attempt: int) -> ProbeResult:
        self.count += 1
        seconds = max(1, math.ceil(duration_s))
        name = f"probe-{self.count:02d}-{rate:.4g}rps" + (f"-try{attempt}" if attempt > 1 else "")
        prefix = self.settings.out / name
        env = probe_environment(self.settings, os.environ)
        log = Path(f"{prefix}.log")  # not with_suffix: "probe-04-35.78rps" has a dot of its own
        started = time.monotonic()
        code = self.run_child(self.command(rate, seconds, prefix), env, log)
        elapsed = time.monotonic() - started
        verdict_path = Path(f"{prefix}_slo.json")
        try:
            verdict = from_json(verdict_path.read_text(encoding="utf-8"), str(verdict_path))
        except (OSError, VerdictFormatError) as exc:
            tail = _tail(log)
            kind = "bad configuration" if code == EXIT_BAD_INPUT else "no verdict"
            raise ProbeError(f"probe at {rate:.4g}/s ended with exit code {code} and {kind} ({exc}); "
                             f"the end of {log}:\n{tail}", code) from None
        result = probe_result(verdict, rate=rate, duration_s=float(seconds), elapsed_s=elapsed, attempt=attempt,
                              files=name, exit_code=code)
        if self.on_result:
            self.on_result(self.count, result)
        return result


def probe_environment(settings: ProbeSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a probe's Locust run: ``environ`` with the search's target and gate options
    (which win over the user's ``OSIRIS_SLO_*``); also what ``osiris-load capacity`` checks up front."""
    env = {**environ, "OSIRIS_URL": settings.url, "PYTHONUNBUFFERED": "1"}
    if settings.confidence is not None:
        env[ENV_VAR["slo_confidence"]] = settings.confidence
    if settings.window is not None:
        env[ENV_VAR["slo_window"]] = settings.window
    return env


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "  (no log)"
    return "\n".join(f"  {line}" for line in lines[-_TAIL_LINES:])

