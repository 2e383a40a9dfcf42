"""The worker ledger: which workers were lost and how many of their results may be missing."""

from slo.workers import REPORT_INTERVAL_S, WorkerLedger


def test_lost_worker_estimate_follows_its_reporting_rate() -> None:
    ledger = WorkerLedger()
    for tick in range(4):  # 30 requests per 3 s report -> 10 req/s
        ledger.reported("w1", 30, tick * REPORT_INTERVAL_S)
        ledger.reported("w2", 30, tick * REPORT_INTERVAL_S)
    assert ledger.mark_lost("w1", 9.0 + 2.5) is True
    assert ledger.mark_lost("w1", 20.0) is False  # said once
    [lost] = ledger.lost()
    assert lost.worker_id == "w1" and lost.requests_received == 120
    assert lost.silent_s == 2.5 and lost.missing_estimate == 25
    assert "lost worker w1" in lost.describe() and "may be missing" in lost.describe()


def test_worker_lost_before_reporting_and_reset() -> None:
    ledger = WorkerLedger()
    ledger.mark_lost("ghost", 5.0)
    assert [w.requests_received for w in ledger.lost()] == [0]
    ledger.reset()
    assert ledger.lost() == []
