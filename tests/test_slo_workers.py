"""The worker ledger: which workers were lost and how many of their results may be missing."""

from slo.workers import DETECTION_S, REPORT_INTERVAL_S, WorkerLedger


def ledger_with_two_workers() -> WorkerLedger:
    ledger = WorkerLedger()
    for tick in range(4):  # 30 requests per 3 s report -> 10 req/s each
        ledger.reported("w1", 30, tick * REPORT_INTERVAL_S)
        ledger.reported("w2", 30, tick * REPORT_INTERVAL_S)
    return ledger


def test_a_lost_worker_misses_at_most_one_report_interval() -> None:
    ledger = ledger_with_two_workers()
    assert ledger.mark_lost("w1", 9.0 + 2.0) is True
    assert ledger.mark_lost("w1", 20.0) is False  # said once
    [lost] = ledger.lost(started_at=-3.0)
    assert lost.worker_id == "w1" and lost.requests_received == 120 and lost.reported
    assert lost.missing_estimate == 20  # 10 req/s x 2 s of silence
    assert "lost worker w1" in lost.describe() and "about 20 more may be missing" in lost.describe()


def test_detection_delay_does_not_inflate_the_estimate() -> None:
    ledger = ledger_with_two_workers()
    ledger.mark_lost("w1", 9.0 + 7.0)  # found missing long after its last report
    assert ledger.lost(started_at=-3.0)[0].missing_estimate == 30  # one interval, not 7 s worth


def test_worker_lost_before_reporting_is_estimated_from_its_peers() -> None:
    ledger = ledger_with_two_workers()
    ledger.mark_lost("ghost", 0.0 + DETECTION_S + 2.0)  # alive ~2 s after the start
    [lost] = ledger.lost(started_at=0.0)
    assert not lost.reported and lost.requests_received == 0 and lost.missing_estimate == 20
    assert "never reported" in lost.describe() and "about 20 more may be missing" in lost.describe()


def test_no_peers_means_no_estimate_and_reset_forgets() -> None:
    ledger = WorkerLedger()
    ledger.mark_lost("ghost", 5.0)
    [lost] = ledger.lost(started_at=0.0)
    assert lost.missing_estimate is None and "count unknown" in lost.describe()
    ledger.reset()
    assert ledger.lost(started_at=0.0) == []
