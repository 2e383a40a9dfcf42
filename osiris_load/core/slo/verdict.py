"""The verdict object: everything the gate decided, once, as data. Every view renders it.

The gate writes it as ``PREFIX_slo.json`` (schema ``osiris-load/slo-verdict``, version
:data:`VERSION`, documented in ``docs/slo-file.md``); ``PREFIX_slo.csv`` is an export of it
(:func:`csv_rows`); the console summary, the reports and the web UI tab read the object and never
parse a threshold expression or judge again. :func:`from_json` reads back exactly what
:func:`to_json` wrote (no text round trip loses anything: reasons are lists, numbers are numbers).

Each threshold carries the exact counts its state was decided on (``n``, and for percentiles the
``rank`` and the counts ``below``/``at`` the limit and ``beyond`` it; for rates ``failures`` and
``successes``), a ``state`` (:data:`STATES`) rather than a boolean, the point estimate's own state
(``estimate``: what k6 would say), and, when the gate judges with a confidence
(``--slo-confidence``, ``osiris_load.core.slo.confidence``), the ``interval`` it rests on and, while it is
INCONCLUSIVE, the ``requests_needed`` and ``seconds_needed`` that would settle it if the observed
shares held. Version 2 added those (and ``INCONCLUSIVE``, ``confidence``, ``policy``, ``looks``).

Version 3 added the open model (``--arrival-rate``, docs/open-model.md): a top-level ``open_model``
object (:class:`OpenModelSummary`; null for closed-model runs) and, on each threshold,
``uncorrected_observed``: the same aggregate over the measured latencies, while ``observed`` (and
the state) are over the latencies corrected for late starts. Versions 1 and 2 read as closed-model.

Version 4 added the load generator's own health (issue 17, docs/verdicts.md "The generator's own
delays"): a top-level ``generator`` list (:class:`ProcessHealth`, one per process that ran users)
and, on each threshold, ``chargeable_observed`` (the same aggregate over what the server can be
charged with: each request's time less the generator's stalls that overlapped it) and
``generator_bound`` (the measured and the chargeable times disagree: INCONCLUSIVE, the reason
names the process). Versions 1 to 3 read with no generator section.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from osiris_load.core.exit_codes import EXIT_INCONCLUSIVE, EXIT_LOCUST_ERROR, EXIT_OK, EXIT_SLO_FAILED

__all__ = [
    "FAIL",
    "INCONCLUSIVE",
    "NO_DATA",
    "PASS",
    "SCHEMA",
    "STATES",
    "VERSION",
    "Goodput",
    "LostWorkerInfo",
    "OpenModelSummary",
    "ProcessHealth",
    "RequestTally",
    "ThresholdResult",
    "UserExceptions",
    "Verdict",
    "VerdictFormatError",
    "choose_exit_code",
    "csv_rows",
    "to_csv",
    "from_json",
    "health_to_dict",
    "to_json",
]

SCHEMA = "osiris-load/slo-verdict"
VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)  # 1: no intervals (confidence 0); 1 and 2: no open model (closed-model runs)

PASS = "PASS"
FAIL = "FAIL"
INCONCLUSIVE = "INCONCLUSIVE"
NO_DATA = "NO_DATA"
STATES = (PASS, FAIL, INCONCLUSIVE, NO_DATA)

CSV_FIELDS = ("row", "requests", "expression", "state", "estimate", "observed", "unit", "limit", "n", "beyond",
              "interval_low", "interval_high", "confidence", "design_effect", "requests_needed", "seconds_needed",
              "reason", "uncorrected_observed", "chargeable_observed", "generator_bound")


class VerdictFormatError(ValueError):
    """A verdict file that is not this schema and version; the message names what is wrong."""


@dataclass(frozen=True)
class ThresholdResult:
    """One threshold of one row, judged.

    ``observed`` is the aggregate in ``unit`` (``ms``, ``ratio``, ``requests``, ``iterations`` or
    ``requests/s``), ``None`` exactly when ``state`` is NO_DATA; for percentiles it is the
    histogram's value, placed on the side of the limit that the exact counts decided. ``requests``
    counts the row's requests (once each; an ``iteration_duration`` row's iterations); ``n`` the
    samples the aggregate is over (timed requests for latency). ``beyond`` is the number
    of samples on the failing side of the limit for a percentile (``p(q) < L`` holds iff
    ``beyond <= n - rank``), the failures for ``rate`` and ``fail_rate``.

    ``state`` is the confident state (PASS/FAIL only when the whole ``interval`` is on one side of
    the limit, else INCONCLUSIVE); ``estimate`` the point estimate's (PASS/FAIL, ``None`` for NO
    DATA). Without a confidence (0) both are the same. ``interval`` is ``(low, high)`` in ``unit``,
    an end ``None`` where the samples bound nothing on that side (a percentile beyond the largest
    or smallest sample); ``None`` for ``min``/``max``/``count`` (facts of the run) and when off.
    ``reason`` says why the point estimate (or the interval) fails the threshold.
    """

    row: str
    patterns: tuple[str, ...]
    expression: str
    kind: str
    arg: float | None
    op: str
    limit: float
    unit: str
    state: str
    observed: float | None
    requests: int
    n: int
    rank: int | None = None
    below: int | None = None
    at: int | None = None
    beyond: int | None = None
    failures: int | None = None
    successes: int | None = None
    abort_on_fail: bool = False
    delay_abort_eval_s: float = 0.0
    reason: str | None = None
    interval: tuple[float | None, float | None] | None = None
    requests_needed: int | None = None
    estimate: str | None = None
    confidence: float = 0.0
    design_effect: float = 1.0
    seconds_needed: float | None = None
    uncorrected_observed: float | None = None
    chargeable_observed: float | None = None
    generator_bound: bool = False

    @property
    def is_latency(self) -> bool:
        return self.unit == "ms"


@dataclass(frozen=True)
class Goodput:
    """Iterations whose every request succeeded and met every latency limit of its rows (on its
    corrected time); dropped iterations count, as not good. ``share`` is None without iterations."""

    iterations: int = 0
    good: int = 0
    share: float | None = None


@dataclass(frozen=True)
class OpenModelSummary:
    """The open model's run (docs/open-model.md): rates in iterations/s over ``window_s`` (how long
    iterations were dispatched; over workers, their shares of the plan integrated over their
    times); ``late`` started more than ``late_tolerance_ms`` after due;
    ``dropped`` never started. ``corrected``: the thresholds judge corrected latencies.
    ``dispatch_late_max_ms``: the dispatchers' own longest lateness (the load generator's alone,
    never a wait for a free user; 0 in documents written before it)."""

    arrivals: str
    target_rate: float
    achieved_rate: float
    due: int
    started: int
    late: int
    dropped: int
    corrected: bool = True
    goodput: Goodput = field(default_factory=Goodput)
    window_s: float = 0.0
    max_vus: int | None = None
    late_tolerance_ms: float = 0.0
    dispatch_late_max_ms: float = 0.0


@dataclass(frozen=True)
class ProcessHealth:
    """One process that ran users, as it measured itself (``osiris_load.core.slo.generator``): CPU in % of one core
    (per second: p50, p95, max; ``saturated_s`` seconds at or above 90 %), the event loop's lag
    (how late a monitor that asks to wake every 5 ms woke: p50, p99, max in ms), ``stalls`` (wakes
    later than 2 ms beyond the interval) and their total span, the users it ran at most, the
    requests it recorded and their rate, ``bounded_requests`` those whose time overlapped a stall,
    and a coarse ``timeline`` of (seconds since start, CPU %, worst lag ms)."""

    process: str
    users: int = 0
    requests: int = 0
    requests_per_s: float = 0.0
    duration_s: float = 0.0
    cpu_p50: float = 0.0
    cpu_p95: float = 0.0
    cpu_max: float = 0.0
    saturated_s: float = 0.0
    lag_p50_ms: float = 0.0
    lag_p99_ms: float = 0.0
    lag_max_ms: float = 0.0
    stalls: int = 0
    stall_s: float = 0.0
    bounded_requests: int = 0
    timeline: tuple[tuple[float, float, float], ...] = ()


@dataclass(frozen=True)
class LostWorkerInfo:
    """A worker whose final results never arrived; ``missing_estimate`` ``None`` when unknown."""

    worker_id: str
    requests_received: int
    reported: bool
    missing_estimate: int | None
    why: str = "no heartbeat"


@dataclass(frozen=True)
class RequestTally:
    """Every request the gate saw, once: judged by a row, or recorded but judged by none, or left
    unrecorded (past the key cap and named by no row); ``invalid`` had NaN or negative times."""

    recorded: int = 0
    judged: int = 0
    unjudged: tuple[tuple[str, str, int], ...] = ()  # (method, name, count), recorded, no row names them
    unrecorded: int = 0
    unrecorded_keys: tuple[tuple[str, str], ...] = ()
    invalid: int = 0


@dataclass(frozen=True)
class UserExceptions:
    """Unhandled exceptions in user code (a locustfile bug): how many, and the first one's line."""

    count: int = 0
    first: str = ""


