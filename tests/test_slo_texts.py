"""Every text the pure gate writes, exactly: the console summary (unicode and ASCII), the CSV export,
the lost-worker lines, and the small rules under them (operators at the limit, the side a shown value
is placed on, typo detection, the worker ledger). Exact on purpose: the mutation test of ``slo/``
(tools/mutation_test.py) counts on these to notice any change of wording or arithmetic."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from osiris_load.core.slo.evaluate import (
    _beyond,
    _close_match,
    _on_decided_side,
    _percentile_holds,
    conclude,
    evaluate,
    plan_for,
)
from osiris_load.core.slo.formatting import describe_lost, format_limit, format_summary, format_value, state_word
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import SloFileError, parse_table
from osiris_load.core.slo.verdict import (
    FAIL,
    NO_DATA,
    PASS,
    Goodput,
    LostWorkerInfo,
    OpenModelSummary,
    RequestTally,
    ThresholdResult,
    UserExceptions,
    Verdict,
    VerdictFormatError,
    csv_rows,
    from_json,
    to_csv,
    to_json,
)
from osiris_load.core.slo.workers import WorkerLedger

TABLE = parse_table('[[row]]\nname = "h"\nrequests = ["GET /h"]\nthresholds = ["rate>=0.999", "p(95)<800"]\n'
                    '[[row]]\nname = "n"\nrequests = ["GET /nothing"]\nthresholds = ["p(99)<1200"]\n', "t.toml")


def _verdict(allow_lost: bool = False) -> Verdict:
    recorder = RequestRecorder(plan_for(TABLE))
    for i in range(200):
        recorder.record("GET", "/h", 800.0 if i % 10 == 0 else 100.0, i < 1)
    recorder.record("GET", "/nothinG", 5.0, False)
    recorder.record("GET", "/x", 5.0, False)
    lost = (LostWorkerInfo("w1", 10, True, 3), LostWorkerInfo("w2", 0, False, None, "gone"))
    return conclude(evaluate(TABLE, recorder, rows_left_out=("z",)), lost_workers=lost, allow_lost=allow_lost,
                    aborted_by=("h: p(95)<800",), bad_reports=2, exceptions=UserExceptions(3, "boom (File x)"))


SUMMARY = """\
SLO thresholds:
             row  threshold     observed      limit  requests
  ✗ FAIL     h    rate>=0.999     99.50%   >= 99.9%       200
  ✗ FAIL     h    p(95)<800    800.00 ms   < 800 ms       200
  ∅ NO DATA  n    p(99)<1200           -  < 1200 ms         0
  not judged (rows this run does not exercise): z
  unjudged: GET /nothinG (1 requests): no SLO row names it
  unjudged: GET /x (1 requests): no SLO row names it
