"""The one schema of a capacity search: each probe's result and ``capacity.json``.

Versioned (``schema``/``version`` at the top of the document, as the verdict's ``PREFIX_slo.json``),
validated on read (``CapacityReport.from_json``), documented field by field in ``docs/capacity.md``.
Pydantic models, so that the search, the HTML renderer and any reader share this one copy. A probe's
threshold is the verdict's own shape (``ThresholdResult``) cut to the fields ``capacity.json`` keeps,
its goodput the verdict's ``Goodput``: what the gate decided is copied, never defined twice.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from osiris_load.core.slo.verdict import Goodput, ProcessHealth, ThresholdResult

__all__ = ["SCHEMA", "VERSION", "CapacityReport", "CrossingEstimate", "GeneratorProcess", "Goodput",
           "LimitingThreshold", "ProbeResult",
           "ProbeThreshold", "Outcome", "RatePoint", "Role", "Settlement", "StoppedBecause"]

SCHEMA = "osiris-load/capacity"
VERSION = 1

State = Literal["PASS", "FAIL", "INCONCLUSIVE", "NO_DATA"]
Outcome = Literal["capacity_found", "fails_at_min_rate", "passes_at_highest_rate", "generator_bound", "interrupted"]
"""``capacity_found``: a passing and a failing rate bracket the answer; ``fails_at_min_rate``: not
even ``--min-rate`` passes; ``passes_at_highest_rate``: every rate probed passed (up to ``--max-rate``,
or up to where the budget ran out: ``stopped_because`` says which); ``generator_bound``: the load
generator was the bottleneck at ``generator_bound_rate`` (a threshold of that probe was generator-bound),
so that rate says nothing about the server and the answer is a lower bound; ``interrupted``: a stop
signal cut the search short (``interrupted_by``), the bracket and probes are those it had."""
StoppedBecause = Literal["precision", "budget", "min_rate", "max_rate", "generator", "interrupted"]
Role = Literal["bracket", "confirm"]
"""``bracket``: a probe of the bracketing and bisection, as long as the thresholds that can settle at
its rate need; ``confirm``: one probe at the candidate answer, as long as *every* threshold needs."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _fields_of(source: type, names: tuple[str, ...], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Pydantic field definitions of these fields of the verdict's dataclass ``source``, with its types
    (a ``state`` is one of :data:`State`: validated on read); a field in ``defaults`` may be missing
    from a ``capacity.json`` (a ``None`` default makes it optional), the others are required."""
    hints = {**typing.get_type_hints(source), "state": State}
    defaults = defaults or {}
    return {name: ((hints[name] | None) if name in defaults and defaults[name] is None else hints[name],
                   defaults.get(name, ...)) for name in names}


PROBE_THRESHOLD_FIELDS = ("row", "expression", "unit", "limit", "state", "observed", "interval",
                          "uncorrected_observed", "op")
"""The fields of the verdict's ``ThresholdResult`` that ``capacity.json`` keeps per probe threshold."""


class _ProbeThreshold(_Frozen):
    """What :data:`ProbeThreshold` adds to its fields: how it is copied from the verdict."""

    @classmethod
    def of(cls, result: ThresholdResult) -> ProbeThreshold:
        """The probe's copy of one threshold of its verdict (never re-judged)."""
        percentile = result.arg if result.kind == "p" else 50.0 if result.kind == "med" else None
        return cls(**{name: getattr(result, name) for name in PROBE_THRESHOLD_FIELDS}, percentile=percentile)


# NO_DATA's observed is None; op came later (older capacity.json files lack it)
_PROBE_FIELDS = _fields_of(ThresholdResult, PROBE_THRESHOLD_FIELDS,
                           dict.fromkeys(("observed", "interval", "uncorrected_observed", "op")))
