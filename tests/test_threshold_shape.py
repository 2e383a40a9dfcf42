"""One threshold-result shape (issue 19): the verdict's ``ThresholdResult`` is what every view renders.

The report renders it as it is; ``capacity.json`` keeps a cut of it (``ProbeThreshold``,
``LimitingThreshold``) whose fields are the verdict's own, by name and type, and a probe's goodput and
worst process are the verdict's ``Goodput`` and ``ProcessHealth`` fields. Pure: a gate's verdict on a
real recorder, milliseconds.
"""

from __future__ import annotations

import typing
from dataclasses import fields

import pytest
from pydantic import BaseModel, ValidationError

from osiris_load.core.capacity import model as capacity
from osiris_load.core.report.model import Gate
from osiris_load.core.slo import verdict as v
from osiris_load.core.slo.evaluate import evaluate, plan_for
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, load_table
from osiris_load.jobs.capacity_probe import probe_result


def _types(source: type) -> dict[str, object]:
    return typing.get_type_hints(source)


@pytest.mark.parametrize(("model", "source", "own"), [
    (capacity.ProbeThreshold, v.ThresholdResult, {"percentile"}),
    (capacity.LimitingThreshold, v.ThresholdResult, {"rate"}),
    (capacity.GeneratorProcess, v.ProcessHealth, set()),
])
def test_capacity_models_are_cut_from_the_verdicts_shape(model: type[BaseModel], source: type, own: set[str]) -> None:
    hints = _types(source)
    for name, info in model.model_fields.items():
        if name in own:
            continue
        assert name in hints, f"{model.__name__}.{name} is no field of {source.__name__}"
        if name != "state":  # capacity.json validates the state against the four states
            assert info.annotation in (hints[name], hints[name] | None), (name, info.annotation, hints[name])


def test_goodput_is_defined_once() -> None:
    assert capacity.Goodput is v.Goodput
    assert capacity.ProbeResult.model_fields["goodput"].annotation == v.Goodput | None


def test_a_probe_copies_every_kept_field_of_the_default_tables_verdict() -> None:
    """The user's default table, judged by the real gate: each probe threshold is its verdict's, cut."""
    table = load_table(DEFAULT_TABLE_PATH)
    recorder = RequestRecorder(plan_for(table))
    for _ in range(300):
        recorder.record("GET", "/health", 12.5, False)
        recorder.record("POST", "/generate", 420.0, False)
    verdict = evaluate(table, recorder, confidence=0.95, elapsed_s=30.0)
    assert verdict.thresholds
    probe = probe_result(verdict, rate=10.0, duration_s=30.0, elapsed_s=31.0, attempt=1, files=None, exit_code=0)
    assert len(probe.thresholds) == len(verdict.thresholds)
    for kept, result in zip(probe.thresholds, verdict.thresholds, strict=True):
        assert {name: getattr(kept, name) for name in capacity.PROBE_THRESHOLD_FIELDS} == \
            {name: getattr(result, name) for name in capacity.PROBE_THRESHOLD_FIELDS}
    assert Gate(verdict).thresholds == verdict.thresholds  # the report renders the verdict's own results
    assert {f.name for f in fields(v.ThresholdResult)} >= set(capacity.PROBE_THRESHOLD_FIELDS)


def _verdict_threshold(kind: str, arg: float | None, expression: str) -> v.ThresholdResult:
    return v.ThresholdResult(row="echo", patterns=("GET /echo",), expression=expression, kind=kind, arg=arg, op="<",
                             limit=100.0, unit="ms", state="INCONCLUSIVE", observed=95.5, requests=40, n=38,
                             interval=(80.0, 120.0), uncorrected_observed=90.25)


@pytest.mark.parametrize(("kind", "arg", "expression", "percentile"), [
    ("p", 99.9, "p(99.9)<100", 99.9),  # p(q): its q
    ("med", None, "med<100", 50.0),  # the median is p(50)
    ("avg", None, "avg<100", None),  # no percentile
    ("max", None, "max<100", None),
])
def test_a_probe_threshold_copies_the_verdicts_fields_and_states_its_percentile(
        kind: str, arg: float | None, expression: str, percentile: float | None) -> None:
    kept = capacity.ProbeThreshold.of(_verdict_threshold(kind, arg, expression))
    assert kept.model_dump() == {"row": "echo", "expression": expression, "unit": "ms", "limit": 100.0,
                                 "state": "INCONCLUSIVE", "observed": 95.5, "interval": (80.0, 120.0),
                                 "uncorrected_observed": 90.25, "percentile": percentile, "op": "<"}