@dataclass(frozen=True)
class Verdict:
    """The gate's answer. ``reasons`` says why it failed (empty when it passed); ``notes`` what a
    reader should know even when it passed. ``exit_code`` is the process's, set at the end."""

    table: str
    thresholds: tuple[ThresholdResult, ...]
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    tally: RequestTally = field(default_factory=RequestTally)
    rows_left_out: tuple[str, ...] = ()
    lost_workers: tuple[LostWorkerInfo, ...] = ()
    aborted_by: tuple[str, ...] = ()
    exceptions: UserExceptions = field(default_factory=UserExceptions)
    strict: bool = False
    exit_code: int | None = None
    confidence: float = 0.0
    policy: str = "estimate"
    looks: int = 0
    open_model: OpenModelSummary | None = None
    generator: tuple[ProcessHealth, ...] = ()

    @property
    def state(self) -> str:
        """The run's state, whatever the exit policy: FAIL if any threshold fails with confidence or
        the run failed for a reason of its own (no data, lost worker, abort...), else INCONCLUSIVE
        if any threshold is, else PASS."""
        own = {t.reason for t in self.thresholds if t.reason is not None}
        if any(t.state == FAIL for t in self.thresholds) or any(r not in own for r in self.reasons):
            return FAIL
        return INCONCLUSIVE if any(t.state == INCONCLUSIVE for t in self.thresholds) else PASS

    @property
    def passed(self) -> bool:
        """Whether the exit code passes the SLOs: ``reasons`` holds every failure that counts under
        the exit policy (``policy``), so this is independent of how INCONCLUSIVE is shown."""
        return not self.reasons

    @property
    def inconclusive_exit(self) -> bool:
        """``--slo-inconclusive fail`` and an INCONCLUSIVE run: exit ``EXIT_INCONCLUSIVE`` (``core.exit_codes``)."""
        return self.passed and self.policy == "fail" and self.state == INCONCLUSIVE

    def count(self, state: str) -> int:
        return sum(1 for t in self.thresholds if t.state == state)

    def with_exit_code(self, code: int) -> Verdict:
        return replace(self, exit_code=code)