ProbeThreshold = create_model(
    "ProbeThreshold", __base__=_ProbeThreshold, __module__=__name__,
    __doc__="One threshold of one probe, as the gate judged it: the verdict's ``ThresholdResult`` cut to "
            "``PROBE_THRESHOLD_FIELDS``, and ``percentile`` (copied from the verdict, never re-judged).",
    **{name: _PROBE_FIELDS[name] for name in PROBE_THRESHOLD_FIELDS[:-1]},  # capacity.json's order: op last
    percentile=(float | None, Field(default=None, description="q of p(q)/med thresholds, else None")),
    op=_PROBE_FIELDS["op"])

GENERATOR_FIELDS = ("process", "cpu_p95", "cpu_max", "saturated_s", "lag_p99_ms", "lag_max_ms", "users")
"""The fields of the verdict's ``ProcessHealth`` that ``capacity.json`` keeps of a probe's worst process."""


class _GeneratorProcess(_Frozen):
    """What :data:`GeneratorProcess` adds to its fields: how it is copied from the verdict."""

    @classmethod
    def of(cls, health: ProcessHealth) -> GeneratorProcess:
        return cls(**{name: getattr(health, name) for name in GENERATOR_FIELDS})


GeneratorProcess = create_model(
    "GeneratorProcess", __base__=_GeneratorProcess, __module__=__name__,
    __doc__="The probe's load-generator process whose own delays were worst (``core.slo.generator.worst_process``), "
            "its verdict's ``ProcessHealth`` cut to ``GENERATOR_FIELDS``.",
    **_fields_of(ProcessHealth, GENERATOR_FIELDS, {"users": 0}))


class ProbeResult(_Frozen):
    """One probe: a run at ``rate`` iterations/s for ``duration_s``; ``elapsed_s`` is what it cost
    the budget (start-up and the final judgement included). ``state`` is the run's confident state;
    ``counted_as`` what the search made of it (INCONCLUSIVE and NO_DATA count as ``fail``; a probe with
    a generator-bound threshold counts as ``generator``: no evidence about the server at its rate)."""

    rate: float
    duration_s: float
    elapsed_s: float
    state: State
    counted_as: Literal["pass", "fail", "generator"] | None = None
    attempt: int = 1
    thresholds: tuple[ProbeThreshold, ...] = ()
    achieved_rate: float | None = None
    late: int | None = None
    dropped: int | None = None
    goodput: Goodput | None = None  # the verdict's open_model.goodput
    exit_code: int | None = None
    confidence: float | None = Field(default=None, description="the level of the gate's intervals (0: off)")
    files: str | None = Field(default=None, description="the probe's --csv prefix, relative to the out folder")
    planned_duration_s: float | None = Field(
        default=None, description="how long the table needs at this rate before it could PASS (uncapped); "
                                  "None without a plan")
    role: Role = "bracket"
    deferred: tuple[str, ...] = Field(
        default=(), description="'row expression' of each threshold left INCONCLUSIVE because this probe was "
                                "too short for it to settle at this rate (checked not to FAIL, settled by the "
                                "confirmation probe)")
    generator_bound: tuple[str, ...] = Field(
        default=(), description="'row expression' of each threshold the gate found generator-bound: it fails "
                                "on the measured times but not on what the server can be charged with")
    generator: GeneratorProcess | None = Field(
        default=None, description="the process whose own delays were worst (None: the verdict had no generator "
                                  "section)")
    dispatch_late_max_ms: float | None = Field(
        default=None, description="the open model's dispatchers' own longest lateness (the verdict's "
                                  "open_model.dispatch_late_max_ms: the load generator's delay alone); None "
                                  "without an open-model block")
    disturbed: tuple[str, ...] = Field(
        default=(), description="'row expression' of each latency threshold whose FAIL the load generator's "
                                "longest stall could explain (its interval less the stall is not beyond the "
                                "limit: a queue the stall's late burst built); set on a probe the search reran "
                                "once at the same rate and duration (core.capacity.search.generator_disturbed)")

    @property
    def passed(self) -> bool:
        return self.state == "PASS"