SLO verdict: FAIL (0 passed, 2 failed, 1 no data; 200 requests judged)
  reason: h: rate>=0.999 failed: observed 99.50% (limit >= 99.9%, 200 requests, 1 failed)
  reason: h: p(95)<800 failed: observed 800.00 ms (limit < 800 ms, 200 requests; 20 of 200 timed samples \
beyond the limit, at most 10 may be)
  reason: n: no data: none of GET /nothing ran; did you mean 'GET /nothinG'? (it was requested, and no row \
judges it)
  reason: aborted by h: p(95)<800
  reason: 2 worker reports could not be merged
  reason: lost worker w1 (no heartbeat): 10 of its requests were received; about 3 more may be missing
  reason: lost worker w2 (gone): it never reported; all its requests (count unknown) are missing
  3 unhandled exceptions in user code (first: boom (File x))"""


def test_the_summary_word_for_word() -> None:
    verdict = _verdict()
    assert format_summary(verdict) == SUMMARY
    ascii_text = format_summary(verdict, ascii_only=True)
    assert ascii_text == SUMMARY.replace("✗", "x").replace("∅", "-")
    ascii_text.encode("ascii")


def test_allowed_lost_workers_are_notes_and_a_pass_reads_pass() -> None:
    verdict = _verdict(allow_lost=True)
    assert "  note: lost worker w1 (no heartbeat): 10 of its requests were received; about 3 more may be missing" \
        in format_summary(verdict).splitlines()
    assert not any(r.startswith("lost worker") for r in verdict.reasons)
    recorder = RequestRecorder(plan_for(TABLE))
    recorder.record("GET", "/h", 5.0, False)
    text = format_summary(evaluate(TABLE, recorder))
    assert text.splitlines()[-2:] == ["  note: n: no data: none of GET /nothing ran",
                                     "SLO verdict: PASS (2 passed, 0 failed, 1 no data; 1 requests judged)"]
    assert format_summary(Verdict(table="t", thresholds=())).splitlines()[1] == "  (no thresholds)"


def test_the_csv_export_word_for_word() -> None:
    verdict = _verdict()
    lines = to_csv(verdict).splitlines()
    assert lines[0] == ("row,requests,expression,state,estimate,observed,unit,limit,n,beyond,interval_low,"
                        "interval_high,confidence,design_effect,requests_needed,seconds_needed,reason,uncorrected_observed,"
                        "chargeable_observed,generator_bound")
    assert lines[1] == ('h,GET /h,rate>=0.999,FAIL,FAIL,0.995,ratio,0.999,200,1,,,,,,,"h: rate>=0.999 failed: '
                        'observed 99.50% (limit >= 99.9%, 200 requests, 1 failed)",,,')
    assert lines[3] == "n,GET /nothing,p(99)<1200,NO_DATA,,,ms,1200.0,0,,,,,,,,,,,"
    assert lines[4].startswith("OVERALL,200,,FAIL,,,,,200,,,,,,,,\"h: rate>=0.999 failed: ")
    assert " | aborted by h: p(95)<800 | 2 worker reports could not be merged | " in lines[4]
    rows = csv_rows(verdict)
    assert rows[1]["beyond"] == 20 and rows[1]["observed"] == "800.0" and rows[1]["n"] == 200
    assert rows[2]["reason"] == "" and rows[2]["beyond"] == "" and rows[2]["observed"] == ""
    assert rows[-1]["requests"] == 200 and rows[-1]["state"] == FAIL


def test_the_json_document_field_by_field() -> None:
    verdict = _verdict()
    doc = json.loads(to_json(verdict))
    assert list(doc)[:3] == ["schema", "version", "state"]
    assert doc["tally"] == {"recorded": 202, "judged": 200, "unjudged": [["GET", "/nothinG", 1], ["GET", "/x", 1]],
                            "unrecorded": 0, "unrecorded_keys": [], "invalid": 0}
    assert doc["lost_workers"][1] == {"worker_id": "w2", "requests_received": 0, "reported": False,
                                      "missing_estimate": None, "why": "gone"}
    assert doc["exceptions"] == {"count": 3, "first": "boom (File x)"} and doc["rows_left_out"] == ["z"]
    assert doc["exit_code"] is None and doc["strict"] is False and doc["table"] == "t.toml"
    p95 = doc["thresholds"][1]
    assert {k: p95[k] for k in ("kind", "arg", "op", "limit", "unit", "n", "rank", "below", "at", "beyond")} == {
        "kind": "p", "arg": 95.0, "op": "<", "limit": 800.0, "unit": "ms", "n": 200, "rank": 190, "below": 180,
        "at": 20, "beyond": 20}
    assert from_json(to_json(verdict.with_exit_code(99))).exit_code == 99
    with_interval = Verdict(table="t", thresholds=(ThresholdResult(
        row="r", patterns=("GET /a",), expression="p(95)<1", kind="p", arg=95.0, op="<", limit=1.0, unit="ms",
        state=PASS, observed=0.5, requests=3, n=3, interval=(0.4, 0.6), requests_needed=7),),
        tally=RequestTally(recorded=3, judged=3))
    again = from_json(to_json(with_interval))
    assert again == with_interval and again.thresholds[0].interval == (0.4, 0.6)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["thresholds"][0].update(state="MAYBE"), "unknown state 'MAYBE'"),
    (lambda d: d["thresholds"][0].update(extra=1), "unknown threshold fields \\['extra'\\]"),
    (lambda d: d["tally"].pop("judged"), "malformed verdict: KeyError"),
    (lambda d: d.pop("thresholds"), "malformed verdict: KeyError"),
    (lambda d: d["lost_workers"][0].update(bogus=1), "malformed verdict: TypeError"),
    (lambda d: d.update(schema="other"), "not an SLO verdict"),
    (lambda d: d.update(state="PASS"), "state 'PASS' does not match its reasons"),
])
def test_malformed_verdict_files_say_what_is_wrong(edit, message: str) -> None:  # noqa: ANN001
    doc = json.loads(to_json(_verdict()))
    edit(doc)
    with pytest.raises(VerdictFormatError, match=f"^v.json: .*{message}"):
        from_json(json.dumps(doc), "v.json")
    with pytest.raises(VerdictFormatError, match="^v.json: not JSON \\(Expecting value at line 1\\)$"):
        from_json("", "v.json")
    with pytest.raises(VerdictFormatError,
                       match="^<verdict>: verdict version 5, this osiris-load reads 1, 2, 3 and 4$"):
        from_json(json.dumps({"schema": "osiris-load/slo-verdict", "version": 5}))


def test_values_and_limits_in_their_units() -> None:
    assert format_value("ms", 812.345) == "812.35 ms" and format_value("ms", None) == "-"
    assert format_value("ratio", 0.99899, 0.999) == "99.899%" and format_value("ratio", 0.9985) == "99.85%"
    assert format_value("ms", 799.9999999, 800.0) == "799.9999999 ms"
    assert format_value("ms", 800.0, 800.0) == "800.00 ms" and format_value("requests", 30.0) == "30"
    base = {"row": "r", "patterns": (), "expression": "e", "kind": "p", "arg": 95.0, "state": PASS,
            "observed": 1.0, "requests": 1, "n": 1}
    assert format_limit(ThresholdResult(**base, op="<", limit=800.0, unit="ms")) == "< 800 ms"
    assert format_limit(ThresholdResult(**base, op=">=", limit=0.999, unit="ratio")) == ">= 99.9%"
    assert format_limit(ThresholdResult(**base, op=">", limit=30.0, unit="requests")) == "> 30"
    assert [state_word(s) for s in (PASS, FAIL, NO_DATA)] == ["✓ PASS", "✗ FAIL", "∅ NO DATA"]
    assert describe_lost(LostWorkerInfo("w", 0, False, 12)) == (
        "w (no heartbeat): it never reported; at its peers' rate about 12 more may be missing (all of its requests)")
    assert describe_lost(LostWorkerInfo("w", 5, True, None)) == (
        "w (no heartbeat): 5 of its requests were received; an unknown number more may be missing")


@pytest.mark.parametrize(("op", "below", "at_or_below", "rank", "holds", "beyond"), [
    ("<", 5, 7, 5, True, 5), ("<", 4, 7, 5, False, 6), ("<=", 4, 5, 5, True, 5), ("<=", 4, 4, 5, False, 6),
    (">", 4, 4, 5, True, 4), (">", 4, 5, 5, False, 5), (">=", 4, 9, 5, True, 4), (">=", 5, 9, 5, False, 5),
    ("==", 4, 5, 5, True, None), ("==", 5, 9, 5, False, None), ("==", 3, 4, 5, False, None),
    ("!=", 4, 5, 5, False, None), ("!=", 5, 6, 5, True, None)])
def test_percentile_decisions_from_counts(op: str, below: int, at_or_below: int, rank: int, holds: bool,
                                          beyond: int | None) -> None:
    assert _percentile_holds(op, below, at_or_below, rank) is holds
    assert _beyond(op, 10, below, at_or_below) == beyond


@pytest.mark.parametrize(("estimate", "op", "holds", "below", "want"), [
    (800.2, "<", True, 9, 799.7499995), (799.9, "<", True, 9, 799.9), (799.9, "<", False, 0, 800.25),
    (800.2, "<=", True, 9, 799.75), (800.2, "<=", False, 0, 800.2), (799.9, "<=", False, 0, 800.2500005),
    (799.9, ">", True, 0, 800.2500005), (800.1, ">", False, 9, 799.75), (799.9, ">=", True, 0, 800.25),
    (800.1, ">=", False, 9, 799.7499995), (799.9, "==", True, 0, 800.0), (799.9, "==", False, 9, 799.9),
    (800.1, "==", False, 9, 799.7499995), (799.9, "==", False, 0, 800.2500005), (799.9, "!=", False, 0, 800.0),
    (801.0, "!=", True, 9, 799.7499995)])
def test_a_shown_value_lies_on_the_decided_side(estimate: float, op: str, holds: bool, below: int,
                                                want: float) -> None:
    assert _on_decided_side(estimate, (799.5, 800.5), 800.0, op, holds, below, 5) == pytest.approx(want, abs=1e-9)


def test_typo_detection_needs_a_close_name() -> None:
    row = TABLE.rows[1]  # GET /nothing
    assert _close_match(row, [("GET", "/nothinG"), ("GET", "/x")]) == ("GET", "/nothinG")
    assert _close_match(row, [("GET", "/n"), ("POST", "/nothing/else")]) is None
    assert _close_match(parse_table('[[row]]\nname = "a"\nrequests = ["GET /n"]\nthresholds = ["count>1"]\n').rows[0],
                        [("GET", "/x")]) is None


def test_the_ledger_in_detail() -> None:
    ledger = WorkerLedger()
    ledger.reported("a", 30, 0.0)
    ledger.reported("a", 30, 3.0)
    assert ledger.workers["a"].rate() == pytest.approx(60 / 6.0)
    ledger.connected("b")
    ledger.mark_gone("b", "quit without results", 10.0)
    ledger.mark_gone("b", "again", 11.0)
    [lost] = ledger.lost(started_at=0.0)
    assert (lost.worker_id, lost.why, lost.reported, lost.missing_estimate) == ("b", "quit without results", False,
                                                                               round(10.0 * 7.0))
    assert ledger.missing() == [] and ledger.pending() == ["a"]
    ledger.mark_missing("a", 4.0)
    assert ledger.missing() == ["a"] and ledger.pending() == []
    ledger.back("a")
    assert ledger.missing() == [] and ledger.pending() == ["a"]
    ledger.reported("a", 0, 5.0, final=True)
    assert ledger.pending() == [] and not ledger.workers["a"].lost
    ledger.mark_gone("a", "late", 6.0)
    assert ledger.workers["a"].gone is None  # delivered: never gone
    ledger.reset()
    assert list(ledger.workers) == ["a"] and ledger.workers["a"].requests == 0


def test_row_selection_messages() -> None:
    with pytest.raises(SloFileError, match="^t.toml: no row called 'x', 'nn' \\(did you mean 'n'\\?\\); rows: h, n$"):
        TABLE.select(["x", "nn"])
    table, left_out = TABLE.select(["n", "h"])
    assert [r.name for r in table.rows] == ["h", "n"] and left_out == () and table.source == "t.toml"


def _every_field_verdict() -> Verdict:
    result = ThresholdResult(row="généré", patterns=("GET /a", "GET /b"), expression="p(95)<1", kind="p", arg=95.0,
                             op="<", limit=1.0, unit="ms", state=FAIL, observed=2.5, requests=7, n=6, rank=6, below=1,
                             at=2, beyond=5, failures=1, successes=6, abort_on_fail=True, delay_abort_eval_s=2.5,
                             reason="généré: p(95)<1 failed", interval=(2.0, 3.0), requests_needed=40,
                             estimate=FAIL, confidence=0.95, design_effect=1.5, seconds_needed=12.5,
                             uncorrected_observed=2.0)
    tally = RequestTally(recorded=9, judged=7, unjudged=(("GET", "/u", 1),), unrecorded=5,
                         unrecorded_keys=(("GET", "/k1"), ("POST", "/k2")), invalid=2)
    return Verdict(table="t.toml", thresholds=(result,), reasons=("a; b",), notes=("n",), tally=tally,
                   rows_left_out=("z",), lost_workers=(LostWorkerInfo("w", 1, True, 2, "gone"),),
                   aborted_by=("x",), exceptions=UserExceptions(1, "e"), strict=True, exit_code=99,
                   confidence=0.95, policy="fail", looks=3,
                   open_model=OpenModelSummary(arrivals="constant", target_rate=20.0, achieved_rate=19.5, due=300,
                                               started=295, late=3, dropped=5, corrected=True,
                                               goodput=Goodput(iterations=300, good=290, share=290 / 300),
                                               window_s=15.0, max_vus=80, late_tolerance_ms=10.0,
                                               dispatch_late_max_ms=12.5))


def test_every_field_survives_the_json_round_trip() -> None:
    verdict = _every_field_verdict()
    text = to_json(verdict)
    assert text.startswith('{\n "schema": "osiris-load/slo-verdict",\n "version": 4,\n "state": "FAIL",\n')
    assert text.endswith("\n}\n") and "généré" in text  # indented, UTF-8 as written
    assert from_json(text) == verdict
    doc = json.loads(text)
    assert doc["open_model"]["goodput"] == {"iterations": 300, "good": 290, "share": 290 / 300}
    assert doc["thresholds"][0]["uncorrected_observed"] == 2.0
    closed = json.loads(to_json(replace(verdict, open_model=None)))
    assert closed["open_model"] is None and from_json(json.dumps(closed)).open_model is None
    older = json.loads(text)  # a version 2 file: no open model, no uncorrected values
    older["version"] = 2
    del older["open_model"]
    del older["thresholds"][0]["uncorrected_observed"]
    again = from_json(json.dumps(older))
    assert again.open_model is None and again.thresholds[0].uncorrected_observed is None
    broken = ThresholdResult(**{**verdict.thresholds[0].__dict__, "observed": float("nan")})
    nan = Verdict(table="t", thresholds=(broken,))
    with pytest.raises(ValueError):
        to_json(nan)  # never a NaN in the file: JSON has none


def test_csv_export_joins_patterns_and_uses_plain_newlines() -> None:
    text = to_csv(_every_field_verdict())
    assert "\r" not in text
    assert text.splitlines()[1] == ("généré,GET /a | GET /b,p(95)<1,FAIL,FAIL,2.5,ms,1.0,6,5,2.0,3.0,0.95,1.5,40,12.5,"
                                    "généré: p(95)<1 failed,2.0,,")
    assert text.splitlines()[2] == "OVERALL,7,,FAIL,,,,,7,,,,0.95,,,,a; b,,,"
    assert text.splitlines()[3] == (
        "OPEN_MODEL,295,,,,19.5,iterations/s,20.0,300,5,,,,,,,arrivals=constant target_rate=20.0 achieved_rate=19.5 "
        "due=300 started=295 late=3 dropped=5 corrected=True window_s=15.0 max_vus=80 late_tolerance_ms=10.0 "
        "dispatch_late_max_ms=12.5 goodput_iterations=300 goodput_good=290 goodput_share=0.9666666666666667,,,")


def test_ledger_rates_and_estimates_use_the_right_clock() -> None:
    ledger = WorkerLedger()
    ledger.reported("a", 10, 100.0)
    ledger.reported("a", 20, 106.0)  # 30 requests over 6 s + one interval = 3.33/s
    assert ledger.workers["a"].rate() == pytest.approx(30 / 9.0)
    assert WorkerLedger().workers.get("x") is None
    silent = WorkerLedger()
    silent.reported("s", 0, 100.0)  # reported, but never a request: no rate of its own
    silent.reported("p", 90, 100.0)
    silent.reported("p", 0, 109.0)
    silent.mark_missing("s", 112.0)
    [lost] = silent.lost(started_at=100.0)
    assert (lost.reported, lost.missing_estimate) == (False, round(90 / 12.0 * (112.0 - 3.0 - 100.0)))
    early = WorkerLedger()
    early.reported("a", 30, 100.0)
    early.mark_missing("a", 99.0)  # a clock that says "before its last report": no negative silence
    assert early.lost(started_at=0.0)[0].missing_estimate == 0
    young = WorkerLedger()
    young.reported("p", 30, 100.0)
    young.mark_gone("y", "quit", 101.0)  # gone 1 s after the start: less than the detection delay
    assert young.lost(started_at=100.0)[0].missing_estimate == 0
    assert young.lost(started_at=100.0)[0].why == "quit"
    young.back("nobody")  # an unknown worker coming back is nothing to do
    young.back("y")
    assert young.workers["y"].lost  # gone for good: only a final report settles it


def test_recorder_plan_and_report_sizes() -> None:
    from types import SimpleNamespace

    from osiris_load.core.slo.recorder import RecorderPlan

    plan = RecorderPlan(limits=(800.0, 400.0), rows=(("h", ("GET /h",)),))
    data = plan.to_data()
    assert data == {"limits": [800.0, 400.0], "rows": [["h", ["GET /h"]]], "split": False}
    assert RecorderPlan.from_data(data) == RecorderPlan(limits=(400.0, 800.0), rows=(("h", ("GET /h",)),))
    for bad in ({}, {"limits": [1], "rows": [["h"]]}, {"limits": ["x"], "rows": []}, None):
        with pytest.raises(ValueError, match="^malformed recorder plan: "):
            RecorderPlan.from_data(bad)
    worker = RequestRecorder(plan_for(TABLE), max_keys=1)
    worker.record("GET", "/h", 1.0, False)
    worker.record("GET", "/h", 2.0, False)
    worker.record("GET", "/zz", 2.0, False)  # past the cap, no row: unrecorded
    assert RequestRecorder.requests_in(worker.encode()) == 3
    assert RequestRecorder.requests_in({}) == 0
    stats = worker.pooled([("GET", "/h")])
    with pytest.raises(ValueError, match="^unknown aggregation kind 'zzz'$"):
        stats.value(SimpleNamespace(kind="zzz", arg=None))  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="nope"):
        TABLE.row("nope")


def _report() -> dict:
    worker = RequestRecorder(plan_for(TABLE), max_keys=2)
    worker.record("GET", "/h", 100.0, False)
    worker.record("GET", "/h", None, True)
    worker.record("GET", "/h", float("nan"), False)
    worker.record("GET", "/h", 7_200_000.0, False)
    worker.record("GET", "/nothing", None, False)  # untimed only
    worker.record("GET", "/x1", 1.0, False)  # past the cap, no row: unrecorded
    worker.record("GET", "/x1", 1.0, False)
    worker.record("GET", "/x2", 1.0, False)
    return worker.encode()


def test_a_report_carries_everything_and_merges_into_the_same_numbers() -> None:
    data = _report()
    untimed = next(e for e in data["entries"] if e["name"] == "/nothing")
    assert (untimed["min_ms"], untimed["max_ms"], untimed["timed"], untimed["index"]) == (0.0, 0.0, 0, [])
    assert data["unrecorded"] == 3 and data["unrecorded_keys"] == [["GET", "/x1"], ["GET", "/x2"]]
    master = RequestRecorder(plan_for(TABLE), max_keys=1)
    master.merge_encoded(data)
    master.merge_encoded(json.loads(json.dumps(data)))
    stats = master.stats("GET", "/h")
    assert stats is not None
    assert (stats.count, stats.failures, stats.timed, stats.invalid, stats.beyond_range) == (8, 2, 4, 2, 2)
    assert (stats.min_ms, stats.max_ms) == (100.0, 7_200_000.0)
    assert stats.histogram is not None and stats.histogram.get_total_count() == 4
    assert stats.limit_counts(800.0).below == 2 and stats.limit_counts(800.0).at == 0
    assert master.unrecorded == 6  # the worker's unrecorded, twice
    assert master.pool_count(("n",)) == 2  # past the master's own cap /nothing goes to its row's pool
    assert master.unrecorded_keys == [("GET", "/x1"), ("GET", "/x2")]
    pool = RequestRecorder(plan_for(TABLE), max_keys=1)
    pool.record("GET", "/a", 1.0, False)
    pool.record("GET", "/h", 50.0, False)  # past the cap: row h's pool
    master.merge_encoded(pool.encode())
    assert master.pool_count(("h",)) == 1 and master.pooled([], row="h").max_ms == 50.0


OUT_OF_RANGE = "malformed recorder entry: counts do not add up (index or count out of range)"


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(version=1), "unsupported recorder encoding (version 1, unit 'ns'); expected version 2, "
                                    "unit 'ns': are master and workers running the same osiris-load?"),
    (lambda d: d.update(unit="us"), "unsupported recorder encoding (version 2, unit 'us'); expected version 2, "
                                    "unit 'ns': are master and workers running the same osiris-load?"),
    (lambda d: d.update(limits=["x"]), "malformed recorder limits"),
    (lambda d: d.update(limits=[1.0]), "recorded against limits [1.0] ms, the table's are [800.0, 1200.0] ms"),
    (lambda d: d.update(entries={}), "malformed recorder entries: not a list"),
    (lambda d: d["entries"][0].update(counts=[1, 2, 3]),
     "malformed recorder entry: ValueError('index and counts differ in length')"),
    (lambda d: d["entries"][0].update(index=[-1], counts=[2]), OUT_OF_RANGE),
    (lambda d: d["entries"][0].update(index=[33_792], counts=[2]), OUT_OF_RANGE),
    (lambda d: d["entries"][0].update(counts=[-1, 3]), OUT_OF_RANGE),
    (lambda d: d["entries"][0].update(timed=1), "malformed recorder entry ('GET', '/h'): counts do not add up"),
    (lambda d: d["entries"][0].update(bins=[0, 0, 0, 2]), "malformed recorder entry ('GET', '/h'): counts do not add "
                                                          "up"),
    (lambda d: d["entries"][0].update(equal=[0]), "malformed recorder entry ('GET', '/h'): counts do not add up"),
    (lambda d: d["entries"][0].update(bins=[1, 0, 0]), "malformed recorder entry ('GET', '/h'): counts do not add "
                                                       "up"),
    (lambda d: d["entries"][0].update(count=2), "malformed recorder entry ('GET', '/h'): counts do not add up"),
    (lambda d: d["entries"][1].update(counts=[5], index=[3]), "malformed recorder entry ('GET', '/nothing'): counts "
                                                              "do not add up"),
])
def test_bad_reports_are_refused_whole_with_a_message(edit, message: str) -> None:  # noqa: ANN001
    data = _report()


    edit(data)
    master = RequestRecorder(plan_for(TABLE))
    with pytest.raises(ValueError) as caught:
        master.merge_encoded(data)
    assert str(caught.value) == message
    assert master.total_requests == 0 and master.unrecorded == 0
    with pytest.raises(ValueError, match="^encoded recorder data must be a dict, got list$"):
        master.merge_encoded([])  # type: ignore[arg-type]


def test_an_empty_report_of_another_table_is_harmless() -> None:
    master = RequestRecorder(plan_for(TABLE))
    master.merge_encoded({"version": 2, "unit": "ns", "limits": [], "entries": [], "unrecorded": 0})
    master.merge_encoded({"version": 2, "unit": "ns"})
    assert master.total_requests == 0
    with pytest.raises(ValueError, match="^recorded against limits"):
        master.merge_encoded({"version": 2, "unit": "ns", "limits": [], "unrecorded": 1})


def test_evaluation_notes_and_reasons_word_for_word() -> None:
    recorder = RequestRecorder(plan_for(TABLE), max_keys=2)
    recorder.record("GET", "/h", -1.0, False)
    recorder.record("GET", "/h", 7_200_000.0, False)
    recorder.record("GET", "/z", 1.0, False)
    recorder.record("GET", "/zz", 1.0, False)
    strict = evaluate(TABLE, recorder, strict=True)
    assert strict.strict is True and strict.tally.unrecorded == 1 and strict.tally.unrecorded_keys == (("GET", "/zz"),)
    assert strict.tally.invalid == 1
    assert "h: 1 requests had an invalid response time (NaN or negative): the locustfile reported them; they are in " \
           "no latency figure" in strict.reasons
    assert "n: no data: none of GET /nothing ran (strict mode)" in strict.reasons
    assert ("1 requests were not recorded: more than 2 distinct request names and no SLO row names them "
            "(e.g. GET /zz); give such requests a name= in the locustfile") in strict.reasons
    assert "h: 1 response times above 1 h are shown at 1 h in percentiles (every decision uses the exact values)" \
        in strict.notes
    lenient = evaluate(TABLE, recorder)
    assert lenient.strict is False and "n: no data: none of GET /nothing ran" in lenient.notes
    required = parse_table('[[row]]\nname = "r"\nrequests = ["GET /a", "GET /b"]\nthresholds = ["count>=0"]\n'
                           'required = true\n[[row]]\nname = "s"\nrequests = ["GET /z"]\nthresholds = ["count>=0"]\n')
    verdict = evaluate(required, recorder)
    assert verdict.reasons == ("r: no data: none of GET /a, GET /b ran (a required row)",)


def test_nothing_matched_names_what_was_recorded() -> None:
    for count, tail in ((5, ""), (6, " ...")):
        recorder = RequestRecorder(plan_for(TABLE))
        for i in range(count):
            recorder.record("POST", f"/k{i}", 1.0, False)
        verdict = evaluate(TABLE, recorder)
        shown = ", ".join(f"POST /k{i}" for i in range(5))
        assert verdict.reasons[-1] == f"no request matched any SLO row (recorded: {shown}{tail})"
    two = parse_table('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = ["count>0"]\n'
                      '[[row]]\nname = "b"\nrequests = ["GET /b"]\nthresholds = ["count>0"]\n')
    recorder = RequestRecorder(plan_for(two), max_keys=1)
    recorder.record("GET", "/a", -1.0, False)
    recorder.record("GET", "/b", float("nan"), False)
    recorder.record("GET", "/c", 1.0, False)
    recorder.record("GET", "/d", 1.0, False)
    verdict = conclude(evaluate(two, recorder, strict=True), aborted_by=("a: count>0",))
    assert verdict.tally.invalid == 2 and verdict.aborted_by == ("a: count>0",)
    assert "2 requests were not recorded: more than 1 distinct request names and no SLO row names them (e.g. GET /c, " \
           "GET /d); give such requests a name= in the locustfile" in verdict.reasons
