"""Output: where the gate speaks, the files it writes, the exit code and the console summary.

* The verdict object (``osiris_load.core.slo.verdict``) is written as ``PREFIX_slo.json`` (and
  ``_slo.csv``, ``_slo_endpoints.csv``) and printed after Locust's tables (to stderr when ``--json``
  owns stdout).
* Exit codes (the gate never lowers one): 2 a malformed SLO file or option (before any test) > 99 an
  SLO failed > 98 INCONCLUSIVE under ``--slo-inconclusive fail`` > Locust's own (1 for exceptions in
  user code, 2 for an error in a plugin...) > 0. Failed requests are judged by the SLO table alone.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

from locust import log as locust_log
from locust.env import Environment
from locust.runners import Runner

from osiris_load.adapter.final_csv import write_final_locust_csv
from osiris_load.adapter.selection import option
from osiris_load.core.slo.formatting import format_summary
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.verdict import UserExceptions, Verdict, choose_exit_code, to_csv, to_json

ENDPOINT_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
ENDPOINT_FIELDS = ("method", "name", "count", "failures", "avg_ms", "min_ms", "max_ms",
                   *(f"p{p:g}_ms" for p in ENDPOINT_PERCENTILES))


def stream(environment: Environment) -> Any:
    """Where the gate speaks: stdout, or stderr when ``--json`` makes stdout a JSON document."""
    return sys.stderr if option(environment, "json", False) else sys.stdout


def say(environment: Environment, text: str) -> None:
    out = stream(environment)
    out.write("\n" + text.rstrip("\n") + "\n")
    out.flush()


def endpoint_csv(recorder: RequestRecorder) -> str:
    """Exact per-endpoint statistics (HDR, 3 significant digits), for reports."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ENDPOINT_FIELDS)
    for method, name in sorted(recorder.keys()):
        stats = recorder.stats(method, name)
        if stats is None:
            continue
        timed = stats.timed > 0
        writer.writerow([method, name, stats.count, stats.failures,
                         round(stats.sum_ms / stats.timed, 3) if timed else "",
                         round(stats.min_ms, 3) if timed else "", round(stats.max_ms, 3) if timed else "",
                         *((round(stats.percentile(p), 3) if timed else "") for p in ENDPOINT_PERCENTILES)])
    return out.getvalue()


def write_files(prefix: str, verdict: Verdict, recorder: RequestRecorder, llm_history: str = "") -> None:
    """``PREFIX_slo.json`` (the verdict), ``PREFIX_slo.csv`` (its export), ``PREFIX_slo_endpoints.csv``,
    and where streamed answers were measured ``PREFIX_llm_history.csv`` (``core.slo.llm_history``)."""
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    Path(f"{prefix}_slo.json").write_text(to_json(verdict), encoding="utf-8")
    Path(f"{prefix}_slo.csv").write_text(to_csv(verdict), encoding="utf-8")
    Path(f"{prefix}_slo_endpoints.csv").write_text(endpoint_csv(recorder), encoding="utf-8")
    if llm_history:
        Path(f"{prefix}_llm_history.csv").write_text(llm_history, encoding="utf-8")


def user_exceptions(runner: Runner | None) -> UserExceptions:
    """Unhandled exceptions in user code that Locust collected (the master has the workers' too)."""
    rows = list(runner.exceptions.values()) if runner is not None else []
    if not rows:
        return UserExceptions()
    count = sum(int(r.get("count", 0)) for r in rows)
    first = rows[0]
    lines = [line.strip() for line in str(first.get("traceback", "")).splitlines() if line.strip()]
    where = [i for i, line in enumerate(lines) if line.startswith("File")]
    text = str(first.get("msg", "")).strip() or "(no message)"
    if where:  # the innermost frame: where it was raised, and the line of code
        frame = lines[where[-1]] + (f": {lines[where[-1] + 1]}" if where[-1] + 1 < len(lines) else "")
        text += f" ({frame})"
    return UserExceptions(count=count, first=text)


def settle_exit_code(environment: Environment, verdict: Verdict, recorder: RequestRecorder,
                     llm_history: str = "") -> Verdict:
    """The run's exit code from the verdict and what Locust and the other plugins left (set on
    ``environment.process_exit_code``, Locust's own way), then the files; the verdict with its code."""
    code = choose_exit_code(slo_failed=not verdict.passed, inconclusive=verdict.inconclusive_exit,
                            preset=environment.process_exit_code,
                            user_exceptions=verdict.exceptions.count,
                            unhandled=bool(locust_log.unhandled_greenlet_exception),
                            code_on_error=int(option(environment, "exit_code_on_error", 1) or 1))
    environment.process_exit_code = code
    verdict = verdict.with_exit_code(code)
    prefix = option(environment, "csv_prefix")
    if prefix:
        write_files(prefix, verdict, recorder, llm_history)
    return verdict


def print_summary(environment: Environment, verdict: Verdict) -> None:
    """Print the summary last, after Locust's own tables, where k6 prints its thresholds."""
    prefix = option(environment, "csv_prefix")
    if prefix:
        write_final_locust_csv(environment, prefix)
    text = format_summary(verdict, ascii_only=not _is_utf8(stream(environment)))
    word = "FAILED" if not verdict.passed else "INCONCLUSIVE" if verdict.inconclusive_exit else "PASSED"
    text += f"\nSLO gate: {word} (exit code {verdict.exit_code}"
    if verdict.confidence:
        text += f"; run state {verdict.state}, exit policy --slo-inconclusive {verdict.policy}"
    text += ")\n"
    say(environment, text)


def _is_utf8(out: Any) -> bool:
    return (getattr(out, "encoding", None) or "").lower().replace("-", "") == "utf8"