def test_a_generator_process_copies_the_verdicts_worst_process() -> None:
    health = v.ProcessHealth(process="worker-1", users=120, requests=5000, cpu_p50=40.0, cpu_p95=91.5, cpu_max=99.0,
                             saturated_s=3.0, lag_p50_ms=1.0, lag_p99_ms=22.5, lag_max_ms=80.0)
    assert capacity.GeneratorProcess.of(health).model_dump() == {
        "process": "worker-1", "cpu_p95": 91.5, "cpu_max": 99.0, "saturated_s": 3.0, "lag_p99_ms": 22.5,
        "lag_max_ms": 80.0, "users": 120}


_KEPT = {"row": "echo", "expression": "p(95)<100", "unit": "ms", "limit": 100.0, "state": "PASS"}
_PROCESS = {"process": "worker-1", "cpu_p95": 50.0, "cpu_max": 60.0, "saturated_s": 0.0, "lag_p99_ms": 2.0,
            "lag_max_ms": 5.0}
_LIMITING = {"row": "echo", "expression": "p(95)<100", "state": "FAIL", "observed": 130.0, "unit": "ms",
             "limit": 100.0, "rate": 4.0}


@pytest.mark.parametrize(("model", "values", "accepted"), [
    # what capacity.json may lack (written before the field, or NO_DATA's missing value) reads as None / 0
    (capacity.ProbeThreshold, _KEPT, True),
    (capacity.ProbeThreshold, {**_KEPT, "observed": None, "interval": None, "uncorrected_observed": None, "op": None},
     True),
    (capacity.GeneratorProcess, _PROCESS, True),
    (capacity.LimitingThreshold, {**_LIMITING, "observed": None}, True),
    # what it may not: a state other than the gate's four, a missing required field, a None where no default is
    (capacity.ProbeThreshold, {**_KEPT, "state": "MAYBE"}, False),
    (capacity.LimitingThreshold, {**_LIMITING, "state": "MAYBE"}, False),
    (capacity.ProbeThreshold, {k: val for k, val in _KEPT.items() if k != "row"}, False),
    (capacity.ProbeThreshold, {**_KEPT, "unit": None}, False),
    (capacity.GeneratorProcess, {**_PROCESS, "users": None}, False),
    (capacity.GeneratorProcess, {k: val for k, val in _PROCESS.items() if k != "cpu_max"}, False),
    (capacity.LimitingThreshold, {k: val for k, val in _LIMITING.items() if k != "observed"}, False),
    (capacity.LimitingThreshold, {k: val for k, val in _LIMITING.items() if k != "unit"}, False),
])
def test_capacity_json_validates_each_kept_field_on_read(model: type[BaseModel], values: dict[str, object],
                                                         accepted: bool) -> None:
    if accepted:
        read = model.model_validate(values)
        assert read.model_dump(include=set(values)) == values
        assert all(value in (None, 0) for name, value in read.model_dump().items() if name not in values)
    else:
        with pytest.raises(ValidationError):
            model.model_validate(values)


def test_capacity_fields_take_the_verdicts_types_and_only_a_none_default_makes_one_optional() -> None:
    """What the capacity models are built from (at import, so checked here on the helper itself):
    each field's type is the verdict's, a ``state`` one of the gate's four, a field with a default
    may be missing (a ``None`` default adds ``None`` to its type), the others are required (``...``)."""
    assert capacity._fields_of(v.ThresholdResult, ("row", "state", "observed", "op", "limit"), {"op": None}) == {
        "row": (str, ...), "state": (capacity.State, ...), "observed": (float | None, ...), "op": (str | None, None),
        "limit": (float, ...)}
    assert capacity._fields_of(v.ProcessHealth, ("process", "users"), {"users": 0}) == {
        "process": (str, ...), "users": (int, 0)}
