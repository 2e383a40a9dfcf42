"""The worker ledger: which workers were lost and how many of their results may be missing."""

from osiris_load.core.slo.formatting import describe_lost
from osiris_load.core.slo.workers import DETECTION_S, REPORT_INTERVAL_S, WorkerLedger


def ledger_with_two_workers() -> WorkerLedger:
    ledger = WorkerLedger()
    for tick in range(4):  # 30 requests per 3 s report -> 10 req/s each
        ledger.reported("w1", 30, tick * REPORT_INTERVAL_S)
        ledger.reported("w2", 30, tick * REPORT_INTERVAL_S)
    return ledger


def test_a_lost_worker_misses_at_most_one_report_interval() -> None:
    ledger = ledger_with_two_workers()
    assert ledger.mark_missing("w1", 9.0 + 2.0) is True
    assert ledger.mark_missing("w1", 20.0) is False  # said once
    [lost] = ledger.lost(started_at=-3.0)
    assert lost.worker_id == "w1" and lost.requests_received == 120 and lost.reported
    assert lost.missing_estimate == 20  # 10 req/s x 2 s of silence
    assert describe_lost(lost).startswith("w1 (no heartbeat)") and "about 20 more may be missing" in describe_lost(lost)


def test_detection_delay_does_not_inflate_the_estimate() -> None:
    ledger = ledger_with_two_workers()
    ledger.mark_missing("w1", 9.0 + 7.0)  # found missing long after its last report
    assert ledger.lost(started_at=-3.0)[0].missing_estimate == 30  # one interval, not 7 s worth


def test_worker_lost_before_reporting_is_estimated_from_its_peers() -> None:
    ledger = ledger_with_two_workers()
    ledger.mark_missing("ghost", 0.0 + DETECTION_S + 2.0)  # alive ~2 s after the start
    [lost] = ledger.lost(started_at=0.0)
    assert not lost.reported and lost.requests_received == 0 and lost.missing_estimate == 20
    assert "never reported" in describe_lost(lost) and "about 20 more may be missing" in describe_lost(lost)


def test_no_peers_means_no_estimate_and_reset_forgets() -> None:
    ledger = WorkerLedger()
    ledger.mark_missing("ghost", 5.0)
    [lost] = ledger.lost(started_at=0.0)
    assert lost.missing_estimate is None and "count unknown" in describe_lost(lost)
    ledger.reset()
    assert ledger.lost(started_at=0.0) == ()


def test_a_worker_that_comes_back_is_not_lost() -> None:
    """Row 7: marked missing under CPU starvation, it reports again: its reports count, it is not lost."""
    ledger = ledger_with_two_workers()
    assert ledger.mark_missing("w1", 12.0)
    assert [w.worker_id for w in ledger.lost(started_at=-3.0)] == ["w1"]
    ledger.reported("w1", 30, 13.0)
    assert ledger.lost(started_at=-3.0) == ()
    assert ledger.mark_missing("w1", 20.0)  # it may go missing again, and is said again


def test_final_results_settle_a_worker_and_silence_loses_it() -> None:
    """Row 2: a worker is pending until its final report; one gone without it is lost."""
    ledger = ledger_with_two_workers()
    ledger.connected("w3")
    assert sorted(ledger.pending()) == ["w1", "w2", "w3"]
    ledger.reported("w1", 5, 12.0, final=True)
    assert not ledger.mark_missing("w1", 20.0)  # delivered: never lost afterwards
    ledger.mark_gone("w3", "no final results within 13 s", 25.0)
    assert ledger.pending() == ["w2"]
    [lost] = ledger.lost(started_at=0.0)
    assert lost.worker_id == "w3" and lost.why == "no final results within 13 s" and not lost.reported
