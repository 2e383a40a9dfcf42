"""Typed, file-free data of one finished run, as the renderers see it.

The loader (``osiris_load.reports.load``) is the only code that touches files and pandas; everything that
renders (HTML, JUnit, JSON, comparison) takes these frozen dataclasses. Keeping that boundary
means every renderer can be tested on hand-built data and can never disagree with another about
how a CSV column is read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from osiris_load.core.slo import verdict as slo_verdict
from osiris_load.core.slo.expressions import format_number
from osiris_load.core.slo.formatting import (
    format_open_model,
    format_value,
)
from osiris_load.core.slo.table import request_matchers  # the gate's own rules (exact names, ``*`` wildcards)
from osiris_load.core.slo.verdict import ThresholdResult, Verdict

__all__ = [
    "FAIL",
    "INCONCLUSIVE",
    "NOT_JUDGED",
    "NO_DATA",
    "PASS",
    "PERCENTILES",
    "Endpoint",
    "ExceptionRow",
    "Failure",
    "Gate",
    "ReportError",
    "Run",
    "Scenario",
    "Series",
    "format_ms",
    "series_key",
    "verdict_word",
]

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"
NO_DATA = "no data"
# A scenario without ``_slo.json``: the gate never judged it (Locust crashed, or another tool ran
# it). It is neither a pass nor a fail of a threshold, but it must not make the run pass.
NOT_JUDGED = "not judged"

# The exact percentiles the gate writes to ``_slo_endpoints.csv`` (``p50_ms`` ... ``p99.9_ms``).
PERCENTILES: tuple[str, ...] = ("p50", "p90", "p95", "p99", "p99.9")



class ReportError(Exception):
    """Bad input for a report (missing folder, not a Locust CSV, empty run...).

    The message is one line meant for a person, printed as is by the CLI (exit code 2) and safe to
    show in the web UI: it names the file and what is wrong with it.
    """


def format_ms(value: float | None) -> str:
    """``962.16 ms``; ``-`` for missing values (an endpoint with no samples): the gate's formatter."""
    return format_value("ms", value)


_STATE_WORDS = {slo_verdict.PASS: PASS, slo_verdict.FAIL: FAIL, slo_verdict.INCONCLUSIVE: INCONCLUSIVE,
                slo_verdict.NO_DATA: NO_DATA}


def verdict_word(state: str) -> str:
    """A verdict state (``PASS``, ``NO_DATA``...) in the words the report's badges and summary.json use:
    pass / fail / inconclusive / no data."""
    return _STATE_WORDS[state]


def series_key(result: ThresholdResult) -> str | None:
    """Which history series (``p50``/``p95``/``p99``) a threshold of the verdict is about, if any."""
    if result.kind == "med":
        return "p50"
    if result.kind == "p" and result.arg in (50.0, 95.0, 99.0):
        return f"p{format_number(result.arg)}"
    return None


@dataclass(frozen=True)
class Gate:
    """The SLO gate's verdict object for one scenario (``_slo.json``): every view renders its
    thresholds (``ThresholdResult``) as they are, through the gate's one formatter."""

    verdict: Verdict

    @property
    def thresholds(self) -> tuple[ThresholdResult, ...]:
        return self.verdict.thresholds

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.verdict.reasons

    def count(self, verdict: str) -> int:
        return sum(1 for t in self.thresholds if verdict_word(t.state) == verdict)

    @property
    def open_model_text(self) -> str | None:
        """Open model: arrivals, target and achieved rates, late/dropped, goodput (one line); else None."""
        model = self.verdict.open_model
        return None if model is None else format_open_model(model)


@dataclass(frozen=True)
class Endpoint:
    """Statistics of one request name (``METHOD NAME``) over the whole scenario.

    Counts and latencies come from the gate's exact ``_slo_endpoints.csv`` when it exists
    (``exact=True``); otherwise from Locust's ``_stats.csv``, whose response times Locust rounds
    (up to ~5 %). ``rps`` is always Locust's (the gate does not time the run).
    """

    method: str
    name: str
    count: int
    failures: int
    rps: float
    failures_per_s: float
    avg_ms: float | None
    min_ms: float | None
    max_ms: float | None
    percentiles: dict[str, float | None] = field(default_factory=dict)  # keys: PERCENTILES
    exact: bool = False

    @property
    def key(self) -> str:
        """``GET /health``: the spelling of the SLO file, the JSON keys and the charts."""
        return f"{self.method} {self.name}".strip()

    @property
    def fail_rate(self) -> float:
        return self.failures / self.count if self.count else 0.0


