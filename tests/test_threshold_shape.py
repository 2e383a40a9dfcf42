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
from pydantic import BaseModel

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
