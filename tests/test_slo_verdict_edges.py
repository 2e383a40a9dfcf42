"""The verdict document's edges (osiris_load/core/slo/verdict.py), pure: the top-level keys written, what an older
version without the confidence fields reads as, an open model without goodput, an unknown estimate
refused with its exact message, and the CSV export's empty cells and nulls."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import pytest

from osiris_load.core.slo.verdict import (
    CSV_FIELDS,
    Goodput,
    OpenModelSummary,
    ProcessHealth,
    ThresholdResult,
    Verdict,
    VerdictFormatError,
    csv_rows,
    from_json,
    to_json,
)

THRESHOLD = ThresholdResult(row="r", patterns=("GET /a",), expression="p(95)<800", kind="p", arg=95.0, op="<",
                            limit=800.0, unit="ms", state="PASS", observed=612.5, requests=40, n=40,
                            interval=(500.0, 700.0), estimate="PASS", confidence=0.95)
MODEL = OpenModelSummary(arrivals="poisson", target_rate=20.0, achieved_rate=19.5, due=300, started=298, late=3,
                         dropped=2, goodput=Goodput(iterations=298, good=290, share=0.5), window_s=15.0)


def _doc(verdict: Verdict) -> dict:
    return json.loads(to_json(verdict))


def test_the_document_has_exactly_the_verdicts_fields() -> None:
    doc = _doc(Verdict(table="t", thresholds=(THRESHOLD,)))
    assert set(doc) == {"schema", "version", "state"} | {f.name for f in fields(Verdict)}
    assert doc["thresholds"][0]["patterns"] == ["GET /a"] and doc["thresholds"][0]["interval"] == [500.0, 700.0]


def test_a_version_1_document_reads_as_without_confidence() -> None:
    doc = _doc(Verdict(table="t", thresholds=(THRESHOLD,), confidence=0.9, policy="fail", looks=3))
    doc["version"] = 1
    for key in ("confidence", "policy", "looks"):
        del doc[key]
    verdict = from_json(json.dumps(doc))
    assert (verdict.confidence, verdict.policy, verdict.looks) == (0.0, "estimate", 0)


@pytest.mark.parametrize(("goodput", "expected"), [
    (None, Goodput(iterations=0, good=0, share=None)),
    ({}, Goodput(iterations=0, good=0, share=None)),
    ({"iterations": 4, "good": 3, "share": None}, Goodput(iterations=4, good=3, share=None)),
])
def test_an_open_model_without_goodput_reads_as_none_good(goodput: dict | None, expected: Goodput) -> None:
    doc = _doc(Verdict(table="t", thresholds=(THRESHOLD,), open_model=MODEL))
    if goodput is None:
        del doc["open_model"]["goodput"]
    else:
        doc["open_model"]["goodput"] = goodput
    model = from_json(json.dumps(doc)).open_model
    assert model is not None and model.goodput == expected


def test_an_unknown_estimate_is_refused() -> None:
    doc = _doc(Verdict(table="t", thresholds=(THRESHOLD,)))
    doc["thresholds"][0]["estimate"] = "MAYBE"
    with pytest.raises(VerdictFormatError) as caught:
        from_json(json.dumps(doc), "x_slo.json")
    assert str(caught.value) == "x_slo.json: malformed verdict: ValueError: unknown state 'PASS' or estimate 'MAYBE'"


def test_csv_rows_leave_cells_empty_and_write_null_for_missing_facts() -> None:
    rows = csv_rows(Verdict(table="t", thresholds=(THRESHOLD,), open_model=MODEL))
    overall, model = rows[-2], rows[-1]
    assert set(overall) == set(model) == set(CSV_FIELDS)
    assert (overall["row"], overall["expression"], overall["unit"], overall["limit"]) == ("OVERALL", "", "", "")
    assert (model["row"], model["expression"], model["interval_low"]) == ("OPEN_MODEL", "", "")
    assert "max_vus=null" in model["reason"] and "goodput_share=0.5" in model["reason"]


def test_a_version_3_document_reads_without_a_generator_section() -> None:
    doc = _doc(Verdict(table="t", thresholds=(THRESHOLD,)))
    doc["version"] = 3
    del doc["generator"]
    assert from_json(json.dumps(doc)).generator == ()


def test_a_process_without_a_timeline_reads_with_none() -> None:
    doc = _doc(Verdict(table="t", thresholds=(THRESHOLD,), generator=(ProcessHealth(process="w1", users=4),)))
    del doc["generator"][0]["timeline"]
    assert from_json(json.dumps(doc)).generator == (ProcessHealth(process="w1", users=4, timeline=()),)


def test_csv_rows_carry_the_chargeable_value() -> None:
    row = csv_rows(Verdict(table="t", thresholds=(replace(THRESHOLD, chargeable_observed=512.25,
                                                          generator_bound=True),)))[0]
    assert (row["chargeable_observed"], row["generator_bound"]) == ("512.25", True)