@dataclass(frozen=True)
class Series:
    """One entity's history (an endpoint or the whole scenario), one point per Locust CSV tick.

    ``t`` is seconds since the scenario's first history row. ``rps`` and ``errors_per_s`` are
    derived from Locust's cumulative counters (requests in the interval / its length), which is
    exact per interval, unlike Locust's smoothed ``Requests/s`` column that lags 2 s and reads 0
    for the first seconds of a run (that column is used only where the counters are missing: the
    web UI's own history). Percentiles are Locust's: over the last ~10 s with
    ``--csv-full-history`` (``window="current"``), else since the start (``"cumulative"``); a
    ``None`` is a tick where Locust had no value yet.
    """

    t: tuple[float, ...]
    users: tuple[int, ...]
    rps: tuple[float | None, ...]
    errors_per_s: tuple[float | None, ...]
    p50: tuple[float | None, ...]
    p95: tuple[float | None, ...]
    p99: tuple[float | None, ...]
    window: str = "current"

    def __len__(self) -> int:
        return len(self.t)


@dataclass(frozen=True)
class Failure:
    """A line of ``_failures.csv``: Locust groups failures by (method, name, error)."""

    method: str
    name: str
    error: str  # as Locust wrote it, e.g. ``CatchResponseError('status 500: ...')``
    occurrences: int

    @property
    def message(self) -> str:
        """The error without Locust's ``ExceptionType('...')`` wrapper, for people."""
        text = self.error
        head, sep, rest = text.partition("(")
        if sep and head.isidentifier() and rest.endswith(")") and len(rest) >= 3 and rest[0] in "'\"" \
                and rest[-2] == rest[0]:
            return rest[1:-2].replace("\\'", "'")
        return text


@dataclass(frozen=True)
class ExceptionRow:
    """A line of ``_exceptions.csv``: an exception raised in user code (a locustfile bug)."""

    count: int
    message: str
    traceback: str
    nodes: str


@dataclass(frozen=True)
class Scenario:
    """Everything one Locust run (one ``--csv PREFIX``) left in the run folder."""

    name: str
    endpoints: tuple[Endpoint, ...]
    total: Endpoint | None
    gate: Gate | None
    history: Series | None = None  # the Aggregated rows
    endpoint_history: dict[str, Series] = field(default_factory=dict)  # Endpoint.key -> Series
    failures: tuple[Failure, ...] = ()
    exceptions: tuple[ExceptionRow, ...] = ()
    started_at: dt.datetime | None = None
    duration_s: float | None = None
    locust_html: str | None = None  # file name of Locust's own report, next to ours
    notes: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        """fail when the gate failed the run (its exit code), inconclusive when it passed it but a
        threshold is not settled (the run's state, whatever the exit policy), else pass."""
        if self.gate is None:
            return NOT_JUDGED
        if not self.gate.passed:
            return FAIL
        return INCONCLUSIVE if self.gate.verdict.state == slo_verdict.INCONCLUSIVE else PASS

    @property
    def request_count(self) -> int:
        if self.total is not None:
            return self.total.count
        return sum(e.count for e in self.endpoints)

    @property
    def max_users(self) -> int:
        return max(self.history.users, default=0) if self.history is not None else 0

    def thresholds_for(self, endpoint: Endpoint) -> tuple[ThresholdResult, ...]:
        """The thresholds whose SLO row pools this endpoint (the row's ``requests`` column)."""
        if self.gate is None:
            return ()
        return tuple(t for t in self.gate.thresholds if request_matchers(t.patterns)(endpoint.method, endpoint.name))


@dataclass(frozen=True)
class Run:
    """A run folder: the scenarios in it, in a stable order (the suite's, then alphabetical)."""

    path: Path
    scenarios: tuple[Scenario, ...]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def verdicts(self) -> dict[str, Verdict | None]:
        """Each scenario's verdict object (``None``: the gate wrote none): what the run's one headline
        (``core.slo.formatting.run_headline``) is made of."""
        return {s.name: s.gate.verdict if s.gate else None for s in self.scenarios}

    @property
    def verdict(self) -> str:
        """FAIL if any scenario failed, NOT_JUDGED if one was not judged, INCONCLUSIVE if one is, else
        PASS: a run passes only when the gate judged every scenario and all of them held."""
        verdicts = {s.verdict for s in self.scenarios}
        if FAIL in verdicts:
            return FAIL
        if NOT_JUDGED in verdicts or not verdicts:
            return NOT_JUDGED
        return INCONCLUSIVE if INCONCLUSIVE in verdicts else PASS