def choose_exit_code(*, slo_failed: bool, preset: int | None, user_exceptions: int, unhandled: bool,
                     code_on_error: int, inconclusive: bool = False) -> int:
    """The process's exit code; the gate never lowers one. Precedence: bad configuration (2, the
    gate exits before a test) > SLO failed (99) > INCONCLUSIVE under ``--slo-inconclusive fail``
    (98) > Locust's own codes (a code another plugin set, ``--exit-code-on-error`` for exceptions
    in user code, 2 for an unhandled error in Locust or a plugin) > 0. Failed *requests* do not
    count here: the SLO table judges them."""
    if slo_failed:
        return EXIT_SLO_FAILED
    if inconclusive:
        return EXIT_INCONCLUSIVE
    if preset is not None:
        return preset
    if user_exceptions:
        return code_on_error
    if unhandled:
        return EXIT_LOCUST_ERROR
    return EXIT_OK


# -- JSON ---------------------------------------------------------------------------------------------

def to_json(verdict: Verdict) -> str:
    """The documented JSON document (``PREFIX_slo.json``)."""
    doc: dict[str, Any] = {"schema": SCHEMA, "version": VERSION, "state": verdict.state}
    body = asdict(verdict)
    body["thresholds"] = [{**asdict(t), "patterns": list(t.patterns),
                           "interval": list(t.interval) if t.interval is not None else None}
                          for t in verdict.thresholds]
    body["generator"] = [health_to_dict(h) for h in verdict.generator]
    doc.update(body)
    return json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def health_to_dict(health: ProcessHealth) -> dict[str, Any]:
    """One process's generator health as JSON data (the timeline's points as lists)."""
    return {**asdict(health), "timeline": [list(p) for p in health.timeline]}