LimitingThreshold = create_model(
    "LimitingThreshold", __base__=_Frozen, __module__=__name__,
    __doc__="The threshold that failed at the lowest failing rate: the verdict's ``ThresholdResult`` cut to "
            "what was observed against which limit, and the ``rate``.",
    **_fields_of(ThresholdResult, ("row", "expression", "state", "observed", "unit", "limit")), rate=(float, ...))


class Settlement(_Frozen):
    """How one threshold was settled at the answer (``rate``): by which probe (``probe``, 1-based in
    ``probes``; its ``role``), in which ``state``; ``probe`` None and ``state`` INCONCLUSIVE when no
    probe at the answer settled it (the budget could not hold the confirmation probe)."""

    row: str
    expression: str
    state: State
    rate: float
    probe: int | None = None
    role: Role | None = None
    requests_needed: int | None = Field(default=None, description="the fewest requests that could PASS "
                                                                  "(core.capacity.plan); None without a plan")


class RatePoint(_Frozen):
    """An observed value at a rate."""

    rate: float
    observed: float


class CrossingEstimate(_Frozen):
    """Where one percentile threshold's observed value crosses its limit, *estimated* by a straight
    line between the highest rate within the limit (``within``) and the lowest one beyond it
    (``beyond``, above it): no interval, not a confident answer (``osiris_load.core.capacity.estimate``). ``rate``
    is None when the probes do not straddle the limit (``within`` or ``beyond`` missing)."""

    row: str
    expression: str
    unit: str
    limit: float
    rate: float | None
    within: RatePoint | None = None
    beyond: RatePoint | None = None


class CapacityReport(_Frozen):
    """``capacity.json``: the answer, how it was reached, and every probe."""

    schema_: Literal["osiris-load/capacity"] = Field(default=SCHEMA, alias="schema")
    version: Literal[1] = VERSION
    scenario: str
    url: str | None = None
    outcome: Outcome
    max_rate: float | None = Field(description="highest rate that passed with confidence; None if none did "
                                                      "or the search was interrupted (the bracket has what it had)")
    bracket: tuple[float | None, float | None]
    limiting_threshold: LimitingThreshold | None = None
    stopped_because: StoppedBecause
    precision: float
    budget_s: float
    spent_s: float
    min_rate: float
    max_rate_allowed: float
    probe_duration_s: float
    max_probe_duration_s: float
    confidence: float | None = None
    arrivals: str | None = None
    interrupted_by: str | None = Field(default=None, description="the stop signal's name (SIGINT, SIGTERM, SIGHUP) "
                                                                 "when the outcome is interrupted")
    probes: tuple[ProbeResult, ...] = ()
    estimates: tuple[CrossingEstimate, ...] = Field(
        default=(), description="per percentile threshold, the rate where its observed value crosses the limit, "
                                "interpolated between probes: an estimate beside max_rate, never the answer")
    notes: tuple[str, ...] = Field(default=(), description="thresholds that the probe-duration cap keeps from "
                                                          "passing at --min-rate, said before the first probe")
    confirmed: bool | None = Field(
        default=None, description="True: every threshold PASSED with confidence at max_rate; False: the "
                                  "thresholds a bracketing probe can settle did, the others were not shown to "
                                  "FAIL but not settled (settlement says which; to_settle_s what would); None "
                                  "without a max_rate")
    settlement: tuple[Settlement, ...] = Field(default=(), description="each threshold at max_rate: how and where "
                                                                      "it was settled")
    to_settle_s: float | None = Field(
        default=None, description="when not confirmed: how much more budget the confirmation probe at max_rate "
                                  "would need (its planned duration and a probe's start-up, less what was left)")
    generator_bound_rate: float | None = Field(
        default=None, description="the lowest rate at which the load generator was the bottleneck (with outcome "
                                  "generator_bound, what stopped the answer); None when it never was")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CapacityReport:
        return cls.model_validate_json(text)
