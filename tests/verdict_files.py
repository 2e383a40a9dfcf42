"""Read the gate's verdict object (``PREFIX_slo.json``) in tests, keyed by (row, expression)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from osiris_load.core.slo.verdict import from_json

WORDS = {"PASS": "pass", "FAIL": "fail", "INCONCLUSIVE": "inconclusive", "NO_DATA": "no data"}


def read_verdict_rows(prefix: Path | str) -> dict[tuple[str, str], dict[str, Any]]:
    """One dict per threshold (``verdict`` the point estimate's pass/fail/no data, as k6 and the
    default exit policy judge; ``state`` with the interval: pass/fail/inconclusive/no data;
    ``samples`` the row's requests, ``observed``, ``result`` the object) and an ``("OVERALL", "")``
    entry (``verdict`` pass/fail as the exit code says, ``state`` the run's, ``samples`` the requests
    judged once, ``expression`` the reasons and notes one a line, ``verdict_object``)."""
    verdict = from_json(Path(f"{prefix}_slo.json").read_text(encoding="utf-8"))
    rows: dict[tuple[str, str], dict[str, Any]] = {
        (t.row, t.expression): {"verdict": WORDS[t.estimate or t.state], "state": WORDS[t.state],
                                "samples": t.requests, "observed": t.observed, "result": t}
        for t in verdict.thresholds}
    rows[("OVERALL", "")] = {"verdict": "pass" if verdict.passed else "fail", "state": WORDS[verdict.state],
                             "samples": verdict.tally.judged,
                             "expression": "\n".join(verdict.reasons + verdict.notes), "verdict_object": verdict}
    return rows