def from_json(text: str, source: str = "<verdict>") -> Verdict:
    """Read what :func:`to_json` wrote; :class:`VerdictFormatError` names what is wrong."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VerdictFormatError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise VerdictFormatError(f"{source}: not an SLO verdict (schema {SCHEMA!r} expected)")
    if doc.get("version") not in READABLE_VERSIONS:
        raise VerdictFormatError(f"{source}: verdict version {doc.get('version')!r}, this osiris-load reads "
                                 f"{', '.join(map(str, READABLE_VERSIONS[:-1]))} and {READABLE_VERSIONS[-1]}")
    try:
        thresholds = tuple(_threshold(t) for t in doc["thresholds"])
        tally_doc = doc["tally"]
        tally = RequestTally(
            recorded=int(tally_doc["recorded"]), judged=int(tally_doc["judged"]),
            unjudged=tuple((str(m), str(n), int(c)) for m, n, c in tally_doc["unjudged"]),
            unrecorded=int(tally_doc["unrecorded"]),
            unrecorded_keys=tuple((str(m), str(n)) for m, n in tally_doc["unrecorded_keys"]),
            invalid=int(tally_doc["invalid"]))
        verdict = Verdict(
            table=str(doc["table"]), thresholds=thresholds, reasons=tuple(map(str, doc["reasons"])),
            notes=tuple(map(str, doc["notes"])), tally=tally, rows_left_out=tuple(map(str, doc["rows_left_out"])),
            lost_workers=tuple(LostWorkerInfo(**w) for w in doc["lost_workers"]),
            aborted_by=tuple(map(str, doc["aborted_by"])), exceptions=UserExceptions(**doc["exceptions"]),
            strict=bool(doc["strict"]), exit_code=doc["exit_code"], confidence=float(doc.get("confidence", 0.0)),
            policy=str(doc.get("policy", "estimate")), looks=int(doc.get("looks", 0)),
            open_model=_open_model(doc.get("open_model")),
            generator=tuple(ProcessHealth(**{**h, "timeline": tuple(tuple(p) for p in h.get("timeline", ()))})
                            for h in doc.get("generator", ())))
    except (KeyError, TypeError, ValueError) as exc:
        raise VerdictFormatError(f"{source}: malformed verdict: {type(exc).__name__}: {exc}") from None
    if doc.get("state") != verdict.state:
        raise VerdictFormatError(f"{source}: state {doc.get('state')!r} does not match its reasons")
    return verdict


_THRESHOLD_FIELDS = {f.name for f in fields(ThresholdResult)}


def _open_model(doc: Any) -> OpenModelSummary | None:
    if doc is None:
        return None
    values = dict(doc)
    goodput = values.pop("goodput", None) or {}
    share = goodput.get("share")
    return OpenModelSummary(**{**values, "goodput": Goodput(iterations=int(goodput.get("iterations", 0)),
                                                           good=int(goodput.get("good", 0)),
                                                           share=None if share is None else float(share))})


def _threshold(doc: dict[str, Any]) -> ThresholdResult:
    unknown = set(doc) - _THRESHOLD_FIELDS
    if unknown:
        raise ValueError(f"unknown threshold fields {sorted(unknown)}")
    if doc["state"] not in STATES or doc.get("estimate") not in (*STATES, None):
        raise ValueError(f"unknown state {doc['state']!r} or estimate {doc.get('estimate')!r}")
    values = dict(doc)
    values["patterns"] = tuple(doc["patterns"])
    values["interval"] = tuple(doc["interval"]) if doc.get("interval") is not None else None
    return ThresholdResult(**values)


# -- CSV export ---------------------------------------------------------------------------------------

def csv_rows(verdict: Verdict) -> list[dict[str, Any]]:
    """``PREFIX_slo.csv``: one row per threshold (:data:`CSV_FIELDS`), then an ``OVERALL`` row whose
    ``requests`` is the number of requests judged (each once) and whose ``reason`` is the first
    reason; in an open-model run (version 3) an ``OPEN_MODEL`` row last: ``requests`` the iterations
    started, ``n`` those due, ``beyond`` those dropped, ``observed`` the achieved and ``limit`` the
    target rate (iterations/s, ``unit`` ``iterations/s``), ``reason`` every field of the verdict's
    ``open_model`` as ``key=value``. An export for spreadsheets; reports read the JSON."""
    def cell(value: Any) -> Any:
        return "" if value is None else repr(value) if isinstance(value, float) else value

    rows = [{"row": t.row, "requests": " | ".join(t.patterns), "expression": t.expression, "state": t.state,
             "estimate": cell(t.estimate), "observed": cell(t.observed), "unit": t.unit, "limit": repr(t.limit),
             "n": t.n, "beyond": cell(t.beyond),
             "interval_low": cell(t.interval[0] if t.interval else None),
             "interval_high": cell(t.interval[1] if t.interval else None),
             "confidence": cell(t.confidence or None), "design_effect": cell(t.design_effect if t.interval else None),
             "requests_needed": cell(t.requests_needed), "seconds_needed": cell(t.seconds_needed),
             "reason": t.reason or "", "uncorrected_observed": cell(t.uncorrected_observed),
             "chargeable_observed": cell(t.chargeable_observed), "generator_bound": t.generator_bound or ""}
            for t in verdict.thresholds]
    overall = dict.fromkeys(CSV_FIELDS, "")
    overall.update({"row": "OVERALL", "requests": verdict.tally.judged, "state": verdict.state,
                    "n": verdict.tally.judged, "confidence": cell(verdict.confidence or None),
                    "reason": " | ".join(verdict.reasons)})
    rows.append(overall)
    model = verdict.open_model
    if model is not None:
        row = dict.fromkeys(CSV_FIELDS, "")
        facts = {k: v for k, v in asdict(model).items() if k != "goodput"}
        facts.update({f"goodput_{k}": v for k, v in asdict(model.goodput).items()})
        row.update({"row": "OPEN_MODEL", "requests": model.started, "n": model.due, "beyond": model.dropped,
                    "observed": cell(model.achieved_rate), "limit": cell(model.target_rate), "unit": "iterations/s",
                    "reason": " ".join(f"{k}={cell(v) if v is not None else 'null'}" for k, v in facts.items())})
        rows.append(row)
    return rows


def to_csv(verdict: Verdict) -> str:
    """``PREFIX_slo.csv``'s text (:func:`csv_rows`)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(verdict))
    return out.getvalue()
