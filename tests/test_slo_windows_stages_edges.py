"""Window marks (osiris_load/core/slo/windows.py) and the stages notation's messages
(osiris_load/core/openmodel/stages.py) at their
edges, pure: the window sizes accepted, which observations mark a boundary, and the exact texts
of the stages refusals (their default example)."""

from __future__ import annotations

import pytest

from osiris_load.core.openmodel.stages import StagesError, parse_duration, parse_stages
from osiris_load.core.slo.verdict import ThresholdResult, Verdict
from osiris_load.core.slo.windows import WindowMarks


def _verdict(n: int, failures: int) -> Verdict:
    rate = ThresholdResult(row="r", patterns=("GET /a",), expression="rate>0.9", kind="rate", arg=None, op=">",
                           limit=0.9, unit="ratio", state="PASS", observed=1 - failures / n, requests=n, n=n,
                           failures=failures, successes=n - failures)
    count = ThresholdResult(row="r", patterns=("GET /a",), expression="count>1", kind="count", arg=None, op=">",
                            limit=1.0, unit="requests", state="PASS", observed=float(n), requests=n, n=n)
    return Verdict(table="t", thresholds=(rate, count))


@pytest.mark.parametrize("window_s", [0, 1, 1.5, 5])
def test_windows_of_0_or_at_least_a_second_are_accepted(window_s: float) -> None:
    marks = WindowMarks(window_s)
    assert (marks.window_s, marks.marks) == (float(window_s), {})


def test_a_boundary_is_marked_once_a_whole_window_has_passed() -> None:
    marks = WindowMarks(5)
    for now, (n, failures) in ((100.0, (10, 1)), (105.0, (20, 2)), (107.0, (30, 3)), (110.0, (40, 4)),
                               (114.9, (50, 5))):
        marks.observe(_verdict(n, failures), now)
    # 100 starts the first window; 105 and 110 close one each; 107 and 114.9 are inside a window
    assert marks.marks == {("r", "rate>0.9"): [(20, 2.0), (40, 4.0)]}


def test_window_0_marks_nothing() -> None:
    marks = WindowMarks(0)
    marks.observe(_verdict(10, 1), 0.0)
    marks.observe(_verdict(20, 2), 100.0)
    assert marks.marks == {}


@pytest.mark.parametrize(("text", "message"), [
    ("", "no stages given (expected e.g. 10s:5,30s:5,5s:0)"),
    ("10s", "stage 1 '10s': expected <duration>:<target>, e.g. 10s:5"),
    ("10s:5, :3", "stage 2 ':3': empty duration"),
])
def test_stages_refusals(text: str, message: str) -> None:
    with pytest.raises(StagesError) as caught:
        parse_stages(text)
    assert str(caught.value) == message


def test_an_empty_duration() -> None:
    with pytest.raises(StagesError) as caught:
        parse_duration("  ")
    assert str(caught.value) == "empty duration"


def test_a_reporting_worker_that_quit_says_why() -> None:
    from osiris_load.core.slo.workers import REPORT_INTERVAL_S, WorkerLedger

    ledger = WorkerLedger()
    for tick in range(4):  # 30 requests per report interval each
        ledger.reported("w1", 30, tick * REPORT_INTERVAL_S)
        ledger.reported("w2", 30, tick * REPORT_INTERVAL_S)
    ledger.mark_gone("w1", "quit", 3 * REPORT_INTERVAL_S + 1.0)
    [lost] = ledger.lost(started_at=-REPORT_INTERVAL_S)
    assert (lost.worker_id, lost.requests_received, lost.reported, lost.why) == ("w1", 120, True, "quit")
